// Keyboard shortcuts; the help dialog (_label_dialogs.html) lists them for the labeler.
// pairwise: 1-8 scale, t tie, b both bad; ranking: arrows move focus, Shift+arrows move the
// response, t ties it with the one above, n none acceptable, o "the order shown is my ranking";
// rubric: c focuses the first criterion, then (while a criterion has the focus) digits set its
// value and arrows go to the previous/next criterion, Esc stops: digits outside it keep
// choosing on the 8-point scale; everywhere: Enter or Ctrl+Enter submits, s skip, p previous
// (change the last judgment), r rationale, w write (demonstration), g guidelines, ? help,
// Esc leaves a box.
import { dialogOpen, dialogOpenNow } from "./dialogs.js";
import { labelForm } from "./page.js";
import { move, tieToggle } from "./ranking.js";

function ratings(form) {
  return Array.from(form.querySelectorAll("fieldset.rating"));
}

// Rubric mode: the focus is on a criterion of one response (its fieldset or one of its radios).
// Digits set its value, arrows go to the previous/next criterion. True if handled.
function ratingKeys(event, rating) {
  if (!rating) return false;
  const key = event.key;
  if (key === "Escape") {
    document.activeElement.blur();
    return true;
  }
  if (key === "ArrowUp" || key === "ArrowDown") {
    const all = ratings(rating.form);
    const next = all[all.indexOf(rating) + (key === "ArrowUp" ? -1 : 1)];
    if (next) next.focus();
    if (next) next.scrollIntoView({ block: "nearest" });
    return true;
  }
  if (!/^[0-9]$/.test(key)) return false;
  const input = rating.querySelector('input[type=radio][value="' + key + '"]');
  if (input) check(input, true);
  return true; // a digit outside the criterion's scale does nothing (never the 8-point scale)
}

function typing(el) {
  if (!el || !el.tagName) return false;
  if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  return el.tagName === "INPUT" && !/^(radio|checkbox|button|submit|hidden)$/.test(el.type);
}

// Check an input as a click would (its "change" saves the draft).
function check(input, checked) {
  input.checked = checked;
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

function pick(form, value) {
  const input = form.querySelector('input[name=choice][value="' + value + '"]');
  if (!input) return;
  check(input, true);
  input.closest("fieldset").scrollIntoView({ block: "nearest" });
}

// Ranking list: arrows move the focus, Shift+arrows move the response. True if handled.
function rankKeys(event, rankItem) {
  if (!rankItem || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return false;
  event.preventDefault();
  const delta = event.key === "ArrowUp" ? -1 : 1;
  if (event.shiftKey) {
    move(rankItem, delta);
    return true;
  }
  const next = delta < 0 ? rankItem.previousElementSibling : rankItem.nextElementSibling;
  if (next) next.focus();
  return true;
}

// The shortcut's action, or null when the key means nothing here.
function action(key, form, rankItem) {
  const choices = form.querySelector("input[name=choice]");
  if (/^[1-8]$/.test(key) && choices) return () => pick(form, key);
  if (key === "t" && rankItem) return () => tieToggle(rankItem);
  if (key === "t" && choices) return () => pick(form, "tie");
  if (key === "b" && choices) return () => pick(form, "both_bad");
  const none = form.querySelector("input[name=none_acceptable]");
  if (key === "n" && none) return () => check(none, !none.checked);
  const confirm = form.querySelector("#rank-confirm");
  if (key === "o" && confirm) return () => check(confirm, !confirm.checked);
  const first = form.querySelector("fieldset.rating");
  if (key === "c" && first) return () => first.focus();
  if (key === "s") return () => dialogOpen("skip-dialog");
  const box = { r: "#rationale", w: "#demonstration" }[key];
  if (box && form.querySelector(box)) return () => form.querySelector(box).focus();
  return null;
}

function onKey(event) {
  const key = event.key;
  const form = labelForm();
  const target = event.target;
  if (event.defaultPrevented || event.altKey) return;
  if ((event.ctrlKey || event.metaKey) && key === "Enter") {
    const owner = target.form || form;
    if (owner) {
      event.preventDefault();
      owner.requestSubmit();
    }
    return;
  }
  if (event.ctrlKey || event.metaKey) return;
  if (dialogOpenNow()) {
    if (key === "Enter" && target.type === "radio" && target.form) {
      event.preventDefault();
      target.form.requestSubmit();
    }
    return; // Esc closes natively
  }
  if (typing(target)) {
    if (key === "Escape") target.blur();
    return;
  }
  const previous = document.getElementById("label-previous");
  if (key === "p" && previous) {
    event.preventDefault();
    previous.click();
    return;
  }
  const dialog = { "?": "help-dialog", g: "guidelines-dialog" }[key];
  if (dialog) {
    event.preventDefault();
    dialogOpen(dialog);
    return;
  }
  if (!form) return;
  const rating = target.closest && target.closest("fieldset.rating");
  if (ratingKeys(event, rating)) {
    event.preventDefault();
    return;
  }
  const rankItem = target.closest && target.closest(".rank-item");
  if (rankKeys(event, rankItem)) return;
  const run = action(key, form, rankItem);
  if (run) {
    event.preventDefault();
    run();
  } else if (key === "Enter" && !/^(BUTTON|A|SUMMARY)$/.test(target.tagName)) {
    event.preventDefault();
    form.requestSubmit();
  }
}

export function keysInit() {
  document.addEventListener("keydown", onKey);
}
