// The jobs panel: the job being watched, polled (GET /jobs/{id}) until it ends, with its
// status, progress and messages; and the list of jobs, any of which can be shown again.

import { api } from "./api.js";
import { byId, element } from "./dom.js";

const TERMINAL = new Set(["esriJobSucceeded", "esriJobFailed", "esriJobCancelled", "esriJobTimedOut"]);
const POLL_MS = 1000;

const STATUS_TEXT = {
  esriJobSubmitted: "submitted",
  esriJobWaiting: "waiting",
  esriJobExecuting: "executing",
  esriJobSucceeded: "succeeded",
  esriJobFailed: "failed",
  esriJobCancelling: "cancelling",
  esriJobCancelled: "cancelled",
  esriJobTimedOut: "timed out",
};

export class JobsPanel {
  constructor(onFinished) {
    this.onFinished = onFinished;
    this.current = null;
    this.timer = null;
    this.list = byId("jobs");
    byId("job-cancel").addEventListener("click", async () => {
      if (!this.current) return;
      try {
        await api.cancel(this.current);
      } catch (error) {
        this.message("esriJobMessageTypeError", error.message);
      }
    });
  }

  watch(jobId) {
    clearTimeout(this.timer);
    this.current = jobId;
    byId("job").hidden = false;
    byId("job-id").textContent = jobId;
    byId("job-messages").replaceChildren();
    this.poll(jobId);
  }

  async poll(jobId) {
    if (jobId !== this.current) return;
    let job;
    try {
      job = await api.job(jobId);
    } catch (error) {
      this.message("esriJobMessageTypeError", error.message);
      this.timer = setTimeout(() => this.poll(jobId), POLL_MS * 3);
      return;
    }
    this.show(job);
    if (TERMINAL.has(job.jobStatus)) {
      this.refresh();
      this.onFinished(job);
    } else {
      this.timer = setTimeout(() => this.poll(jobId), POLL_MS);
    }
  }

  show(job) {
    const status = byId("job-status");
    status.textContent = STATUS_TEXT[job.jobStatus] || job.jobStatus;
    status.dataset.status = job.jobStatus;
    status.className = `status status-${(STATUS_TEXT[job.jobStatus] || "").replace(" ", "-")}`;
    const bar = byId("job-progress");
    const progress = job.progress;
    if (progress && progress.total) {
      bar.max = progress.total;
      bar.value = Math.min(progress.done, progress.total);
      byId("job-stage").textContent = `${progress.stage}: ${progress.done} / ${progress.total}`;
    } else if (job.jobStatus === "esriJobSucceeded") {
      bar.max = 1;
      bar.value = 1;
      byId("job-stage").textContent = "";
    } else {
      bar.removeAttribute("value");
      byId("job-stage").textContent = progress ? progress.stage : "";
    }
    byId("job-cancel").hidden = TERMINAL.has(job.jobStatus);
    byId("job-messages").replaceChildren(
      ...(job.messages || []).map((m) =>
        element("li", { class: m.type.replace("esriJobMessageType", "msg-").toLowerCase(), text: m.description }),
      ),
    );
  }

  message(type, text) {
    byId("job-messages").append(element("li", { class: type.replace("esriJobMessageType", "msg-").toLowerCase(), text }));
  }

  async refresh() {
    let jobs = [];
    try {
      jobs = (await api.jobs()).jobs || [];
    } catch {
      return;
    }
    this.list.replaceChildren(
      ...jobs.map((job) =>
        element(
          "li",
          { class: "job", "data-testid": "job-item", "data-job-id": job.jobId, onclick: () => this.watch(job.jobId) },
          element("code", { text: job.jobId.slice(0, 8) }),
          ` ${job.task.replace("UsingDeepLearning", "").replace("forDeepLearning", "")} `,
          element("span", { class: "muted", text: STATUS_TEXT[job.jobStatus] || job.jobStatus }),
        ),
      ),
    );
  }
}
