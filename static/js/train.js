// Training page: follows a run's event stream and puts what it carries in place.
// The server writes every number and draws every chart (app/training/view.py: the texts, the charts as SVG,
// the heat maps as pictures, each edge's width, class and read-out); this file formats no number and defines
// no colour (the edges' classes are lens.css's and train.css's). It only lays the network out, once per run.
// The stream is finite: it ends with a `done` event, on which the EventSource is closed
// (an EventSource left open would reconnect and start the stream again). A stream that breaks off
// before `done` (with Redis, the web process relaying it shut down while the worker trains on) is
// opened again, to whichever process answers, from the last event seen.
(() => {
  "use strict";

  const { $, backoff } = window.lensCommon;
  const SVG = "http://www.w3.org/2000/svg";
  const RESUME_TRIES = 36; // 0.5, 1, 2, 4 s, then every 5 s: about 2.5 minutes in all
  const RESUME_MAX_MS = 5000;
  let costScale = "log"; // the person's choice outlives a run: the next run's chart starts with it

  function svgEl(name, attrs, parent) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (parent) parent.appendChild(el);
    return el;
  }

  // A chart the server drew takes the place of the one on the page (same id).
  function replaceChart(id, html) {
    const old = $(id);
    if (old && html) old.outerHTML = html;
  }

  // The newest charts the server drew (an event between two drawings carries none): the cost on the scale
  // chosen, the accuracy, the speed of learning.
  function drawCharts(panel, view) {
    const charts = panel.charts;
    if (charts) {
      replaceChart("train-cost-chart", charts[`cost_${costScale}`]);
      replaceChart("train-acc-chart", charts.accuracy);
      replaceChart("train-speed-chart", charts.speed);
    }
    $("train-cost-now").textContent = view.texts.cost ?? "";
    const history = $("train-eta-history");
    if (history) {
      history.textContent = view.eta_history ?? "";
      history.hidden = !view.eta_history;
    }
  }

  function showScale(panel) {
    panel.querySelectorAll(".train-scale button").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.scale === costScale));
    });
  }

  function drawPictures(view) {
    const heat = $("train-heat");
    if (heat && view.heat) heat.setAttribute("href", view.heat);
    if (!view.weights) return;
    document.querySelectorAll("img.train-neuron").forEach((img) => {
      const src = view.weights[Number(img.dataset.j)];
      if (src) img.src = src;
    });
  }

  // The network, built once from the first event's sizes: one column per layer, each neuron a square
  // (on two-dimensional data a heat map of its activation over the plane), every weight an edge.
  function buildNet(svg, sizes, maps, output) {
    const maxN = Math.max(...sizes);
    const s = maxN <= 6 ? 40 : maxN <= 10 ? 30 : 22;
    const gap = Math.round(s * 0.4);
    const W = 600;
    const H = maxN * (s + gap) - gap + 24;
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.replaceChildren();
    const edges = svgEl("g", { class: "edges" }, svg);
    const hits = svgEl("g", { class: "edge-hits" }, svg);
    const nodes = svgEl("g", { class: "nodes" }, svg);
    const L = sizes.length;
    const xs = sizes.map((_, i) => 12 + (i * (W - 24 - s)) / (L - 1));
    const ys = sizes.map((n) => Array.from({ length: n }, (_, j) => (H - (n * (s + gap) - gap)) / 2 + j * (s + gap)));
    const net = { edges: [], nodes: [] };
    for (let i = 0; i + 1 < L; i++) {
      const layerEdges = [];
      for (let j = 0; j < sizes[i + 1]; j++) {
        const row = [];
        for (let k = 0; k < sizes[i]; k++) {
          const line = svgEl("line", {
            class: "edge",
            x1: (xs[i] + s).toFixed(1),
            y1: (ys[i][k] + s / 2).toFixed(1),
            x2: xs[i + 1].toFixed(1),
            y2: (ys[i + 1][j] + s / 2).toFixed(1),
            "data-layer": i + 2,
            "data-j": j + 1,
            "data-k": k + 1,
          }, edges);
          svgEl("title", {}, line);
          // a wide transparent twin on top takes the pointer, so that a hairline edge can be pointed at too
          const hit = line.cloneNode(false);
          hit.setAttribute("class", "edge-hit");
          hits.appendChild(hit);
          line.hit = hit;
          row.push(line);
        }
        layerEdges.push(row);
      }
      net.edges.push(layerEdges);
    }
    sizes.forEach((n, i) => {
      const layer = [];
      for (let j = 0; j < n; j++) {
        const g = svgEl("g", { class: `node${i === 0 ? " input" : ""}`, "data-layer": i + 1, "data-j": j + 1 }, nodes);
        const box = { x: xs[i].toFixed(1), y: ys[i][j].toFixed(1), width: s, height: s };
        svgEl("rect", { ...box, rx: 3 }, g);
        const drawn = (maps && i > 0) || (output && i === L - 1);
        const image = drawn ? svgEl("image", { ...box, preserveAspectRatio: "none", href: "" }, g) : null;
        if (i === 0) {
          // its name, as the server writes it in the neuron's read-out ("input x₁")
          svgEl("text", { x: (xs[i] + s / 2).toFixed(1), y: (ys[i][j] + s / 2).toFixed(1), "text-anchor": "middle", "dominant-baseline": "central" }, g);
        }
        svgEl("rect", { ...box, rx: 3, class: "frame" }, g);
        svgEl("title", {}, g);
        layer.push({ g, image });
      }
      net.nodes.push(layer);
    });
    return net;
  }

  // The x₁, x₂ … labels at 12 units of the 600-wide drawing would shrink with it to 7 px on a phone: their
  // size (an attribute: train.css sets none for them) is whatever makes them at least 13 px on screen.
  function fitInputLabels(svg) {
    if (!svg) return;
    const width = svg.getBoundingClientRect().width;
    const units = width > 0 ? Math.max(12, (13 * 600) / width) : 12;
    svg.querySelectorAll(".node.input text").forEach((t) => t.setAttribute("font-size", units.toFixed(1)));
  }

  window.addEventListener("resize", () => fitInputLabels($("train-net-svg")));

  // Edges by the quantity chosen: w (width |w|, colour its sign) or the last epoch's mean ∂C/∂w (width
  // |∂C/∂w|, the gradients' diverging colours); the server gives both, one scale for the whole network.
  function drawNet(panel, net) {
    const figure = $("train-net");
    if (!figure || !net) return;
    const sizes = net.nodes.map((layer) => layer.length);
    const maps = net.nodes.slice(1, -1).some((layer) => layer.some(([, image]) => image));
    const output = net.nodes[net.nodes.length - 1].some(([, image]) => image);
    const key = `${sizes.join(",")}:${maps}:${output}`;
    if (!panel.net || panel.net.key !== key) {
      panel.net = buildNet($("train-net-svg"), sizes, maps, output);
      panel.net.key = key;
    }
    fitInputLabels($("train-net-svg")); // the figure may have been hidden (no width) when it was built
    const grad = figure.dataset.edges === "grad";
    panel.net.edges.forEach((layer, i) => {
      layer.forEach((row, j) => {
        row.forEach((line, k) => {
          const [wClass, wWidth, gClass, gWidth, w, g, read] = net.edges[i][j][k];
          line.setAttribute("class", `edge ${grad ? gClass : wClass}`);
          line.setAttribute("stroke-width", grad ? gWidth : wWidth);
          line.dataset.w = w;
          line.dataset.g = g;
          line.dataset.read = read;
          line.hit.dataset.read = read;
          line.firstChild.textContent = read;
        });
      });
    });
    const keyOf = (cls, label) => {
      const el = document.createElement("span");
      el.className = `key ${cls}`;
      el.textContent = label;
      return el;
    };
    const legend = $("train-net-legend");
    if (grad) legend.replaceChildren(net.legend.grad, keyOf("neg", "< 0"), " ", keyOf("pos", "> 0"));
    else legend.replaceChildren(net.legend.w, keyOf("wpos", "w > 0"), " ", keyOf("wneg", "w < 0"));
    panel.net.nodes.forEach((layer, i) => {
      layer.forEach((node, j) => {
        const [read, image] = net.nodes[i][j];
        if (node.image && image) node.image.setAttribute("href", image);
        if (i === 0) node.g.querySelector("text").textContent = read.replace(/^input /, "");
        node.g.lastChild.textContent = read;
        node.g.dataset.read = read;
      });
    });
    panel.lastNet = net;
  }

  function follow(panel) {
    let source = null;
    let lastId = ""; // the id of the last event received: a new stream resumes after it
    // A stream that ends without `done` is opened again, from the last event seen (`from`), after a pause that
    // doubles while no process answers, up to RESUME_MAX_MS; after the last try, the notice. The tries span about
    // two and a half minutes: long enough for a web process to restart or Redis to come back, after which the
    // training goes on (a worker takes it over from its checkpoint if its own gave it up).
    const resumes = backoff(RESUME_TRIES);
    let ended = false; // `done` arrived, or the page gave up, or it follows another run now
    let resumeTimer = null;
    panel.trainStream = {
      close() {
        ended = true;
        clearTimeout(resumeTimer);
        if (source) source.close();
      },
    };
    panel.redraw = () => panel.view && drawCharts(panel, panel.view);
    showScale(panel);

    function update(ev, final) {
      const p = JSON.parse(ev.data);
      $("train-queue").hidden = true; // a worker has it
      const view = p.view;
      if (view) {
        panel.view = view;
        if (view.charts) panel.charts = view.charts;
        const said = view.texts;
        $("train-progress").value = p.fraction;
        $("train-progress").textContent = said.progress;
        $("train-epoch").textContent = said.epoch;
        $("train-batch").textContent = said.batch;
        $("train-left").textContent = said.time;
        drawCharts(panel, view);
        drawPictures(view);
        drawNet(panel, view.network);
      }
      const batch = $("train-batch");
      batch.dataset.epoch = String(p.epoch);
      batch.dataset.batch = String(p.batch);
      const state = $("train-state");
      state.textContent = p.state;
      state.dataset.state = p.state;
      panel.dataset.state = p.state;
      if (final) {
        ended = true;
        source.close();
        const msg = $("train-message");
        if (p.message) {
          msg.textContent = p.message;
          msg.hidden = false;
          msg.dataset.state = p.state;
        }
        for (const id of ["train-controls", "train-eta"]) {
          const box = $(id);
          if (box) box.querySelectorAll("button, input").forEach((b) => (b.disabled = true));
        }
      }
    }
    // With Redis a training may wait for a free worker: show its place (1: next) until its first progress.
    function queued(ev) {
      const said = JSON.parse(ev.data);
      const place = said.position;
      const queue = $("train-queue");
      const where =
        place === 1 ? "waiting for a free worker: next in the queue" : `waiting for a free worker: ${place - 1} ahead in the queue`;
      queue.textContent = said.message ? `${where}; ${said.message}` : where;
      queue.dataset.position = place;
      queue.hidden = false;
    }

    // Every event proves the server is there: the tries start again from the first pause.
    function received(handle) {
      return (ev) => {
        resumes.reset();
        if (ev.lastEventId) lastId = ev.lastEventId;
        handle(ev);
      };
    }

    function open() {
      if (ended) return;
      const url = lastId ? `${panel.dataset.stream}?from=${encodeURIComponent(lastId)}` : panel.dataset.stream;
      source = new EventSource(url);
      source.addEventListener("queue", received(queued));
      source.addEventListener("progress", received((ev) => update(ev, false)));
      source.addEventListener("done", received((ev) => update(ev, true)));
      // The browser's own reconnection would not survive an error status; this one does, from `from`.
      source.onerror = () => {
        source.close();
        if (ended) return;
        const delay = resumes.next();
        if (delay !== null) {
          panel.dataset.resumes = String(resumes.tries);
          resumeTimer = setTimeout(open, Math.min(delay, RESUME_MAX_MS));
          return;
        }
        ended = true;
        const msg = $("train-message");
        msg.textContent = "The connection to the server was lost; the training has stopped. Press Train to start again.";
        msg.hidden = false;
      };
    }
    open();
  }

  let current = null; // the panel whose stream is open

  // A new run panel replaces the old one: close the old stream (which stops that training) and follow the new.
  function connectAll() {
    const panel = document.querySelector("#train-run-panel[data-stream]");
    if (!panel || panel === current) return;
    if (current && current.trainStream) current.trainStream.close();
    current = panel;
    follow(panel);
  }

  // A CSV chosen from disk is read into the textarea, so the form stays a plain urlencoded form.
  document.addEventListener("change", (ev) => {
    const input = ev.target;
    if (!(input instanceof HTMLInputElement) || input.id !== "f-csv-file" || !input.files.length) return;
    input.files[0].text().then((text) => {
      $("f-csv").value = text;
    });
  });

  // Points and noise belong to the generated sets, the CSV fields to "My own CSV": show only what applies.
  // (The server renders the same choice, with any field that has an error left visible.)
  function showDatasetFields() {
    const dataset = $("f-dataset");
    if (!dataset) return;
    const generated = ["xor", "moons", "circles", "spirals"].includes(dataset.value);
    const shown = (el, yes) => (el.hidden = !yes && !el.querySelector(".error"));
    document.querySelectorAll(".train-generated").forEach((el) => shown(el, generated));
    document.querySelectorAll(".train-csv").forEach((el) => shown(el, dataset.value === "csv"));
  }
  document.addEventListener("change", (ev) => {
    if (ev.target.id === "f-dataset") showDatasetFields();
  });

  // Beside Inspect's example field: the numbers of the chosen set ("1 to 160"), as the server first renders it.
  document.addEventListener("change", (ev) => {
    if (ev.target.id !== "i-split") return;
    const hint = $("i-example-hint");
    if (hint) hint.textContent = `1 to ${ev.target.value === "test" ? hint.dataset.test : hint.dataset.train}`;
  });

  // Log or linear cost axis: redraw the curve the page already has.
  document.addEventListener("click", (ev) => {
    const button = ev.target instanceof Element ? ev.target.closest(".train-scale button") : null;
    if (!button) return;
    costScale = button.dataset.scale === "linear" ? "linear" : "log";
    const panel = button.closest("#train-run-panel");
    if (!panel) return;
    showScale(panel);
    if (panel.redraw) panel.redraw();
  });

  // Edges show w or the last epoch's mean ∂C/∂w: redrawn from the last event.
  document.addEventListener("click", (ev) => {
    const button = ev.target instanceof Element ? ev.target.closest(".train-edges button") : null;
    if (!button) return;
    const figure = $("train-net");
    figure.dataset.edges = button.dataset.edges;
    figure.querySelectorAll(".train-edges button").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    const panel = button.closest("#train-run-panel");
    if (panel && panel.lastNet) drawNet(panel, panel.lastNet);
  });

  // Pointing at an edge or a neuron reads its numbers out under the diagram (its title says the same).
  document.addEventListener("mouseover", (ev) => {
    const el = ev.target instanceof Element ? ev.target.closest("#train-net-svg [data-read]") : null;
    if (!el) return;
    $("train-net-readout").textContent = el.dataset.read;
    document.querySelectorAll("#train-net-svg .hover").forEach((h) => h.classList.remove("hover"));
    const edges = el.parentNode.previousSibling; // an edge's twin stands at its index in the group after the edges
    const shown = el.classList.contains("edge-hit") ? edges.children[[...el.parentNode.children].indexOf(el)] : el;
    shown.classList.add("hover");
  });

  new MutationObserver(connectAll).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", connectAll);
  connectAll();
})();
