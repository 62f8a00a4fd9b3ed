// Long responses: collapsed to a scrollable box with a "Show all" toggle; short ones show whole.

export function collapseInit(root) {
  root.querySelectorAll("[data-expand]").forEach((button) => {
    const text = button.previousElementSibling;
    if (text.scrollHeight <= text.clientHeight + 4) {
      button.hidden = true;
      return;
    }
    button.addEventListener("click", () => {
      const open = text.classList.toggle("expanded");
      button.setAttribute("aria-expanded", String(open));
      button.textContent = open ? "Show less" : "Show all";
    });
  });
}
