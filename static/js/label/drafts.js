// Drafts: what the labeler has entered on the current item is kept in localStorage while they
// work, restored when the item comes back (reload, crash), dropped once the judgment is stored,
// and pruned after a week.
import { applyRanks, touchedSet } from "./ranking.js";
import { fieldsOf, load, store, user } from "./page.js";

const DRAFT = "chorus:draft:"; // + user + ":" + item -> {fields, savedAt}
const DRAFT_DAYS = 7;
const SKIP_FIELDS = new Set([
  "csrfmiddlewaretoken",
  "client_key",
  "guideline_version",
  "seconds_spent",
]);

function draftKey(item) {
  return DRAFT + user() + ":" + item;
}

function draftSave(form) {
  const fields = fieldsOf(form).filter(([name]) => !SKIP_FIELDS.has(name));
  store(draftKey(form.dataset.item), { fields, savedAt: Date.now() });
}

export function draftDrop(item) {
  localStorage.removeItem(draftKey(item));
}

// Fill the form with [name, value] pairs: a restored draft, or the answers of a judgment the
// labeler is changing (label_edits.py).
export function fill(form, fields) {
  const ranks = {};
  fields.forEach(([name, value]) => {
    if (name.startsWith("rank_")) {
      ranks[name] = Number(value);
      return;
    }
    if (name === "ranking_touched") {
      touchedSet(form, value === "1");
      return;
    }
    form.querySelectorAll('[name="' + name + '"]').forEach((el) => {
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.value === value) el.checked = true;
      } else if (el.type !== "hidden") {
        el.value = value;
      }
    });
  });
  const list = form.querySelector("#rank-list");
  if (list && Object.keys(ranks).length) applyRanks(list, ranks);
}

function draftRestore(form) {
  const draft = load(draftKey(form.dataset.item), null);
  if (draft) fill(form, draft.fields);
}

// Keep a draft of this form as the labeler types, clicks, or reorders (ranking fires "change").
export function draftsKeep(form) {
  draftRestore(form);
  form.addEventListener("input", () => draftSave(form));
  form.addEventListener("change", () => draftSave(form));
}

export function draftsPrune() {
  const cutoff = Date.now() - DRAFT_DAYS * 86400000;
  for (let i = localStorage.length - 1; i >= 0; i--) {
    const key = localStorage.key(i);
    if (key && key.startsWith(DRAFT) && (load(key, {}).savedAt || 0) < cutoff) {
      localStorage.removeItem(key);
    }
  }
}
