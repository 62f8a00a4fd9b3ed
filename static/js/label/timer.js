// Time on the current item: the clock in the label bar, and seconds_spent filled in when the
// item is first submitted (a submit again after a problem keeps that first figure).

let started = Date.now();
let tick = null;

export function timerStart(root) {
  started = Date.now();
  if (tick) clearInterval(tick);
  const clock = root.querySelector("#item-timer");
  if (!clock) return;
  tick = setInterval(() => {
    const s = Math.floor((Date.now() - started) / 1000);
    clock.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }, 1000);
}

export function timerInit() {
  document.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (form.id !== "label-form") return;
      const seconds = form.querySelector("input[name=seconds_spent]");
      if (seconds && !seconds.value) seconds.value = ((Date.now() - started) / 1000).toFixed(1);
    },
    true,
  );
}
