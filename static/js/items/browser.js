// The item browser: "select all" on the page, the count of ticked items, which bulk-action
// fields show for the chosen action, and a filter <select> applying itself when changed (the
// filter form submits through htmx). Works across htmx swaps of the table.
(function () {
  "use strict";

  function boxes() {
    return Array.from(document.querySelectorAll('input[name="items"][form="bulk"]'));
  }

  function refresh() {
    var ticked = boxes().filter(function (b) { return b.checked; }).length;
    var count = document.querySelector("[data-selected]");
    var submit = document.querySelector("[data-bulk-submit]");
    if (count) count.textContent = String(ticked);
    if (submit) submit.disabled = ticked === 0;
  }

  function showFields() {
    var action = document.querySelector("[data-bulk-action]");
    if (!action) return;
    document.querySelectorAll("[data-for-action]").forEach(function (el) {
      el.hidden = el.getAttribute("data-for-action") !== action.value;
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      boxes().forEach(function (b) { b.checked = target.checked; });
    }
    if (target.matches("[data-bulk-action]")) showFields();
    if (target.matches("[data-filters] select")) target.form.requestSubmit();
    refresh();
  });
  document.addEventListener("htmx:afterSwap", refresh);
  // The filters may have changed through htmx since the page loaded: come back to the current ones.
  document.addEventListener("submit", function (event) {
    var back = event.target.querySelector('input[name="return_query"]');
    if (back) back.value = window.location.search.replace(/^\?/, "");
  });
  document.addEventListener("DOMContentLoaded", function () { showFields(); refresh(); });
})();
