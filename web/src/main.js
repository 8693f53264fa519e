// The page of `dlpk serve`: models, a tool form per task, job progress, results on the map.

import "ol/ol.css";
import "./page.css";

import { api, savedToken, saveToken } from "./api.js";
import { byId } from "./dom.js";
import { ToolForm } from "./form.js";
import { JobsPanel } from "./jobs.js";
import { JobMap } from "./map.js";
import { ModelsPanel } from "./models.js";

async function start() {
  const token = byId("token");
  byId("token-form").addEventListener("submit", (event) => event.preventDefault());
  token.value = savedToken();
  token.addEventListener("change", () => saveToken(token.value.trim()));
  token.addEventListener("input", () => saveToken(token.value.trim()));

  const map = new JobMap();
  const jobs = new JobsPanel(async (job) => {
    if (job.jobStatus !== "esriJobSucceeded") return;
    try {
      map.show(job.jobId, await api.layers(job.jobId));
    } catch (error) {
      jobs.message("esriJobMessageTypeError", `map: ${error.message}`);
    }
  });
  const form = new ToolForm((jobId) => {
    jobs.watch(jobId);
    jobs.refresh();
  });
  const models = new ModelsPanel((model) => form.chooseModel(model));

  api.health().then(
    (health) => { byId("server").textContent = `dlpk ${health.version || ""}`; },
    () => { byId("server").textContent = "server unreachable"; },
  );
  const [tools, found] = await Promise.all([api.tools(), models.refresh()]);
  form.setTools(tools.tools);
  form.setModels(found);
  jobs.refresh();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
