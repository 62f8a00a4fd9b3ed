// The run form: only the chosen algorithm's parts are shown (elements with data-kinds; hidden
// ones are disabled, so they are not sent), and the preset select fills the chosen algorithm's
// hyperparameter boxes with the preset's values (the server applies the preset too: this is a
// preview to edit). Switching algorithm keeps what was typed in each algorithm's boxes.
(function () {
  const form = document.querySelector("form.run-form");
  if (!form || !form.elements["kind"]) return;
  const kindSelect = form.elements["kind"];
  const presetSelect = form.querySelector("select[data-presets]");
  const presets = presetSelect ? JSON.parse(presetSelect.dataset.presets) : {};

  function boxes(kind) {
    const prefix = "hp_" + kind + "_";
    return Array.from(form.elements).filter((el) => el.name && el.name.startsWith(prefix))
      .map((el) => [el.name.slice(prefix.length), el]);
  }

  function asText(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  function fill(onlyEmpty) {
    const kind = kindSelect.value;
    const values = presetSelect ? (presets[presetSelect.value] || {})[kind] || {} : {};
    for (const [name, el] of boxes(kind)) {
      if (onlyEmpty && el.value !== "") continue;
      el.value = asText(values[name]);
    }
  }

  function show() {
    const kind = kindSelect.value;
    for (const el of form.querySelectorAll("[data-kinds]")) {
      const off = !el.dataset.kinds.split(" ").includes(kind);
      el.hidden = off;
      el.disabled = off;
    }
  }

  kindSelect.addEventListener("change", () => { show(); fill(true); });
  if (presetSelect) presetSelect.addEventListener("change", () => fill(false));
  show();
})();
