// backprop-lens: the step-through as a notebook widget (anywidget). backprop_lens/widget.py says what it is.
//
// The kernel sends every step already drawn (the page's diagram, with its pulses, and the equation panel in
// MathML); this script only shows one at a time and runs the controls: restart, back, play/pause, forward,
// the scrubber, and the keys (← → step, space plays, Home/End) on the focused widget. The step shown is the
// model's "index", so Python sees what the student chose. Hovering a neuron or an edge shows its read-out
// under the diagram, as on the page.

const ICONS = { restart: "|◀", back: "◀", play: "▶", pause: "❚❚", forward: "▶|" };

function render({ model, el }) {
  el.classList.add("bpl", "bpl-widget");
  el.tabIndex = 0;
  el.setAttribute("role", "group");
  el.setAttribute("aria-label", "Backpropagation, step by step (keys: arrows, space, Home, End)");
  el.innerHTML = `
    <div class="bpl-toolbar">
      <div class="bpl-transport">
        <button type="button" class="bpl-restart" aria-label="First step">${ICONS.restart}</button>
        <button type="button" class="bpl-back" aria-label="Step back">${ICONS.back}</button>
        <button type="button" class="bpl-play" aria-label="Play" aria-pressed="false">${ICONS.play}</button>
        <button type="button" class="bpl-forward" aria-label="Step forward">${ICONS.forward}</button>
      </div>
      <input type="range" class="bpl-scrubber" min="0" step="1" aria-label="Step">
      <span class="bpl-counter" aria-live="polite"></span>
    </div>
    <p class="bpl-status"></p>
    <div class="bpl-panels"><div class="bpl-figure"></div><div class="bpl-eq"></div></div>`;
  const $ = (cls) => el.querySelector(`.${cls}`);
  const [figure, equation, scrubber, counter, status, play] =
    ["bpl-figure", "bpl-eq", "bpl-scrubber", "bpl-counter", "bpl-status", "bpl-play"].map($);
  let timer = null;

  const count = () => model.get("steps").length;
  const go = (k) => {
    const next = Math.max(0, Math.min(count() - 1, k));
    if (next !== model.get("index")) {
      model.set("index", next);
      model.save_changes();
    }
  };

  function setPlaying(on) {
    clearInterval(timer);
    timer = on ? setInterval(() => {
      if (model.get("index") >= count() - 1) setPlaying(false);
      else go(model.get("index") + 1);
    }, model.get("speed")) : null;
    play.setAttribute("aria-pressed", on ? "true" : "false");
    play.setAttribute("aria-label", on ? "Pause" : "Play");
    play.textContent = on ? ICONS.pause : ICONS.play;
  }

  function show() {
    const k = model.get("index");
    const step = model.get("steps")[k];
    if (!step) return;
    figure.innerHTML = step.diagram;
    equation.innerHTML = step.equation;
    scrubber.max = String(count() - 1);
    scrubber.value = String(k);
    scrubber.setAttribute("aria-valuetext", `step ${k + 1}: ${step.title}`);
    counter.textContent = `step ${k + 1} / ${count()} · ${step.short}`;
    status.textContent = step.title;
    el.dataset.step = String(k);
    el.dataset.phase = step.phase;
    $("bpl-back").disabled = $("bpl-restart").disabled = k <= 0;
    $("bpl-forward").disabled = k >= count() - 1;
  }

  $("bpl-restart").addEventListener("click", () => { setPlaying(false); go(0); });
  $("bpl-back").addEventListener("click", () => { setPlaying(false); go(model.get("index") - 1); });
  $("bpl-forward").addEventListener("click", () => { setPlaying(false); go(model.get("index") + 1); });
  play.addEventListener("click", () => {
    if (!timer && model.get("index") >= count() - 1) go(0);
    setPlaying(!timer);
  });
  scrubber.addEventListener("input", () => { setPlaying(false); go(Number(scrubber.value)); });
  el.addEventListener("keydown", (e) => {
    if (e.target === scrubber) return; // the range input has its own arrow keys
    const keys = {
      ArrowLeft: () => go(model.get("index") - 1),
      ArrowRight: () => go(model.get("index") + 1),
      Home: () => go(0),
      End: () => go(count() - 1),
    };
    if (e.key === " ") setPlaying(!timer);
    else if (e.key in keys) { setPlaying(false); keys[e.key](); }
    else return;
    e.preventDefault();
    e.stopPropagation(); // JupyterLab's own shortcuts stay out of it
  });
  figure.addEventListener("mouseover", (e) => {
    const item = e.target.closest("[data-info]");
    const inspect = figure.querySelector(".inspect");
    if (item && inspect) inspect.textContent = item.dataset.info;
  });

  model.on("change:index", show);
  model.on("change:steps", show);
  show();
  return () => {
    clearInterval(timer);
    model.off("change:index", show);
    model.off("change:steps", show);
  };
}

export default { render };
