// backprop-lens: lecture mode on the step-through page, and the step's exports for slides.
//
// Lecture mode is a run drawn for a projector (the server lays the diagram out with numbers of at
// least 21 px, app/stepper/view/present.py, and the stylesheet hides the configuration, the tables and the
// instruments). This file only switches it: the "Present" button or P asks the server for the run in
// lecture mode (or out of it) at the step shown and swaps #run; F puts the page in full screen (and
// into lecture mode first); Esc leaves full screen, then lecture mode. Space, ← → and Home/End are
// lens.js's (in lecture mode ← → walk a long equation's lines first); a playing stream is paused through
// window.lens. This file decides whether a step's equation is walked: when the screen cannot hold its lines.
//
// The URL bar holds what is on screen (lens.js writes it, with present=1 in lecture mode), which a lecturer
// can bookmark. It composes no path of its own: the URLs are #run's data-present-url and data-step-url,
// which the server writes under the app's root path.
(() => {
  "use strict";

  const { $, typing, newestWins } = window.lensCommon;
  const presenting = () => $("run")?.dataset.present === "1";

  // A switch asked for while one is on its way is made after it (the newest of them).
  const switches = newestWins((on) => {
    const run = $("run");
    if (!run || presenting() === on) return;
    window.lens?.pause(); // a playing stream belongs to the old #run
    const url = `${run.dataset.presentUrl}?on=${on}&step=${Number(run.dataset.step ?? 0)}`;
    return Promise.resolve(htmx.ajax("POST", url, { target: "#run", swap: "outerHTML" }))
      .catch(() => {})
      .finally(stage);
  });
  const setMode = (on) => switches.ask(on);

  // After a switch the focus leaves the button (clicked, it keeps the focus: space would press it again and
  // switch back) for the run itself, where space plays as lens.js's key handler has it and Tab goes on from.
  function stage() {
    const run = $("run");
    const focus = document.activeElement;
    if (!run || (focus && focus !== document.body && focus.id !== "btn-present" && focus.isConnected)) return;
    if (!run.hasAttribute("tabindex")) run.setAttribute("tabindex", "-1");
    run.focus({ preventScroll: true });
  }

  const fullScreen = () => document.fullscreenElement !== null;

  function toggleFullScreen() {
    if (fullScreen()) {
      document.exitFullscreen().catch(() => {});
      return;
    }
    if (!presenting()) setMode(true);
    // Asked for in the key's own handler: the browser allows full screen only in answer to a gesture.
    try {
      document.documentElement.requestFullscreen?.()?.catch(() => {});
    } catch (_) {
      // no full screen here (an iframe without allowfullscreen): lecture mode alone
    }
  }

  // Lecture mode shows every line of the step's equation (the server writes one for every neuron drawn):
  // all at once when the screen holds them under the diagram, else one at a time, large, with the symbolic
  // equation above it: lens.js then walks the lines with → and ← (window.lens.walk) and says "line 3 of 20".
  // Fitted again after every step, whichever way it arrived. Only attributes and classes change: an element
  // added inside #stage would shift the element paths that the stream's patches follow.
  function fit() {
    const numeric = document.querySelector("#equation .numeric");
    const words = document.querySelector("#equation .words");
    if (words) words.hidden = false;
    numeric?.classList.remove("walking");
    if (!presenting() || !numeric) {
      if ($("run")?.dataset.walk === "1") window.lens?.walk(false);
      return;
    }
    const over = () => document.documentElement.scrollHeight > window.innerHeight;
    const walk = over() && numeric.querySelectorAll(".eq-line").length > 1;
    numeric.classList.toggle("walking", walk);
    window.lens?.walk(walk);
    if (words) words.hidden = over(); // the lecturer says it
  }
  for (const name of ["lens:step", "htmx:after:swap", "htmx:after:settle", "DOMContentLoaded"]) {
    document.addEventListener(name, () => requestAnimationFrame(fit));
  }
  window.addEventListener("resize", () => requestAnimationFrame(fit));

  // The "for slides" links follow the step shown (the server wrote their base under the root path).
  function exports() {
    const box = document.getElementById("exports");
    const run = $("run");
    if (!box || !run) return;
    const base = `${box.dataset.stepsUrl}${Number(run.dataset.step ?? 0)}`;
    $("export-svg")?.setAttribute("href", `${base}/diagram.svg`);
    $("export-tex")?.setAttribute("href", `${base}/equation.tex`);
  }
  for (const name of ["lens:step", "htmx:after:swap", "DOMContentLoaded"]) document.addEventListener(name, exports);

  document.addEventListener("click", (e) => {
    const button = e.target instanceof Element ? e.target.closest("#btn-present") : null;
    if (!button) return;
    e.preventDefault();
    setMode(!presenting());
  });

  document.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || typing(e.target) || !$("run")) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (key === "p") {
      e.preventDefault();
      setMode(!presenting());
    } else if (key === "f") {
      e.preventDefault();
      toggleFullScreen();
    } else if (key === "Escape" && presenting()) {
      e.preventDefault();
      if (fullScreen()) document.exitFullscreen().catch(() => {});
      else setMode(false);
    }
  });
})();
