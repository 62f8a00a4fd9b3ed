// Outbox: no judgment is lost to the network. Every submission is kept in localStorage from the
// moment htmx sends it until the server has answered (stored, or told us why not), and sent again
// after a network error or a 5xx, with the same client key, so the server stores it once.
// - the form is still on the page: it is submitted again (its own hx-post);
// - the page is gone (reloaded, closed): htmx.ajax posts the kept fields, one at a time, into
//   #workbench; the answer is swapped in only if the workbench still shows that item, and a
//   refusal (409, 422, ...) shows the kept text in the network banner instead.
import { draftDrop } from "./drafts.js";
import { bench, fieldsOf, labelForm, load, store, user } from "./page.js";

const PENDING = "chorus:pending"; // client key -> {user, url, item, fields, savedAt}
const NETWORK_PROBLEM =
  "Network problem: your judgment is kept on this device and will be resent automatically.";
const STILL_OFFLINE =
  "Still offline: your judgment is kept on this device and will be sent when the connection " +
  "is back.";
const inFlight = new Set(); // client keys being sent now
const resends = new Map(); // client key -> kept entry, for resends whose form is gone
let resending = false;
let retryTimer = null;
let retryDelay = 1000;

function pendingAll() {
  return load(PENDING, {});
}

function keep(form) {
  const all = pendingAll();
  all[form.dataset.clientKey] = {
    user: user(),
    url: form.getAttribute("hx-post"),
    item: form.dataset.item,
    fields: fieldsOf(form),
    savedAt: Date.now(),
  };
  store(PENDING, all);
}

function drop(key) {
  const all = pendingAll();
  delete all[key];
  store(PENDING, all);
}

function banner(message, keptText) {
  const box = document.getElementById("label-network");
  if (!box) return;
  box.hidden = !message;
  box.textContent = message || "";
  if (keptText) {
    const pre = document.createElement("pre");
    pre.className = "kept-text";
    pre.textContent = keptText;
    box.appendChild(pre);
  }
}

function scheduleRetry() {
  if (retryTimer) return;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    outboxFlush();
  }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 5000);
}

function resend(key, entry) {
  inFlight.add(key);
  resends.set(key, entry);
  const values = new FormData();
  entry.fields.forEach(([name, value]) => values.append(name, value));
  const request = htmx.ajax("POST", entry.url, { target: "#workbench", swap: "outerHTML", values });
  return request.finally(() => {
    inFlight.delete(key);
    resends.delete(key);
  });
}

// Send the kept judgments whose form is gone one after the other (htmx keeps only the last of
// several requests queued on one element); stop at the first that is not answered.
function resendInTurn(keys, all) {
  if (!keys.length || resending) return;
  resending = true;
  const [key, ...rest] = keys;
  const next = () => {
    resending = false;
    if (!(key in pendingAll())) resendInTurn(rest, all);
  };
  resend(key, all[key]).then(next, () => {
    resending = false;
  });
}

// Send again every kept judgment of this labeler that is not on its way already.
function outboxFlush() {
  const all = pendingAll();
  const form = labelForm();
  const keys = Object.keys(all).filter((key) => all[key].user === user() && !inFlight.has(key));
  const onPage = (key) => form && key === form.dataset.clientKey;
  if (keys.some(onPage)) form.requestSubmit(); // htmx sends it again (hx-sync drops a duplicate)
  resendInTurn(
    keys.filter((key) => !onPage(key)),
    all,
  );
}

// Retry soon when this labeler has kept judgments (a page that has just been loaded).
export function outboxResume() {
  const all = pendingAll();
  if (Object.keys(all).some((key) => all[key].user === user())) scheduleRetry();
}

// The judgment a request carries: its client key, and whether it is a resend of a gone form.
function judgmentOf(event) {
  const config = event.detail.requestConfig;
  const key = config && config.formData && config.formData.get("client_key");
  const form = config && config.elt.id === "label-form" ? config.elt : null;
  if (!key || !(form || resends.has(key))) return null;
  return { key, form, kept: resends.get(key) };
}

function keptText(fields) {
  return fields
    .filter(([name]) => name === "rationale" || name === "demonstration")
    .map(([, value]) => value)
    .filter(Boolean)
    .join("\n\n");
}

function onBeforeRequest(event) {
  const judgment = judgmentOf(event);
  if (!judgment || !judgment.form) return;
  inFlight.add(judgment.key);
  keep(judgment.form);
}

function onBeforeSwap(event) {
  const judgment = judgmentOf(event);
  if (!judgment) return;
  if (judgment.form) inFlight.delete(judgment.key);
  const status = event.detail.xhr.status;
  if (status >= 500) return;
  answered(judgment.key, judgment.form ? judgment.form.dataset.item : judgment.kept.item, status);
  if (!judgment.kept) return;
  const workbench = bench();
  const showing = workbench && workbench.dataset.item === judgment.kept.item;
  if (status >= 300 || !showing) event.detail.shouldSwap = false;
  if (status >= 300) refused(status, judgment.kept);
}

// The server has decided (stored, or told us why not): drop the kept copy and a stored one's draft.
function answered(key, item, status) {
  drop(key);
  retryDelay = 1000;
  banner("");
  if (status < 300) draftDrop(item);
}

// A resend the server refused (409, 422, ...): its form is gone, so the labeler gets the text.
function refused(status, kept) {
  const message = "An earlier judgment could not be stored (" + status + ").";
  banner(message + " Your text is kept here:", keptText(kept.fields));
}

function onFailure(event) {
  const judgment = judgmentOf(event);
  if (!judgment) return;
  const status = event.detail.xhr.status;
  if (judgment.form) {
    inFlight.delete(judgment.key);
    banner(NETWORK_PROBLEM);
  } else if (status === 0) {
    banner(STILL_OFFLINE);
  } else if (status < 500) {
    return; // refused: onBeforeSwap has shown why
  }
  scheduleRetry();
}

export function outboxInit() {
  document.addEventListener("htmx:beforeRequest", onBeforeRequest);
  document.addEventListener("htmx:beforeSwap", onBeforeSwap);
  document.addEventListener("htmx:sendError", onFailure);
  document.addEventListener("htmx:responseError", onFailure);
  window.addEventListener("online", () => {
    retryDelay = 1000;
    outboxFlush();
  });
}
