// Chorus workbench: what htmx cannot do on its own, one concern per module:
//   outbox.js   submissions kept until the server answers, resent through htmx
//   drafts.js   the current item's answers kept while the labeler works
//   ranking.js  drag-and-drop ranking with a full keyboard path, ties allowed
//   dialogs.js  guidelines, keys help and skip dialogs
//   keys.js     keyboard shortcuts
//   timer.js    time on the item;  collapse.js  long responses folded
// This entry wires them once per page and sets up every item htmx swaps in.
import { collapseInit } from "./collapse.js";
import { dialogsInit } from "./dialogs.js";
import { draftsKeep, draftsPrune, fill } from "./drafts.js";
import { keysInit } from "./keys.js";
import { outboxInit, outboxResume } from "./outbox.js";
import { rankingInit } from "./ranking.js";
import { timerInit, timerStart } from "./timer.js";

function itemInit(workbench) {
  timerStart(workbench);
  const form = workbench.querySelector("#label-form");
  if (form) {
    rankingInit(form);
    const prefill = document.getElementById("label-prefill");
    if (form.dataset.edit && prefill) fill(form, JSON.parse(prefill.textContent));
    else draftsKeep(form);
    collapseInit(form);
  }
  outboxResume();
}

outboxInit();
dialogsInit();
keysInit();
timerInit();
draftsPrune();
htmx.onLoad((elt) => {
  const workbench =
    elt.id === "workbench" ? elt : elt.querySelector && elt.querySelector("#workbench");
  if (workbench) itemInit(workbench);
});
