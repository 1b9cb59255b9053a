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
// applyPatch puts in place (app/stepper/patch.py says what each operation does).
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

  // After a new run is swapped in (the next iteration, Run 10 or 100, a configuration, lecture mode), the
  // address becomes its permalink (#run's data-permalink, under the root path, with present=1 in lecture
  // mode), so that a reload or a bookmark returns to it. A student's ?follow=CODE and a lecturer's ?lead=CODE
  // stay (follow.js reads them); the address the page was loaded at stays until the run changes.
  let addressedRun = null;
  function address() {
    const r = run();
    const link = r?.dataset.permalink;
    if (!r || !link || r.dataset.runId === addressedRun) return;
    const first = addressedRun === null;
    addressedRun = r.dataset.runId;
    if (first) return;
    const url = new URL(link, location.href);
    const here = new URLSearchParams(location.search);
    for (const key of ["follow", "lead"]) if (here.has(key)) url.searchParams.set(key, here.get(key));
    history.replaceState(history.state, "", url.pathname + url.search);
  }

  // After any swap into the page: copy the step shown into #run and the buttons.
  function sync() {
    address();
    const r = run();
    const meta = $("step-meta");
    if (!r || !meta) return;
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
    if (changed) {
      showFocus();
      r.dispatchEvent(new CustomEvent("lens:step", { bubbles: true, detail: { runId: r.dataset.runId, step, steps } }));
    }
  }

  // On a phone the diagram keeps its size and scrolls sideways (#net-scroll): bring the layer the step is
  // about into view. Elsewhere the diagram fits its panel and nothing scrolls.
  function showFocus() {
    const box = $("net-scroll");
    const focus = box && box.querySelector(".neuron.current");
    if (!box || !focus || box.scrollWidth <= box.clientWidth) return;
    const b = box.getBoundingClientRect();
    const f = focus.getBoundingClientRect();
    const left = box.scrollLeft + f.left + f.width / 2 - b.left - box.clientWidth / 2;
    const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    box.scrollTo({ left: Math.max(0, left), behavior: smooth ? "smooth" : "auto" });
  }

  // Steps are fetched one at a time; keys pressed faster than the server answers
  // count from the step last asked for, and only the newest wish is fetched next.
  let requested = null;
  const steps = newestWins(
    (k) => {
      const { id, stepUrl } = current();
      if (id) return htmx.ajax("GET", `${stepUrl}${k}`, { target: "#stage", swap: "innerMorph" });
    },
    () => (requested = null),
  );

  function go(k) {
    const { id, steps: n } = current();
    if (!id) return;
    stop();
    requested = Math.max(0, Math.min(n - 1, k));
    steps.ask(requested);
  }

  const by = (delta) => () => go((requested ?? current().step) + delta);

  // start: the first step to stream; by default the one after the step shown (or the first, at the end).
  function play(start = null) {
    stop();
    const { id, step, steps, streamUrl } = current();
    const player = $("player");
    if (!id || !player) return;
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
    if (e.target.id !== "speed") return;
    speedMs = Number(e.target.value);
    showSpeed();
    if (playing) play(); // reopen the stream at the new pace, from the step shown
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

  // The inspector: the numbers of the neuron or edge under the pointer, the focus or a tap.
  // data-info is written by the server with the page's one number formatter (app/render.py's
  // fmt): this script prints it as it is and never formats a number itself.
  function inspect(e) {
    const item = e.target instanceof Element ? e.target.closest("#diagram [data-info]") : null;
    const out = $("inspect");
    if (!item || !out) return;
    document.querySelectorAll("#diagram .inspected").forEach((el) => el.classList.remove("inspected"));
    item.classList.add("inspected");
    out.textContent = item.dataset.info;
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
  }
  document.addEventListener("mouseover", highlight);
  document.addEventListener("focusin", highlight);

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

  window.lens = Object.freeze({
    current: () => {
      const { id, step, steps: n } = current();
      return { runId: id, step, steps: n };
    },
    goto: go,
    step: (delta) => by(delta)(),
    play: () => play(),
    pause: stop,
    playing: () => playing,
  });
})();
