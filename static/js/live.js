// Live conversation page (issue 16): send a message, stream both replies side by side through
// server-sent events (/live/replies/<id>/events: `token`, `done`, `error`), then judge; the
// stop button cancels both replies. A failed or stopped turn stores nothing: the message is put
// back in the box to send again. Source names never reach this page.
const root = document.getElementById("live");
const say = document.getElementById("live-say");
const judge = document.getElementById("live-judge");
const pending = document.getElementById("live-pending");
const stopButton = document.getElementById("live-stop");
const errorBox = document.getElementById("live-error");
const panes = [...document.querySelectorAll(".live-pane")];
let sources = [];
let turn = null;
let clientKey = null;

const csrf = () => document.querySelector("[name=csrfmiddlewaretoken]").value;
const urlFor = (template, id) => template.replace("/0/", `/${id}/`);

function showError(text) {
  errorBox.innerHTML = "";
  if (!text) return;
  const item = document.createElement("p");
  item.className = "error";
  item.textContent = text;
  errorBox.append(item);
}

function closeStreams() {
  sources.forEach((s) => s.close());
  sources = [];
  stopButton.disabled = true;
}

function paneDone() {
  if (panes.every((p) => p.dataset.state === "done")) {
    stopButton.disabled = true;
    judge.hidden = false;
    clientKey = clientKey || crypto.randomUUID();
    judge.elements.client_key.value = clientKey;
  }
}

function failTurn(message) {
  closeStreams();
  panes
    .filter((p) => p.dataset.state === "streaming")
    .forEach((p) => {
      p.dataset.state = "stopped";
      p.querySelector(".pane-status").textContent = "stopped";
    });
  judge.hidden = true;
  showError(`${message} Nothing was stored for this turn; you can send your message again.`);
  const text = document.getElementById("live-message").textContent;
  if (say) {
    say.hidden = false;
    say.elements.message.value = text;
  }
}

function stream(pane, replyId) {
  const text = pane.querySelector(".pane-text");
  const status = pane.querySelector(".pane-status");
  text.textContent = "";
  pane.dataset.state = "streaming";
  status.textContent = "writing…";
  const source = new EventSource(root.dataset.eventsUrl.replace(/[0-9a-f-]{36}/, replyId));
  source.addEventListener("token", (e) => {
    text.textContent += JSON.parse(e.data).text;
  });
  source.addEventListener("done", (e) => {
    text.textContent = JSON.parse(e.data).text;
    pane.dataset.state = "done";
    status.textContent = "done";
    source.close();
    paneDone();
  });
  source.addEventListener("error", (e) => {
    if (!e.data) return; // a dropped connection: EventSource reconnects with Last-Event-ID
    pane.dataset.state = "failed";
    status.textContent = "failed";
    const side = pane.dataset.side === "left" ? "Reply 1" : "Reply 2";
    failTurn(`${side} did not finish: ${JSON.parse(e.data).message}`);
    if (turn) post(urlFor(root.dataset.stopUrl, turn), new FormData());
  });
  sources.push(source);
}

function startTurn(id, left, right) {
  turn = id;
  clientKey = null;
  pending.hidden = false;
  judge.hidden = true;
  judge.reset();
  stopButton.disabled = false;
  stream(panes[0], left);
  stream(panes[1], right);
}

async function post(url, body) {
  body.set("csrfmiddlewaretoken", csrf());
  const response = await fetch(url, { method: "POST", body, headers: { "X-CSRFToken": csrf() } });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  return { ok: response.ok, status: response.status, data };
}

const FIELD_NAMES = { message: "Your message", choice: "Your choice", rationale: "Rationale" };

function errorText(data) {
  const errors = (data && data.errors) || {};
  return Object.entries(errors)
    .map(([field, list]) =>
      field === "__all__" ? list.join(" ") : `${FIELD_NAMES[field] || field}: ${list.join(" ")}`,
    )
    .join(" ") || "Something went wrong; try again.";
}

say?.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const message = say.elements.message.value;
  const result = await post(root.dataset.sayUrl, new FormData(say));
  if (!result.ok) return showError(errorText(result.data));
  document.getElementById("live-message").textContent = message.trim();
  say.hidden = true;
  say.reset();
  startTurn(result.data.turn, result.data.left, result.data.right);
});

document.getElementById("live-starter")?.addEventListener("change", (e) => {
  if (e.target.value) say.elements.message.value = e.target.value;
});

judge.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const result = await post(urlFor(root.dataset.judgeUrl, turn), new FormData(judge));
  if (!result.ok) return showError(errorText(result.data));
  window.location.reload();
});

stopButton.addEventListener("click", async () => {
  if (!turn) return;
  closeStreams();
  await post(urlFor(root.dataset.stopUrl, turn), new FormData());
  failTurn("You stopped the replies.");
});

if (root.dataset.turn) startTurn(root.dataset.turn, root.dataset.left, root.dataset.right);
