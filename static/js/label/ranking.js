// Ranking: order the responses by drag-and-drop, with the move buttons, or with the keys
// (keys.js calls move and tieToggle). Ties are allowed: a tied response shares the rank of the
// one above. Every change renumbers the hidden rank_N fields and the spoken summary, then fires
// "change" on the list so the form's draft is saved.
// The list starts in the order shown, which is nobody's ranking: until the labeler moves a
// response or ticks "the order shown is my ranking" (key o), the hidden ranking_touched field
// stays 0, submitting is refused here with a message, and the server refuses it too.

const UNTOUCHED =
  "Put the responses in your order first: move at least one, or confirm that the order shown " +
  "is your ranking.";

// Mark the ranking as the labeler's own (moved, or the shown order confirmed), or not.
export function touchedSet(form, touched) {
  const field = form.querySelector("#ranking-touched");
  if (!field) return;
  field.value = touched ? "1" : "0";
  form.querySelector(".ranking").classList.toggle("touched", touched);
}

function moved(list) {
  list.dataset.moved = "1";
  touchedSet(list.closest("form"), true);
}

// Refuse to send an untouched ranking (htmx asks "confirm" before every request).
function refuseUntouched(event) {
  const form = event.currentTarget;
  const field = form.querySelector("#ranking-touched");
  if (!field || field.value === "1") return;
  event.preventDefault();
  const box = form.querySelector("#label-errors");
  box.innerHTML =
    '<div class="problem" role="alert"><p><strong>Please fix:</strong></p><ul>' +
    '<li data-field="ranking_touched"><strong>Ranking:</strong> </li></ul></div>';
  box.querySelector("li").append(UNTOUCHED);
  form.querySelector("#rank-list .rank-item").focus();
}

function items(list) {
  return Array.from(list.querySelectorAll(".rank-item"));
}

function changed(list) {
  list.dispatchEvent(new Event("change", { bubbles: true }));
}

function renumber(list) {
  let rank = 0;
  const parts = [];
  items(list).forEach((li, index) => {
    const tie = li.querySelector(".tie-box");
    tie.disabled = index === 0;
    if (index === 0) tie.checked = false;
    if (!tie.checked) rank += 1;
    li.querySelector("input[type=hidden]").value = rank;
    li.querySelector(".rank-badge").textContent = rank;
    const name = "Response " + li.dataset.number;
    const tied = tie.checked ? ", tied with the one above" : "";
    li.setAttribute("aria-label", "Rank " + rank + ": " + name + tied);
    const joint = tie.checked ? " = " : index ? " · " : "";
    parts.push(joint + (tie.checked ? "" : rank + ". ") + name);
  });
  const summary = document.getElementById("rank-summary");
  if (summary) summary.textContent = "Ranking: " + parts.join("");
}

// Put the list in the order of ranks ({rank_N: rank}), ties where ranks repeat (a restored draft).
export function applyRanks(list, ranks) {
  const rankOf = (li) => ranks["rank_" + li.dataset.number] || 99;
  let previous = null;
  items(list)
    .sort((a, b) => rankOf(a) - rankOf(b))
    .forEach((li) => {
      const rank = ranks["rank_" + li.dataset.number];
      li.querySelector(".tie-box").checked = previous !== null && rank === previous;
      previous = rank;
      list.appendChild(li);
    });
  renumber(list);
}

export function move(li, delta) {
  const list = li.parentNode;
  const other = delta < 0 ? li.previousElementSibling : li.nextElementSibling;
  if (!other) return;
  list.insertBefore(delta < 0 ? li : other, delta < 0 ? other : li);
  renumber(list);
  li.focus();
  moved(list);
  changed(list);
}

export function tieToggle(li) {
  const tie = li.querySelector(".tie-box");
  if (tie.disabled) return;
  tie.checked = !tie.checked;
  renumber(li.parentNode);
  moved(li.parentNode);
  changed(li.parentNode);
}

function dragAndDrop(list) {
  let dragging = null;
  list.addEventListener("dragstart", (event) => {
    dragging = event.target.closest(".rank-item");
    if (!dragging) return;
    dragging.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragging.dataset.number);
  });
  list.addEventListener("dragover", (event) => {
    if (!dragging) return;
    event.preventDefault();
    const over = event.target.closest(".rank-item");
    if (!over || over === dragging) return;
    const box = over.getBoundingClientRect();
    const before = event.clientY < box.top + box.height / 2;
    list.insertBefore(dragging, before ? over : over.nextElementSibling);
  });
  list.addEventListener("drop", (event) => event.preventDefault());
  list.addEventListener("dragend", () => {
    if (dragging) dragging.classList.remove("dragging");
    dragging = null;
    renumber(list);
    moved(list);
    changed(list);
  });
}

export function rankingInit(form) {
  const list = form.querySelector("#rank-list");
  if (!list) return;
  list.addEventListener("click", (event) => {
    const button = event.target.closest("[data-move]");
    if (button) move(button.closest(".rank-item"), Number(button.dataset.move));
  });
  list.addEventListener("change", (event) => {
    if (!event.target.classList.contains("tie-box")) return;
    renumber(list);
    moved(list);
  });
  const confirm = form.querySelector("#rank-confirm");
  if (confirm) {
    confirm.addEventListener("change", () =>
      touchedSet(form, confirm.checked || list.dataset.moved === "1"),
    );
  }
  form.addEventListener("htmx:confirm", refuseUntouched);
  dragAndDrop(list);
  renumber(list);
}
