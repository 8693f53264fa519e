// The server's REST API as the page uses it: reads without a token, writes with the one the
// user typed (kept in localStorage, never sent anywhere but this server).

const TOKEN_KEY = "dlpk.token";

export function savedToken() {
  return window.localStorage.getItem(TOKEN_KEY) || "";
}

export function saveToken(token) {
  window.localStorage.setItem(TOKEN_KEY, token);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.diagnostics = (body && body.diagnostics) || [];
    this.hint = body && body.hint;
  }
}

async function call(method, url, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers.Authorization = `Bearer ${savedToken()}`;
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { error: text };
  }
  if (!response.ok) {
    if (parsed && !parsed.error && parsed.detail) {
      parsed.error = typeof parsed.detail === "string" ? parsed.detail : JSON.stringify(parsed.detail);
    }
    throw new ApiError(response.status, parsed);
  }
  return parsed;
}

export const api = {
  health: () => call("GET", "/health"),
  tools: () => call("GET", "/page/tools"),
  models: (query) => call("GET", query ? `/models?q=${encodeURIComponent(query)}` : "/models"),
  jobs: () => call("GET", "/jobs"),
  job: (id) => call("GET", `/jobs/${encodeURIComponent(id)}`),
  layers: (id) => call("GET", `/jobs/${encodeURIComponent(id)}/layers`),
  submit: (task, parameters) => call("POST", `/tasks/${encodeURIComponent(task)}/submitJob`, parameters),
  cancel: (id) => call("POST", `/jobs/${encodeURIComponent(id)}/cancel`),
};
