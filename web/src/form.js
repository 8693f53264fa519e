// The tool form: one dialog per ArcGIS task (its fields from GET /page/tools), and the chosen
// model's own arguments from the model item (defaults, types, choices), as ArcGIS's raster
// analysis dialogs show a package's getParameterInfo. Submitting calls submitJob.

import { api } from "./api.js";
import { byId, element } from "./dom.js";

function control(field, id, models) {
  const common = { id, name: field.name, "data-testid": id, title: field.description || undefined };
  if (field.dataType === "model") {
    return element(
      "select",
      { ...common, required: field.required },
      element("option", { value: "", text: models.length ? "Choose a model" : "No model can run this tool" }),
      models.map((model) => element("option", { value: model.id, text: `${model.name} v${model.version}` })),
    );
  }
  if (field.choices && field.choices.length) {
    const select = element(
      "select",
      common,
      field.required ? null : element("option", { value: "", text: "" }),
      field.choices.map((choice) => element("option", { value: String(choice), text: String(choice) })),
    );
    if (field.defaultValue !== null && field.defaultValue !== undefined) select.value = String(field.defaultValue);
    return select;
  }
  if (field.dataType === "boolean" && (field.defaultValue === null || field.defaultValue === undefined)) {
    // no default: the package decides unless the user does (a checkbox cannot say "unset")
    return element(
      "select",
      { ...common, "data-type": "boolean" },
      ["", "true", "false"].map((choice) => element("option", { value: choice, text: choice || "(package default)" })),
    );
  }
  if (field.dataType === "boolean") {
    const box = element("input", { ...common, type: "checkbox" });
    box.checked = field.defaultValue === true || String(field.defaultValue).toLowerCase() === "true";
    return box;
  }
  const numeric = field.dataType === "long" || field.dataType === "double";
  const box = element("input", {
    ...common,
    type: numeric ? "number" : "text",
    step: field.dataType === "long" ? "1" : numeric ? "any" : undefined,
    required: field.required,
    placeholder: field.dataType === "raster" || field.dataType === "features" ? "path on the server" : undefined,
  });
  if (field.defaultValue !== null && field.defaultValue !== undefined) box.value = String(field.defaultValue);
  return box;
}

function row(field, id, models) {
  return element(
    "div",
    { class: "field", "data-testid": `row-${id}` },
    element("label", { for: id, text: field.displayName || field.name }),
    control(field, id, models),
    field.description ? element("small", { class: "muted", text: field.description }) : null,
  );
}

function valueOf(field, node) {
  if (!node) return undefined;
  if (node.type === "checkbox") return node.checked;
  const text = node.value.trim();
  if (text === "") return undefined;
  if (field.dataType === "boolean") return text === "true";
  if (field.dataType === "long") return Number.parseInt(text, 10);
  if (field.dataType === "double") return Number.parseFloat(text);
  return text;
}

export class ToolForm {
  constructor(onSubmitted) {
    this.onSubmitted = onSubmitted;
    this.tools = [];
    this.models = [];
    this.form = byId("tool-form");
    this.taskSelect = byId("task");
    this.fields = byId("task-fields");
    this.argumentBox = byId("model-arguments");
    this.argumentFields = byId("model-argument-fields");
    this.error = byId("submit-error");
    this.taskSelect.addEventListener("change", () => this.render());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  get tool() {
    return this.tools.find((tool) => tool.task === this.taskSelect.value);
  }

  setTools(tools) {
    this.tools = tools;
    this.taskSelect.replaceChildren(
      ...tools.map((tool) => element("option", { value: tool.task, text: tool.displayName })),
    );
    this.render();
  }

  setModels(models) {
    this.models = models;
    this.render();
  }

  chooseModel(model) {
    const tool = this.tool;
    if (tool && !(model.tasks || []).includes(tool.task)) {
      const other = this.tools.find((t) => (model.tasks || []).includes(t.task));
      if (other) this.taskSelect.value = other.task;
    }
    this.render();
    const select = byId("field-model");
    if (select) {
      select.value = model.id;
      this.renderArguments();
    }
  }

  modelsFor(tool) {
    return this.models.filter((model) => !model.tasks || model.tasks.includes(tool.task));
  }

  render() {
    const tool = this.tool;
    if (!tool) return;
    const keep = byId("field-model") ? byId("field-model").value : "";
    const kept = Object.fromEntries(
      [...this.fields.querySelectorAll("input,select")].map((node) => [node.name, node.value]),
    );
    const models = this.modelsFor(tool);
    this.fields.replaceChildren(...tool.fields.map((field) => row(field, `field-${field.name}`, models)));
    for (const field of tool.fields) {
      const node = byId(`field-${field.name}`);
      if (field.dataType === "raster" || field.dataType === "features") {
        if (kept[field.name]) node.value = kept[field.name];
      }
    }
    const select = byId("field-model");
    if (select) {
      if (models.some((model) => model.id === keep)) select.value = keep;
      else if (models.length === 1) select.value = models[0].id;
      select.addEventListener("change", () => this.renderArguments());
    }
    this.renderArguments();
  }

  chosenModel() {
    const select = byId("field-model");
    return select ? this.models.find((model) => model.id === select.value) : undefined;
  }

  renderArguments() {
    const model = this.chosenModel();
    const argumentsOf = (model && model.arguments) || [];
    this.argumentBox.hidden = argumentsOf.length === 0;
    this.argumentFields.replaceChildren(
      ...argumentsOf.map((argument) => row(argument, `arg-${argument.name}`, [])),
    );
  }

  parameters() {
    const tool = this.tool;
    const parameters = {};
    for (const field of tool.fields) {
      const value = valueOf(field, byId(`field-${field.name}`));
      if (value !== undefined) parameters[field.name] = value;
    }
    const model = this.chosenModel();
    const argumentsOf = (model && model.arguments) || [];
    if (argumentsOf.length) {
      const values = {};
      for (const argument of argumentsOf) {
        const value = valueOf(argument, byId(`arg-${argument.name}`));
        if (value !== undefined) values[argument.name] = value;
      }
      parameters.modelArguments = values;
    }
    return parameters;
  }

  async submit() {
    this.error.textContent = "";
    const button = byId("submit");
    button.disabled = true;
    try {
      const answer = await api.submit(this.tool.task, this.parameters());
      this.onSubmitted(answer.jobId);
    } catch (error) {
      const details = (error.diagnostics || []).map((d) => `${d.code || ""} ${d.message}`.trim());
      this.error.textContent = [error.message, error.hint, ...details].filter(Boolean).join(" — ");
    } finally {
      button.disabled = false;
    }
  }
}
