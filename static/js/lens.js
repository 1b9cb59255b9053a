// backprop-lens: the player of the step-through page.
//
// htmx does the requests and the swaps; this file only does what animation and
// the controls need: play and pause (by opening and closing the step stream),
// stepping, the keyboard, the speed, the inspector line under the diagram and
// copying the permalink. No inline scripts: the page's CSP forbids them.
//
// It composes no path of its own: the step and stream URLs are #run's
// data-step-url and data-stream-url, which the server writes under the app's
// root path (a deployment at /backprop/ works unchanged).
//
// Other scripts can follow the step: #run carries data-run-id and data-step,
// and a "lens:step" event (detail: {runId, step, steps}) fires on #run after
// every change. They drive the player through window.lens (never by clicking its
// buttons): current(), goto(k), step(delta), play(), pause(), playing(). A step,
// play or pause the person asks for (a button, a key) also fires "lens:own" on
// the document, so that a page following a lecturer knows the person explores.
//
// The stream sends its first step whole (htmx swaps it into #stage) and every
// later one as a "stage-patch" event: what changed since the step before, which
// applyPatch puts in place (app/stepper/view/patch.py says what each operation does).
(() => {
  "use strict";

  let playing = false;
  let speedMs = 700;

  const { $, typing, backoff, newestWins } = window.lensCommon;
  const run = () => $("run");
  const num = (el, name) => Number(el?.dataset[name] ?? 0);

  function current() {
    const r = run();
    return {
      id: r?.dataset.runId,
      step: num(r, "step"),
      steps: num(r, "steps"),
      stepUrl: r?.dataset.stepUrl, // + k: step k
      streamUrl: r?.dataset.streamUrl,
    };
  }

  function setPlaying(on) {
    playing = on;
    const b = $("btn-play");
    if (!b) return;
    b.setAttribute("aria-pressed", on ? "true" : "false");
    b.setAttribute("aria-label", on ? "Pause" : "Play");
    run()?.classList.toggle("playing", on);
  }

  // The address bar always holds what is on screen: the run's own address (data-step-url + step) with its
  // configuration (data-query: iteration and lecture mode included) and the line, so that a reload, a bookmark
  // or another process (after the run expired, or a restart without Redis) opens the same view; the server
  // makes the run again from that query. A student's ?follow=CODE and a lecturer's ?lead=CODE stay (follow.js
  // reads them). #permalink and "Copy link" follow too (data-permalink: /?configuration, + step and line).
  // A new configuration or iteration is a new entry in the history, so that Back returns to the one before
  // (popstate reloads that address); steps, lines and lecture mode replace the entry, keeping its fragment: the
  // lecturer link's token is there until follow.js takes it, which may be after a swap has already run (a script
  // still downloading while the instruments' request comes back).
  let addressedConfig = null;
  const withView = (base, step, line) => {
    const url = new URL(base, location.href);
    for (const key of ["step", "line"]) url.searchParams.delete(key);
    if (step) url.searchParams.set("step", String(step));
    if (line) url.searchParams.set("line", String(line));
    return url;
  };
  const configOf = (query) => {
    const q = new URLSearchParams(query);
    q.delete("present");
    return q.toString();
  };
  function address() {
    const r = run();
    if (!r?.dataset.permalink) return;
    const step = num(r, "step");
    const permalink = withView(r.dataset.permalink, step, line);
    $("permalink")?.setAttribute("href", permalink.pathname + permalink.search);
    $("btn-copy")?.setAttribute("data-href", permalink.pathname + permalink.search);
    const url = new URL(`${r.dataset.stepUrl}${step}?${r.dataset.query ?? ""}`, location.href);
    if (line) url.searchParams.set("line", String(line));
    const here = new URLSearchParams(location.search);
    for (const key of ["follow", "lead"]) if (here.has(key)) url.searchParams.set(key, here.get(key));
    const config = configOf(r.dataset.query ?? "");
    const fresh = addressedConfig !== null && config !== addressedConfig;
    addressedConfig = config;
    const target = url.pathname + url.search;
    if (target === location.pathname + location.search) return;
    if (fresh) history.pushState({ lens: true }, "", target);
    else history.replaceState(history.state, "", target + location.hash); // the lecturer link's token: follow.js's
  }
  window.addEventListener("popstate", () => location.reload());

  // The line of the equation on screen (from 1; 0: none). Lecture mode walks a long equation line by line
  // (present.js decides, after laying the step out, whether the screen holds every line: #run's data-walk);
  // a student's page marks the lecturer's line. The line marks its neurons and edges on the diagram, the
  // toolbar says "line 3 of 20", and "lens:line" (detail: {step, line}) fires on #run.
  let line = num(run(), "line");
  let arriveLast = null; // the step that arrives at its last line (a step back from a first line), if any
  const eqLines = () => Array.from(document.querySelectorAll("#equation .eq-line"));
  const walking = () => run()?.dataset.walk === "1";

  function markLine() {
    const r = run();
    const mode = r?.dataset.walk; // "1" walked, "0" every line at once, else present.js has yet to lay it out
    if (r?.dataset.present === "1" && mode !== "1" && mode !== "0") return address();
    const all = eqLines();
    const arrived = arriveLast === num(r, "step") && num($("step-meta"), "step") === arriveLast;
    if (arrived) arriveLast = null;
    if (walking()) {
      if (arrived) line = all.length;
      line = Math.max(1, Math.min(all.length, line || 1));
    } else if (r?.dataset.present === "1") {
      line = 0; // every line on screen at once
    }
    line = Math.min(line, all.length);
    const shown = all[line - 1];
    all.forEach((el) => el.classList.toggle("current-line", el === shown));
    document.querySelectorAll("#diagram .line-mark").forEach((el) => el.classList.remove("line-mark"));
    for (const id of (shown?.dataset.highlight ?? "").split(" ")) if (id) $(id)?.classList.add("line-mark");
    markPoint();
    const out = $("line-of");
    if (out) {
      out.hidden = !(walking() && line);
      out.textContent = line ? `line ${line} of ${all.length}` : "";
    }
    address();
  }

  function setLine(n) {
    const before = line;
    line = n;
    markLine();
    const r = run();
    if (r && line !== before) {
      r.dispatchEvent(new CustomEvent("lens:line", { bubbles: true, detail: { step: num(r, "step"), line } }));
    }
  }

  // A step asked for moves through the lines first where lecture mode walks them: true if it did.
  function moveLine(delta) {
    if (!walking() || requested !== null) return false;
    const next = line + delta;
    if (next < 1 || next > eqLines().length) return false;
    setLine(next);
    return true;
  }

  // After any swap into the page: copy the step shown into #run and the buttons.
  function sync() {
    keepStop();
    const r = run();
    const meta = $("step-meta");
    if (!r || !meta) return address();
    const step = num(meta, "step");
    const steps = num(meta, "steps");
    const changed = r.dataset.step !== String(step);
    r.dataset.step = String(step);
    r.dataset.steps = String(steps);
    $("btn-back").disabled = step <= 0;
    $("btn-restart").disabled = step <= 0;
    $("btn-forward").disabled = step >= steps - 1;
    $("btn-end").disabled = step >= steps - 1;
    const speed = $("speed");
    if (speed && Number(speed.value) !== speedMs) {
      speed.value = String(speedMs);
      showSpeed();
    }
    if (r.dataset.runId !== syncedRun) {
      syncedRun = r.dataset.runId;
      pointing = "";
      line = num(r, "line"); // a run's page opens at the line its address names
    } else if (changed) {
      pointing = ""; // what was pointed at belongs to the step before
      line = following ?? 0; // a new step starts at its first line (or the line a follower was sent to)
      following = null;
      if (r.dataset.present === "1") r.dataset.walk = "pending";
    }
    markLine();
    if (changed) {
      showFocus();
      r.dispatchEvent(new CustomEvent("lens:step", { bubbles: true, detail: { runId: r.dataset.runId, step, steps } }));
    }
  }

  // On a phone the diagram keeps its size and scrolls sideways (#net-scroll): bring the layer the step is
  // about into view. Elsewhere the diagram fits its panel and nothing scrolls.
  // The layers the step reads from and writes to (#net's data-layers, from the server) are centred together:
  // at BP2 both the layer δ comes from and the layer it reaches. Wider than the screen (the update's every
  // layer), the output end shows.
  function showFocus() {
    const box = $("net-scroll");
    const net = $("net");
    if (!box || !net || box.scrollWidth <= box.clientWidth) return;
    const layers = (net.dataset.layers ?? "").split(" ").filter(Boolean);
    const parts = layers.flatMap((l) => Array.from(net.querySelectorAll(`#net-neurons [id^="n-${l}-"]`)));
    if (!parts.length) return;
    const b = box.getBoundingClientRect();
    const lo = Math.min(...parts.map((p) => p.getBoundingClientRect().left));
    const hi = Math.max(...parts.map((p) => p.getBoundingClientRect().right));
    const centred = box.scrollLeft + (lo + hi) / 2 - b.left - box.clientWidth / 2;
    const left = hi - lo > box.clientWidth ? box.scrollLeft + hi - b.left - box.clientWidth + 4 : centred;
    const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    box.scrollTo({ left: Math.max(0, left), behavior: smooth ? "smooth" : "auto" });
  }

  // Steps are fetched one at a time; keys pressed faster than the server answers
  // count from the step last asked for, and only the newest wish is fetched next.
  let requested = null;
  let syncedRun = null;
  let following = null; // the line the next step arrives at, when another script asked for one (lens.goto)
  const steps = newestWins(
    (k) => {
      const { id, stepUrl } = current();
      if (id) return htmx.ajax("GET", `${stepUrl}${k}`, { target: "#stage", swap: "innerMorph" });
    },
    () => (requested = null),
  );

  function go(k, keepPlaying = false) {
    const { id, steps: n } = current();
    if (!id) return;
    if (!keepPlaying) stop();
    requested = Math.max(0, Math.min(n - 1, k));
    steps.ask(requested);
  }

  // → and ←: the next or previous line where lecture mode walks the equation, else the next or previous step
  // (back from a first line: the step before at its last line).
  function advance(delta, keepPlaying = false) {
    if (moveLine(delta)) return;
    const { step, steps: n } = current();
    const k = (requested ?? step) + delta;
    if (k < 0 || k > n - 1) return;
    arriveLast = delta < 0 && run()?.dataset.present === "1" ? k : null;
    go(k, keepPlaying);
  }
  const by = (delta) => () => {
    stop();
    advance(delta);
  };

  // start: the first step to stream; by default the one after the step shown (or the first, at the end).
  // Lecture mode plays steps (the server's stream); with "play lines too" ticked, where the equation is walked,
  // every line and then every step, one each step time.
  let lineTimer = null;
  function playLines() {
    clearTimeout(lineTimer);
    lineTimer = setTimeout(() => {
      const { step, steps: n } = current();
      if (line >= eqLines().length && step >= n - 1) return stop();
      advance(1, true);
      playLines();
    }, speedMs);
  }

  function play(start = null) {
    stop();
    const { id, step, steps, streamUrl } = current();
    const player = $("player");
    if (!id || !player) return;
    if (start === null && walking() && $("play-lines")?.checked) {
      setPlaying(true);
      playLines();
      return;
    }
    const from = start ?? (step >= steps - 1 ? 0 : step + 1);
    $("stream-status").hidden = true;
    // The template gives the player hx-sse:close="done", its target and its swap.
    player.setAttribute("hx-sse:connect", `${streamUrl}?from=${from}&interval_ms=${speedMs}`);
    htmx.process(player);
    setPlaying(true);
  }

  // A server that shuts down ends the stream with done {"reason": "restarting"}: open it again from the
  // step shown, to whichever process answers, after a pause (with jitter, so that a class does not come
  // back at once) that doubles while the server is away; after the last try, the notice.
  const resumes = backoff(); // its tries count from the last step that arrived
  let resumeTimer = null;

  function resumeLater() {
    const delay = resumes.next();
    if (delay === null) return false;
    resumeTimer = setTimeout(() => current().step < current().steps - 1 && play(), delay);
    return true;
  }

  // Closing the stream: clean the player up (htmx aborts its fetch) and put a
  // fresh one in its place, so the old stream's last events touch nothing.
  function stop() {
    clearTimeout(resumeTimer);
    clearTimeout(lineTimer);
    const player = $("player");
    if (player && player.hasAttribute("hx-sse:connect")) {
      player.removeAttribute("hx-sse:connect");
      htmx.process(player, true);
      player.replaceWith(player.cloneNode(false));
    }
    setPlaying(false);
  }

  function toggle() {
    if (playing) stop();
    else play();
  }

  function showSpeed() {
    const out = $("speed-out");
    if (out) out.textContent = `${(speedMs / 1000).toFixed(1)} s`;
    $("speed")?.setAttribute("aria-valuetext", `${(speedMs / 1000).toFixed(1)} s per step`);
  }

  const actions = {
    "btn-restart": () => go(0),
    "btn-back": by(-1),
    "btn-play": toggle,
    "btn-forward": by(1),
    "btn-end": () => go(current().steps - 1),
  };
  // What the person asked for, as opposed to another script's call through window.lens.
  const own = (action) => {
    document.dispatchEvent(new CustomEvent("lens:own"));
    action();
  };

  document.addEventListener("click", (e) => {
    const target = e.target instanceof Element ? e.target.closest("button") : null;
    if (!target) return;
    if (target.id in actions) {
      e.preventDefault();
      own(actions[target.id]);
    } else if (target.id === "btn-resume") {
      e.preventDefault();
      play(); // the stream the page lost, again: not a step of the person's own
    } else if (target.id === "btn-copy") {
      const url = new URL(target.dataset.href, location.href).href;
      const done = () => {
        target.textContent = "Copied";
        setTimeout(() => (target.textContent = "Copy link"), 1500);
      };
      navigator.clipboard?.writeText(url).then(done, () => prompt("Copy this link", url));
    } else if (target.id === "btn-next" || target.id === "btn-apply") {
      stop();
    }
  });

  document.addEventListener("input", (e) => {
    if (e.target.id === "play-lines" && playing) play();
    if (e.target.id !== "speed") return;
    speedMs = Number(e.target.value);
    showSpeed();
    if (playing) play(); // reopen the stream at the new pace, from the step shown
  });

  // The diagram is one tab stop (a roving tabindex over its neurons): ↑ ↓ move within a layer, ← → to the
  // neighbouring layer's neuron at the same height, Home and End to a layer's ends; E goes through the focused
  // neuron's edges (in, then out; Shift+E back) and Esc returns to the neuron. These keys do not step the player.
  let homeNeuron = null; // the neuron whose edges E goes through, and the one that keeps the tab stop
  const neuronsOf = (layer) => Array.from(document.querySelectorAll(`#net-neurons [id^="n-${layer}-"]`));
  function keepStop(el = homeNeuron && $(homeNeuron)) {
    // one element of the diagram in the tab order; after a swap or a patch, the neuron last focused
    if (!el) return;
    document.querySelectorAll("#net [tabindex='0']").forEach((t) => t !== el && t.setAttribute("tabindex", "-1"));
    el.setAttribute("tabindex", "0");
  }
  function edgesOf(layer, j) {
    const ins = Array.from(document.querySelectorAll(`#net-edges .edge[id^="e-${layer}-${j}-"]`));
    const outs = Array.from(document.querySelectorAll(`#net-edges .edge[id^="e-${layer + 1}-"]`));
    return [...ins, ...outs.filter((o) => o.id.split("-")[3] === String(j))].filter((x) => x.dataset.info);
  }
  function diagramKey(e) {
    const item = e.target instanceof Element ? e.target.closest("#net .neuron, #net .edge") : null;
    if (!item || e.altKey || e.ctrlKey || e.metaKey) return;
    const onEdge = item.classList.contains("edge");
    const neuron = onEdge ? homeNeuron && $(homeNeuron) : item;
    if (!neuron) return;
    const [, layer, j] = neuron.id.split("-").map(Number);
    const column = neuronsOf(layer);
    const at = column.indexOf(neuron);
    let next = null;
    if (onEdge && e.key.startsWith("Arrow")) {
      next = neuron; // from an edge, the arrows first return to its neuron
    } else if (e.key in { ArrowUp: 1, ArrowDown: 1, Home: 1, End: 1 }) {
      next = column[{ ArrowUp: at - 1, ArrowDown: at + 1, Home: 0, End: column.length - 1 }[e.key]];
    } else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      // the neighbouring layer's neuron nearest in height (the upper of two as near)
      const y = (n) => Number(n.querySelector("circle")?.getAttribute("cy") ?? 0);
      const other = neuronsOf(layer + (e.key === "ArrowLeft" ? -1 : 1));
      next = other.reduce((best, n) => (Math.abs(y(n) - y(neuron)) < Math.abs(y(best) - y(neuron)) ? n : best), other[0]);
    } else if (e.key === "Escape" && onEdge) {
      next = neuron;
    } else if (e.key === "e" || e.key === "E") {
      const edges = edgesOf(layer, j);
      const out = $("inspect");
      if (!edges.length && out) out.textContent = "Too many edges to visit one by one: their numbers are in the tables.";
      const from = onEdge ? edges.indexOf(item) : e.shiftKey ? 0 : -1;
      next = edges.length ? edges[(from + (e.shiftKey ? -1 : 1) + edges.length) % edges.length] : null;
    } else {
      return;
    }
    e.preventDefault();
    e.stopPropagation(); // the player's (and lecture mode's) arrows stay off while the diagram has the focus
    if (!next) return;
    if (next.classList.contains("neuron")) {
      homeNeuron = next.id;
      keepStop(next);
    }
    next.focus();
  }
  document.addEventListener("keydown", diagramKey, { capture: true });
  // The skip link moves the focus past the drawing without putting a fragment in the address (which is the
  // view's permalink).
  document.addEventListener("click", (e) => {
    const skip = e.target instanceof Element ? e.target.closest(".skip-diagram") : null;
    if (!skip) return;
    e.preventDefault();
    $(skip.getAttribute("href").slice(1))?.focus();
  });
  document.addEventListener("focusin", (e) => {
    const n = e.target instanceof Element ? e.target.closest("#net .neuron") : null;
    if (n) homeNeuron = n.id;
  });

  document.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || typing(e.target) || !run()) return;
    const onControl = e.target instanceof Element && e.target.closest("button, a, summary");
    const keys = {
      ArrowLeft: by(-1),
      ArrowRight: by(1),
      Home: () => go(0),
      End: () => go(current().steps - 1),
    };
    if (e.key === " " && !onControl) {
      e.preventDefault();
      own(toggle);
    } else if (e.key in keys) {
      e.preventDefault();
      own(keys[e.key]);
    }
  });

  // Pointing. What the person points at (the neuron or edge inspected, or an equation line) is "lens:point" on
  // #run (detail: {point}: the item's id, "line:3", or ""): the lecturer's page tells the class. On a student's
  // page, window.lens.point(p) marks what the lecturer points at (.pointed), again after each step arrives.
  let pointing = ""; // this page's own
  let pointed = ""; // the lecturer's, on a follower's page
  function pointAt(p) {
    if (p === pointing) return;
    pointing = p;
    run()?.dispatchEvent(new CustomEvent("lens:point", { bubbles: true, detail: { point: p } }));
  }
  function markPoint() {
    document.querySelectorAll(".pointed").forEach((el) => el.classList.remove("pointed"));
    if (!pointed) return;
    const n = pointed.startsWith("line:") ? Number(pointed.slice(5)) : 0;
    const item = n ? eqLines()[n - 1] : document.querySelector(`#diagram [id="${pointed}"]`);
    if (!item) return;
    item.classList.add("pointed");
    for (const id of n ? (item.dataset.highlight ?? "").split(" ") : []) if (id) $(id)?.classList.add("pointed");
  }

  // The inspector: the numbers of the neuron or edge under the pointer, the focus or a tap.
  // data-info is written by the server with the page's one number formatter (app/core/format.py's
  // fmt): this script prints it as it is and never formats a number itself.
  function inspect(e) {
    const item = e.target instanceof Element ? e.target.closest("#diagram [data-info]") : null;
    const out = $("inspect");
    if (!item || !out) return;
    document.querySelectorAll("#diagram .inspected").forEach((el) => el.classList.remove("inspected"));
    item.classList.add("inspected");
    out.textContent = item.dataset.info;
    if (item.id) pointAt(item.id);
  }
  document.addEventListener("mouseover", inspect);
  document.addEventListener("focusin", inspect);
  document.addEventListener("click", inspect); // a tap on a touch screen, where nothing hovers

  // A line of the equation with its numbers marks the neurons and edges it is about.
  function highlight(e) {
    const line = e.target instanceof Element ? e.target.closest(".eq-line[data-highlight]") : null;
    document.querySelectorAll("#diagram .highlight").forEach((el) => el.classList.remove("highlight"));
    if (!line) return;
    for (const id of line.dataset.highlight.split(" ")) $(id)?.classList.add("highlight");
    pointAt(`line:${eqLines().indexOf(line) + 1}`);
  }
  document.addEventListener("mouseover", highlight);
  document.addEventListener("focusin", highlight);
  // Pointing at nothing (the pointer or the focus left the diagram's items and the equation's lines) is said too.
  function pointAway(e) {
    const el = e.target instanceof Element ? e.target : null;
    if (!el?.closest("#diagram [data-info], .eq-line[data-highlight]")) pointAt("");
  }
  document.addEventListener("mouseover", pointAway);
  document.addEventListener("focusin", pointAway);

  // The cost chart: the iteration nearest the pointer's x, any of 0 … n (past 100 iterations the dots are
  // thinned; the line and the read-outs are not). The server prints the numbers (#history-chart's
  // data-readouts); this only picks one and puts the marker on the line's point.
  function readChart(e) {
    const out = $("history-readout");
    const marker = $("history-hover");
    if (!out || !marker) return;
    const svg = e.target instanceof Element ? e.target.closest("#history-chart") : null;
    const line = $("history-line");
    const shown = (svg?.dataset.readouts ?? "").split(" ");
    const n = shown.length - 1;
    const ctm = svg?.getScreenCTM();
    if (!svg || !line || !ctm || n < 1) {
      if (marker.getAttribute("visibility") !== "hidden") {
        marker.setAttribute("visibility", "hidden");
        out.textContent = out.dataset.last ?? "";
      }
      return;
    }
    const p = new DOMPoint(e.clientX, e.clientY).matrixTransform(ctm.inverse());
    const left = num(svg, "left");
    const right = num(svg, "right");
    const i = Math.max(0, Math.min(n, Math.round(((p.x - left) / (right - left)) * n)));
    const at = line.points.getItem(i);
    marker.setAttribute("cx", String(at.x));
    marker.setAttribute("cy", String(at.y));
    marker.setAttribute("visibility", "visible");
    marker.dataset.i = String(i);
    out.textContent = `iteration ${i}: C = ${shown[i]}`;
  }
  document.addEventListener("pointermove", readChart);
  document.addEventListener("pointerdown", readChart); // a tap on a touch screen

  document.addEventListener("htmx:after:swap", sync);
  document.addEventListener("htmx:before:swap", (e) => {
    // A new run replaces #run (and with it the player): nothing is playing then.
    if (e.detail?.ctx?.target?.id === "run") setPlaying(false);
  });
  const fromPlayer = (e) => e.target instanceof Element && e.target === $("player");

  // A patch's operation finds its element by id ("" is #stage) and element-child indices under it.
  function locate(id, path) {
    let el = id === "" ? $("stage") : $(id);
    for (const i of path) el = el?.children[i];
    if (!el) throw new Error(`stage-patch: no element at ${id} ${path}`);
    return el;
  }
  // HTML parsed where it goes (in an <svg>, a <tbody>, …), as innerHTML would parse it there.
  function parsedIn(parent, html) {
    const range = document.createRange();
    range.selectNodeContents(parent);
    return range.createContextualFragment(html);
  }
  // Each returns the element whose new content htmx may need to process (hx-get, hx-post), if any.
  const OPS = {
    a(ids, path, attrs) {
      for (const id of typeof ids === "string" ? [ids] : ids) {
        const el = locate(id, path);
        for (const [name, value] of Object.entries(attrs)) {
          if (value === null) el.removeAttribute(name);
          else el.setAttribute(name, value);
        }
      }
    },
    t(id, path, text) {
      locate(id, path).textContent = text;
    },
    h(id, path, html) {
      const el = locate(id, path);
      el.replaceChildren(parsedIn(el, html));
      return el;
    },
    o(id, path, html) {
      const el = locate(id, path);
      const parent = el.parentNode;
      el.replaceWith(parsedIn(parent, html));
      return parent;
    },
    r(ids) {
      for (const id of ids) {
        const el = locate(id, []);
        if (el.previousSibling?.nodeType === Node.TEXT_NODE) el.previousSibling.remove(); // its indentation
        el.remove();
      }
    },
    i(id, path, runs, html) {
      const parent = locate(id, path);
      const nodes = Array.from(parsedIn(parent, html).childNodes); // one parse for every run
      let at = 0;
      for (const [after, n] of runs) {
        let end = at;
        for (let seen = 0; seen < n; end++) if (nodes[end].nodeType === Node.ELEMENT_NODE) seen++;
        const run = nodes.slice(at, end);
        at = end;
        if (after === null) parent.prepend(...run);
        else locate(after, []).after(...run);
      }
      return parent;
    },
  };

  // A patch applies to the step it was made from. A page showing another step (one clicked meanwhile)
  // or missing an element opens the stream again at the patch's step, which then comes whole.
  function applyPatch(e) {
    if (!fromPlayer(e)) return;
    const patch = JSON.parse(e.detail?.data ?? "{}");
    const meta = $("step-meta");
    if (!meta || meta.dataset.step !== String(patch.from)) return play(patch.to);
    try {
      for (const [kind, ...args] of patch.ops) {
        const added = OPS[kind](...args);
        if (added && String(args[args.length - 1]).includes("hx-")) htmx.process(added);
      }
    } catch (err) {
      console.warn(err.message); // the next step comes whole: the page is right again
      return play(patch.to);
    }
    sync();
  }
  document.addEventListener("stage-patch", applyPatch);
  document.addEventListener("done", (e) => {
    if (!fromPlayer(e)) return;
    setPlaying(false);
    let reason = null;
    try {
      reason = JSON.parse(e.detail?.data ?? "{}").reason;
    } catch (_) {
      reason = null;
    }
    if (reason === "restarting") resumeLater();
  });
  document.addEventListener("htmx:sse:after:message", (e) => {
    const event = e.detail?.message?.event;
    if (fromPlayer(e) && (!event || event === "stage-patch")) resumes.reset(); // a step arrived: the server is back
  });
  document.addEventListener("htmx:sse:close", (e) => {
    if (fromPlayer(e)) setPlaying(false);
  });
  // A lost stream: an error while reading it (htmx:sse:error), a connection that failed before any answer
  // (htmx:error) or an error status such as 503 when every stream slot is taken (htmx:response:error).
  const streamLost = (e) => {
    if (!fromPlayer(e)) return;
    stop();
    if (resumes.tries > 0 && resumeLater()) return; // still waiting for a server after a restart
    resumes.reset();
    const status = $("stream-status");
    if (status) status.hidden = false;
  };
  for (const name of ["htmx:sse:error", "htmx:error", "htmx:response:error"]) {
    document.addEventListener(name, streamLost);
  }

  document.addEventListener("DOMContentLoaded", sync);
  document.addEventListener("DOMContentLoaded", showSpeed);

  window.lens = Object.freeze({
    current: () => {
      const { id, step, steps: n } = current();
      return { runId: id, step, steps: n };
    },
    // goto(k, line): step k, at that line (a follower's page: the lecturer's line)
    goto: (k, at = 0) => {
      if (k === current().step && requested === null) return setLine(at);
      following = at;
      go(k);
    },
    step: (delta) => by(delta)(),
    line: () => line,
    // present.js, once it has laid the step out: whether the screen holds every line (no walk) or not
    walk: (on) => {
      const r = run();
      if (!r) return;
      r.dataset.walk = on ? "1" : "0";
      setLine(line);
    },
    play: () => play(),
    pause: stop,
    playing: () => playing,
    // what the person points at, and point(p): mark what the lecturer points at (a follower's page)
    pointing: () => pointing,
    point: (p) => {
      pointed = p || "";
      markPoint();
    },
  });
})();
