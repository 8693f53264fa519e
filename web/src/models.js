// The models panel: every registered model with its lint status, classes and colours, and
// the tasks it can run; choosing one selects it in the tool form.

import { api } from "./api.js";
import { byId, element, swatch } from "./dom.js";

function lintBadge(lint) {
  const errors = lint ? lint.errors : 0;
  const warnings = lint ? lint.warnings : 0;
  const ok = lint ? lint.ok && errors === 0 : false;
  const text = ok
    ? warnings ? `lint ok, ${warnings} warning${warnings === 1 ? "" : "s"}` : "lint ok"
    : `${errors} error${errors === 1 ? "" : "s"}`;
  return element("span", {
    class: `badge ${ok ? (warnings ? "badge-warn" : "badge-ok") : "badge-error"}`,
    "data-testid": "model-lint",
    "data-lint": ok ? "ok" : "error",
    title: ((lint && lint.diagnostics) || []).map((d) => `${d.code} ${d.message}`).join("\n"),
    text,
  });
}

function classList(classes) {
  return element(
    "ul",
    { class: "classes", "data-testid": "model-classes" },
    (classes || []).map((entry) =>
      element(
        "li",
        { "data-testid": "model-class", "data-value": entry.value },
        swatch(entry.color),
        element("span", { text: `${entry.name} (${entry.value})` }),
      ),
    ),
  );
}

export class ModelsPanel {
  constructor(onChoose) {
    this.onChoose = onChoose;
    this.models = [];
    this.list = byId("models");
    const search = byId("model-search");
    let pending = null;
    search.addEventListener("input", () => {
      clearTimeout(pending);
      pending = setTimeout(() => this.refresh(search.value.trim()), 250);
    });
  }

  async refresh(query = "") {
    try {
      const answer = await api.models(query);
      this.models = answer.models || [];
    } catch (error) {
      this.list.replaceChildren(element("li", { class: "error", text: error.message }));
      return [];
    }
    this.list.replaceChildren(
      ...this.models.map((model) =>
        element(
          "li",
          {
            class: "model",
            "data-testid": "model-item",
            "data-model-id": model.id,
            onclick: () => this.onChoose(model),
          },
          element("div", { class: "model-title" },
            element("strong", { text: model.name }),
            element("span", { class: "muted", text: ` v${model.version}` }),
            " ",
            lintBadge(model.lint),
          ),
          element("div", { class: "muted", text: [model.modelType, model.framework].filter(Boolean).join(" · ") }),
          classList(model.classes),
          element("div", { class: "muted small", text: (model.tasks || []).join(", ") }),
        ),
      ),
    );
    if (!this.models.length) {
      this.list.replaceChildren(element("li", { class: "muted", text: query ? "No model matches." : "No model yet: POST /models." }));
    }
    return this.models;
  }
}
