// Bundles the page (src/main.js and its CSS) into dlpk/serve/page/static/ with esbuild, and
// writes the licences of every npm package that ended up in the bundle beside it.
// Run through `npm ci && npm run build` (or `make page`): the bundle is committed. An
// argument names another output folder (the drift test builds there and compares).

import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ? resolve(process.argv[2]) : join(here, "..", "dlpk", "serve", "page", "static");

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ["src/main.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  legalComments: "eof",
  outfile: join(out, "page.js"),
  metafile: true,
  logLevel: "info",
});

const bundled = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const found = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (found) bundled.add(found[1]);
}

const sections = [...bundled].sort().map((name) => {
  const folder = join(here, "node_modules", name);
  const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
  const licence = readdirSync(folder).find((file) => /^(licen[cs]e|copying)/i.test(file));
  const text = licence && existsSync(join(folder, licence))
    ? readFileSync(join(folder, licence), "utf8").trim()
    : `License: ${manifest.license}`;
  return `${manifest.name} ${manifest.version} (${manifest.license})\n\n${text}\n`;
});
const notices = [
  "Third-party software bundled in page.js and page.css, with their licences.",
  "",
  ...sections.map((section) => `${"-".repeat(72)}\n${section}`),
].join("\n");
writeFileSync(join(out, "THIRD-PARTY-NOTICES.txt"), notices);
console.log(`bundled: ${[...bundled].sort().join(", ")}`);
