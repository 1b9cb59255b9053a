// backprop-lens: lecture mode on the step-through page, and the step's exports for slides.
//
// Lecture mode is a run drawn for a projector (the server lays the diagram out with numbers of at
// least 21 px, app/stepper/present.py, and the stylesheet hides the configuration, the tables and the
// instruments). This file only switches it: the "Present" button or P asks the server for the run in
// lecture mode (or out of it) at the step shown and swaps #run; F puts the page in full screen (and
// into lecture mode first); Esc leaves full screen, then lecture mode. Space, ← → and Home/End are
// lens.js's, and work the same in both modes; a playing stream is paused through window.lens.
//
// The URL bar then holds the run's permalink (with present=1 in lecture mode), which a lecturer can
// bookmark. It composes no path of its own: the URLs are #run's data-present-url and #permalink's href,
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
      .finally(() => {
        const link = $("permalink");
        if (link && presenting() === on) history.replaceState(null, "", link.href);
        stage();
      });
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

  // How many lines the panel itself left out (they are in the tables): its note names the neurons of a wide
  // layer it skipped ("The other 10 neurons of the layer …"), each worth as many lines as a neuron shown; for
  // the gradients of a layer after a wide one ("Every ∂C/∂wˡ is in its table below") the table counts them:
  // a line for each bias (a row) and each weight (a cell), less the lines shown.
  function elided(lines) {
    const note = document.querySelector("#equation .more")?.textContent ?? "";
    const current = Array.from(document.querySelectorAll("#net .neuron.current"), (n) => n.id);
    const layer = current[0]?.split("-")[1];
    const table = layer && note.includes("∂C/∂w") ? $(`gradient-${layer}`) : null;
    if (table) {
      const rows = table.querySelectorAll("tbody tr").length;
      const columns = table.querySelectorAll("thead th").length - 1;
      return Math.max(0, rows * (1 + columns) - lines.length);
    }
    const other = /The other (\d+) neurons/.exec(note);
    if (!other) return 0;
    const ids = new Set(current);
    const own = new Set(lines.flatMap((l) => (l.dataset.highlight ?? "").split(" ").filter((id) => ids.has(id))));
    return own.size ? Math.round((Number(other[1]) * lines.length) / own.size) : 0;
  }

  // The lines of the equation with numbers that the screen holds under the diagram; the others wait in the
  // tables, and the stylesheet writes how many after the last line shown (data-more on .numeric), counting
  // those the panel itself left out, whose own note stays. Fitted again after every step, whichever way it
  // arrived. Only attributes change: an element added inside #stage would shift the element paths that the
  // stream's patches follow.
  function fit() {
    const numeric = document.querySelector("#equation .numeric");
    const words = document.querySelector("#equation .words");
    const lines = Array.from(document.querySelectorAll("#equation .eq-line"));
    for (const el of [...lines, words]) if (el) el.hidden = false;
    numeric?.removeAttribute("data-more");
    if (!presenting() || !numeric) return;
    const over = () => document.documentElement.scrollHeight > window.innerHeight;
    const left = elided(lines);
    const note = (n) => {
      if (n > 0) numeric.dataset.more = `${n} more line${n > 1 ? "s" : ""} in the tables (Esc leaves lecture mode)`;
    };
    note(left);
    let hidden = 0;
    for (let i = lines.length - 1; i > 0 && over(); i--) {
      lines[i].hidden = true;
      hidden++;
      note(hidden + left); // the note takes a line's room too
    }
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
