// What every workbench module reads: the workbench and its form, the labeler, and
// localStorage that never throws (storage full or disabled only loses the local copy;
// the server still deduplicates judgments on their client key).

export function load(key, fallback) {
  try {
    const value = localStorage.getItem(key);
    return value ? JSON.parse(value) : fallback;
  } catch (e) {
    return fallback;
  }
}

export function store(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch (e) {
    /* storage full or disabled */
  }
}

export function bench() {
  return document.getElementById("workbench");
}

export function labelForm() {
  return document.getElementById("label-form");
}

export function user() {
  const workbench = bench();
  return workbench ? workbench.dataset.user : "";
}

// The form's text fields as [name, value] pairs, repeated names kept (flags are checkboxes).
export function fieldsOf(form) {
  const out = [];
  new FormData(form).forEach((value, key) => {
    if (typeof value === "string") out.push([key, value]);
  });
  return out;
}
