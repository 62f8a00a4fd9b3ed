// Dialogs (guidelines, keys help, skip): native <dialog> opened by any [data-open-dialog="id"]
// button or by keys.js, closed by [data-close-dialog] or Esc (native).

export function dialogOpen(id) {
  const dialog = document.getElementById(id);
  if (!dialog || dialog.open) return;
  dialog.showModal();
  const first = dialog.querySelector("input:not([type=hidden]), textarea");
  if (first) first.focus();
}

export function dialogOpenNow() {
  return document.querySelector("dialog[open]");
}

export function dialogsInit() {
  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-open-dialog]");
    if (opener) dialogOpen(opener.dataset.openDialog);
    const closer = event.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog").close();
  });
}
