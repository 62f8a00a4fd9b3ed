// The run form's preset select fills the hyperparameters textarea with the preset's values for
// the chosen algorithm (the server applies the preset too, so this is only a preview to edit).
(function () {
  const select = document.querySelector("select[data-presets]");
  if (!select) return;
  const form = select.form;
  const presets = JSON.parse(select.dataset.presets);
  function fill() {
    const kind = form.elements["kind"].value;
    const values = (presets[select.value] || {})[kind];
    if (values) form.elements["hyperparameters"].value = JSON.stringify(values, null, 1);
  }
  select.addEventListener("change", fill);
  form.elements["kind"].addEventListener("change", fill);
})();
