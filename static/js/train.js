// Training page: follows a run's event stream and draws what it carries.
// Every number comes from the server (the engine); this file only places and colours them.
// The stream is finite: it ends with a `done` event, on which the EventSource is closed
// (an EventSource left open would reconnect and start the stream again). A stream that breaks off
// before `done` (with Redis, the web process relaying it shut down while the worker trains on) is
// opened again, to whichever process answers, from the last event seen.
(() => {
  "use strict";

  const CHART = { left: 40, right: 310, top: 10, bottom: 140 };
  const SVG = "http://www.w3.org/2000/svg";
  // The diverging palette, blue (negative, or class 0) … orange (positive, or class 1): lens.css's custom
  // properties, which repeat app/core/palette.py's DIVERGING (a test keeps them equal).
  const DIVERGING = ["--neg", "--neg-light", "--zero", "--pos-light", "--pos"];
  const SUP = { "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹", "-": "⁻" };
  const DECADE_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500];
  let costScale = "log"; // the person's choice outlives a run: the next run's chart starts with it

  function $(id) {
    return document.getElementById(id);
  }

  function fmtSeconds(s) {
    if (s === null || s === undefined) return "";
    if (s < 1) return "under a second";
    if (s < 90) return `${Math.round(s)} s`;
    return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  }

  function sup(n) {
    return String(n).replace(/[-0-9]/g, (c) => SUP[c]);
  }

  // The page's number format (app.core.format.fmt): `sig` significant digits as %g would give them, ×10ⁿ
  // instead of e-notation, a true minus sign, never "−0".
  function fmt(v, sig = 4) {
    if (!Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : v > 0 ? "∞" : "−∞";
    if (v === 0) return "0";
    const strip = (t) => (t.includes(".") ? t.replace(/\.?0+$/, "") : t);
    const [mantissa, e] = Math.abs(v).toExponential(sig - 1).split("e");
    const n = Number(e);
    const text = n < -4 || n >= sig ? `${strip(mantissa)}×10${sup(n)}` : strip(Math.abs(v).toFixed(sig - 1 - n));
    return (v < 0 ? "−" : "") + text;
  }

  // 10ⁿ as a label: 1 and 10 written out, the rest as powers.
  function decade(n) {
    return n === 0 ? "1" : n === 1 ? "10" : `10${sup(n)}`;
  }

  let stops = null; // [r, g, b] of each stop, read once the stylesheet applies

  function palette() {
    if (!stops) {
      const style = getComputedStyle(document.documentElement);
      stops = DIVERGING.map((name) => {
        const hex = style.getPropertyValue(name).trim(); // "#rrggbb"
        return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      });
    }
    return stops;
  }

  // t in [-1, 1] → [r, g, b]: blue … grey … orange, interpolated between evenly spaced stops in sRGB as
  // app.core.palette.ramp does on the server.
  function diverging(t) {
    const s = palette();
    const pos = (Math.min(Math.max(Number.isFinite(t) ? t : 0, -1), 1) + 1) / 2 * (s.length - 1);
    const i = Math.min(Math.floor(pos), s.length - 2);
    const f = pos - i;
    return s[i].map((lo, c) => Math.round(lo + (s[i + 1][c] - lo) * f));
  }

  // Draw `rows` (sorted by epoch) as a polyline; y(v) maps a value to the chart's height in [0, 1] or null.
  // The epochs drawn are kept in data-epochs, one per point.
  function polyline(el, rows, key, xMax, left, y) {
    const w = CHART.right - left;
    const h = CHART.bottom - CHART.top;
    const pts = [];
    const epochs = [];
    for (const r of rows) {
      const t = r[key] === null || !Number.isFinite(r[key]) ? null : y(r[key]);
      if (t === null) continue;
      const px = left + (w * r.epoch) / xMax;
      const py = CHART.bottom - h * Math.min(Math.max(t, 0), 1);
      pts.push(`${px.toFixed(1)},${py.toFixed(1)}`);
      epochs.push(r.epoch);
    }
    el.setAttribute("points", pts.join(" "));
    el.dataset.epochs = epochs.join(" ");
  }

  // Ticks of a log axis fitted to values from a to b (less than two decades), with a margin of `margin`
  // decades each side: its ends are round numbers (to the unit one digit finer than the step) just outside
  // the margin and labelled, and between them the powers of ten and round values (1, 2 or 5 × 10ⁿ apart),
  // each at least 15% of the height from the others (the ends come first, so they always keep theirs).
  // Returns the ticks and the axis's ends as log10 values.
  function logTicks(a, b, margin) {
    const round = (v) => Number(v.toPrecision(12));
    const lower = a * 10 ** -margin;
    const upper = b * 10 ** margin;
    const raw = (upper - lower) / 4;
    const p = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * p).find((v) => v >= raw) || 10 * p;
    let unit = p;
    let bottom = round(Math.floor(lower / unit) * unit);
    while (bottom <= 0) {
      unit /= 10; // a band near 0: a finer unit keeps the bottom above 0 (a log axis has no 0)
      bottom = round(Math.floor(lower / unit) * unit);
    }
    const top = round(Math.ceil(upper / p) * p);
    const lo = Math.log10(bottom);
    const hi = Math.log10(top);
    const candidates = [[bottom, fmt(bottom, 4)], [top, fmt(top, 4)]];
    for (let n = Math.ceil(lo); n <= hi; n += 1) candidates.push([10 ** n, fmt(10 ** n, 4)]);
    for (let k = Math.ceil(bottom / step); k * step <= top; k += 1) {
      const v = round(k * step);
      candidates.push([v, fmt(v, 4)]);
    }
    const ticks = [];
    for (const [v, label] of candidates) {
      const t = (Math.log10(v) - lo) / (hi - lo);
      if (t < -1e-9 || t > 1 + 1e-9 || ticks.some(([u]) => Math.abs(u - t) < 0.15)) continue;
      ticks.push([Math.min(Math.max(t, 0), 1), label]);
    }
    return { ticks: ticks.sort((x, y) => x[0] - y[0]), lo, hi };
  }

  // The cost axis: on a log scale, decades from below the smallest cost to above the largest (at most
  // about five labelled) when the values fill at least half of that; values within a narrower band (a cost
  // stuck at 0.1255) get an axis fitted to them with a margin, round and labelled at both ends, with round
  // values between as ticks. On a
  // linear scale, 0 to a round number above the largest. Returns the ticks (value in [0, 1] of the height,
  // label) and the mapping of a cost to its height.
  function costAxis(costs, scale) {
    const finite = costs.filter((c) => Number.isFinite(c));
    if (scale === "log") {
      const positive = finite.filter((c) => c > 0);
      const least = positive.length ? Math.log10(Math.min(...positive)) : -1;
      const most = positive.length ? Math.log10(Math.max(...positive)) : 0;
      let lo = Math.floor(least);
      let hi = Math.max(Math.ceil(most), lo + 1);
      let ticks = [];
      if (positive.length && most - least < (hi - lo) / 2) {
        const margin = Math.max(0.08 * (most - least), 0.004); // in decades, each side (≥ 1%: labels of 4 digits differ)
        ({ ticks, lo, hi } = logTicks(10 ** least, 10 ** most, margin));
      } else {
        const step = DECADE_STEPS.find((s) => (hi - lo) / s <= 4) || Math.ceil((hi - lo) / 4);
        lo = Math.floor(lo / step) * step;
        hi = Math.ceil(hi / step) * step;
        for (let n = lo; n <= hi; n += step) ticks.push([(n - lo) / (hi - lo), decade(n)]);
      }
      // a cost of exactly 0 has no logarithm: it is drawn on the bottom line
      const y = (c) => (c > 0 ? (Math.log10(c) - lo) / (hi - lo) : 0);
      return { ticks, y };
    }
    const max = finite.length ? Math.max(...finite) : 0;
    let top = 1;
    if (max > 0) {
      const p = 10 ** Math.floor(Math.log10(max));
      top = [1, 2, 2.5, 5, 10].map((m) => m * p).find((v) => v >= max) || 10 * p;
      if (!Number.isFinite(top)) top = max; // near the largest double: 10 × p overflows
    }
    const ticks = [0, 0.5, 1].map((t) => [t, fmt(t * top, 2)]);
    return { ticks, y: (c) => c / top };
  }

  // Place the tick labels of the chart whose elements' ids start with `prefix`, then move its axis right of
  // the widest one, so that no label is ever clipped. Returns where the plot starts (its left edge).
  function placeAxis(prefix, ticks) {
    const group = $(`${prefix}-ticks`);
    const grid = $(`${prefix}-grid`);
    group.replaceChildren();
    grid.replaceChildren();
    const h = CHART.bottom - CHART.top;
    let widest = 0;
    const labels = ticks.map(([t, text]) => {
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("class", "tick");
      label.setAttribute("text-anchor", "end");
      label.setAttribute("y", (CHART.bottom - h * t + 3).toFixed(1));
      label.textContent = text;
      group.appendChild(label);
      let width = 0;
      try {
        width = label.getBBox().width;
      } catch (_) {
        width = 0; // not rendered yet (a hidden panel): estimated below
      }
      widest = Math.max(widest, width || 6 * text.length);
      return [t, label];
    });
    const left = Math.max(CHART.left, Math.ceil(widest) + 8);
    for (const [t, label] of labels) {
      label.setAttribute("x", String(left - 4));
      const line = document.createElementNS(SVG, "line");
      line.setAttribute("class", "grid");
      line.setAttribute("x1", String(left));
      line.setAttribute("x2", String(CHART.right));
      const py = (CHART.bottom - h * t).toFixed(1);
      line.setAttribute("y1", py);
      line.setAttribute("y2", py);
      grid.appendChild(line);
    }
    $(`${prefix}-xaxis`).setAttribute("x1", String(left));
    $(`${prefix}-yaxis`).setAttribute("x1", String(left));
    $(`${prefix}-yaxis`).setAttribute("x2", String(left));
    $(`${prefix}-x0`).setAttribute("x", String(left));
    $(`${prefix}-xlabel`).setAttribute("x", String((left + CHART.right) / 2));
    return left;
  }

  // The cost on the training and the test set on one axis, and a dashed mark where η changed.
  function drawCostChart(rows, epochs) {
    const svg = $("train-cost-chart");
    if (!svg) return;
    svg.dataset.scale = costScale;
    const tests = rows.map((r) => r.test_cost).filter((c) => c !== null && c !== undefined);
    const { ticks, y } = costAxis(rows.map((r) => r.cost).concat(tests), costScale);
    const left = placeAxis("train-cost", ticks);
    svg.dataset.left = String(left);
    polyline($("train-cost-line"), rows, "cost", epochs, left, y);
    polyline($("train-cost-test"), rows, "test_cost", epochs, left, y);
    const marks = $("train-cost-etas");
    marks.replaceChildren();
    rows.forEach((r, i) => {
      if (i === 0 || r.eta === rows[i - 1].eta) return;
      const x = (left + ((CHART.right - left) * r.epoch) / epochs).toFixed(1);
      const line = svgEl("line", { class: "eta-mark", x1: x, x2: x, y1: CHART.top, y2: CHART.bottom, "data-epoch": r.epoch }, marks);
      svgEl("title", {}, line).textContent = `η = ${fmt(r.eta)} from epoch ${r.epoch}`;
    });
    const last = rows[rows.length - 1];
    const test = last && last.test_cost !== null && last.test_cost !== undefined ? `, test ${fmt(last.test_cost)}` : "";
    $("train-cost-now").textContent = last ? `C = ${fmt(last.cost)}${test}` : "";
  }

  // Each layer's speed of learning per epoch, one line per layer, on a log axis over all of them.
  function drawSpeedChart(rows, epochs) {
    if (!$("train-speed-chart")) return;
    const { ticks, y } = costAxis(rows.flatMap((r) => r.speeds || []), "log");
    const left = placeAxis("train-speed", ticks);
    document.querySelectorAll("#train-speed-lines polyline").forEach((line) => {
      const i = Number(line.dataset.layer) - 2;
      const layerRows = rows.map((r) => ({ epoch: r.epoch, v: r.speeds && r.speeds.length > i ? r.speeds[i] : null }));
      polyline(line, layerRows, "v", epochs, left, y);
    });
  }

  // η as the history recorded it: the value of the first epoch and every change after.
  function showEtaHistory(rows) {
    const el = $("train-eta-history");
    if (!el || !rows.length) return;
    const parts = [];
    rows.forEach((r, i) => {
      if (i === 0 || r.eta !== rows[i - 1].eta) parts.push(`${fmt(r.eta)} from epoch ${r.epoch}`);
    });
    el.textContent = `η in the history: ${parts.join(" → ")}`;
    el.hidden = parts.length < 2;
  }

  function showScale(panel) {
    panel.querySelectorAll(".train-scale button").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.scale === costScale));
    });
  }

  function drawHeat(panel, grid) {
    const image = $("train-heat");
    if (!image || !grid) return;
    image.setAttribute("href", gridImage(grid, (v) => 2 * v - 1, 200));
  }

  function drawNeurons(panel, network) {
    if (!network) return;
    const w = network.weights[0];
    panel.querySelectorAll("canvas.train-neuron").forEach((canvas) => {
      const row = w[Number(canvas.dataset.j)];
      if (!row || row.length !== 64) return;
      const scale = Math.max(...row.map(Math.abs)) || 1;
      const ctx = canvas.getContext("2d");
      const img = ctx.createImageData(8, 8);
      row.forEach((v, k) => {
        const rgb = diverging(v / scale);
        img.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * k);
      });
      ctx.putImageData(img, 0, 0);
    });
  }

  const SUB = { "0": "₀", "1": "₁", "2": "₂", "3": "₃", "4": "₄", "5": "₅", "6": "₆", "7": "₇", "8": "₈", "9": "₉" };
  function sub(n) {
    return String(n).replace(/[0-9]/g, (c) => SUB[c]);
  }

  function svgEl(name, attrs, parent) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (parent) parent.appendChild(el);
    return el;
  }

  // An n × n grid of values as a data: URL image, each value coloured at t(v) ∈ [−1, 1] on the diverging ramp
  // with the given opacity (0–255).
  function gridImage(grid, t, alpha = 255) {
    const n = grid.length;
    const canvas = document.createElement("canvas");
    canvas.width = n;
    canvas.height = n;
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(n, n);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        const rgb = diverging(t(grid[r][c]));
        img.data.set([rgb[0], rgb[1], rgb[2], alpha], 4 * (r * n + c));
      }
    }
    ctx.putImageData(img, 0, 0);
    return canvas.toDataURL();
  }

  // Where a hidden layer's activations fall on the ramp: σ's (0, 1) and tanh's (−1, 1) by their range,
  // ReLU's and linear's by the largest |a| of the layer over the plane.
  function activationScale(name, maps) {
    if (name === "sigmoid") return (v) => 2 * v - 1;
    if (name === "tanh") return (v) => v;
    let m = 0;
    for (const g of maps) for (const row of g) for (const v of row) m = Math.max(m, Math.abs(v));
    return (v) => (m > 0 ? v / m : 0);
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
          const label = svgEl("text", { x: (xs[i] + s / 2).toFixed(1), y: (ys[i][j] + s / 2).toFixed(1), "text-anchor": "middle", "dominant-baseline": "central" }, g);
          label.textContent = `x${sub(j + 1)}`;
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
  // |∂C/∂w|, the gradients' diverging colours); one scale for the whole network, said in the legend.
  // Each edge carries both numbers for the read-out.
  function drawNet(panel, p) {
    const figure = $("train-net");
    if (!figure || !p.network) return;
    const sizes = p.network.sizes;
    const maps = Boolean(p.neurons);
    const output = Boolean(p.grid);
    const key = `${sizes.join(",")}:${maps}:${output}`;
    if (!panel.net || panel.net.key !== key) {
      panel.net = buildNet($("train-net-svg"), sizes, maps, output);
      panel.net.key = key;
    }
    fitInputLabels($("train-net-svg")); // the figure may have been hidden (no width) when it was built
    const mode = figure.dataset.edges;
    const grads = p.mean_nabla_w;
    const largest = (ms) => Math.max(0, ...ms.map((m) => Math.max(0, ...m.map((r) => Math.max(0, ...r.map(Math.abs))))));
    const wMax = largest(p.network.weights) || 1;
    const gMax = grads ? largest(grads) || 1 : 1;
    const epoch = panel.dataset.lastEpoch || "–";
    panel.net.edges.forEach((layer, i) => {
      layer.forEach((row, j) => {
        row.forEach((line, k) => {
          const w = p.network.weights[i][j][k];
          const g = grads ? grads[i][j][k] : null;
          const v = mode === "grad" ? g : w;
          const sign = v === null ? "none" : v >= 0 ? "pos" : "neg";
          line.setAttribute("class", `edge ${mode === "grad" ? "g" : "w"}${sign}`);
          const width = v === null ? 0.5 : 0.4 + (4.6 * Math.abs(v)) / (mode === "grad" ? gMax : wMax);
          line.setAttribute("stroke-width", width.toFixed(2));
          line.dataset.w = String(w);
          line.dataset.g = g === null ? "" : String(g);
          const name = `${sup(i + 2)}${sub(j + 1)}${sub(k + 1)}`;
          const read = `w${name} = ${fmt(w, 6)}` + (g === null ? "" : ` · mean ∂C/∂w${name} over epoch ${epoch} = ${fmt(g, 6)}`);
          line.dataset.read = read;
          line.hit.dataset.read = read;
          line.firstChild.textContent = read;
        });
      });
    });
    const legend = $("train-net-legend");
    const keyOf = (cls, label) => {
      const el = document.createElement("span");
      el.className = `key ${cls}`;
      el.textContent = label;
      return el;
    };
    if (mode === "grad") {
      legend.replaceChildren(grads ? `width |∂C/∂w| up to ${fmt(gMax)} (epoch ${epoch}), ` : "no epoch measured yet ", keyOf("neg", "< 0"), " ", keyOf("pos", "> 0"));
    } else {
      legend.replaceChildren(`width |w| up to ${fmt(wMax)}, `, keyOf("wpos", "w > 0"), " ", keyOf("wneg", "w < 0"));
    }
    const acts = p.network.activation;
    const last = panel.net.nodes.length - 1;
    panel.net.nodes.forEach((layer, i) => {
      layer.forEach((node, j) => {
        const title = node.g.lastChild;
        let read = `input x${sub(j + 1)}`;
        if (i > 0) {
          read = `neuron ${j + 1} of layer ${i + 1}: b = ${fmt(p.network.biases[i - 1][j], 6)}`;
          const grid = !node.image ? null : i === last ? p.grid : p.neurons ? p.neurons[i - 1][j] : null;
          if (grid) {
            const act = Array.isArray(acts) ? acts[i - 1] : acts;
            const t = i === last ? (v) => 2 * v - 1 : activationScale(act, p.neurons[i - 1]);
            node.image.setAttribute("href", gridImage(grid, t));
            const flat = grid.flat();
            read += ` · a over the plane from ${fmt(Math.min(...flat))} to ${fmt(Math.max(...flat))}`;
          }
        }
        title.textContent = read;
        node.g.dataset.read = read;
      });
    });
    panel.lastNet = p;
  }

  // A stream that ends without `done` is opened again after a pause (with jitter, so that a class does
  // not come back at once) that doubles while no process answers; after the last try, the notice. With
  // Redis the tries add up to under the training's 10 s heartbeat, so the worker keeps training meanwhile.
  const RESUME_DELAYS_MS = [500, 1000, 2000, 4000];

  function follow(panel) {
    const epochs = Number(panel.dataset.epochs);
    // Epoch → what it measured: an epoch that arrives twice is drawn once.
    const measured = new Map();
    let source = null;
    let lastId = ""; // the id of the last event received: a new stream resumes after it
    let resumes = 0; // tries since the last event arrived
    let ended = false; // `done` arrived, or the page gave up, or it follows another run now
    let resumeTimer = null;
    panel.trainStream = {
      close() {
        ended = true;
        clearTimeout(resumeTimer);
        if (source) source.close();
      },
    };

    function draw() {
      const rows = [...measured.values()].sort((a, b) => a.epoch - b.epoch);
      drawCostChart(rows, epochs);
      drawSpeedChart(rows, epochs);
      showEtaHistory(rows);
      if (rows.length) panel.dataset.lastEpoch = String(rows[rows.length - 1].epoch);
      const share = (v) => v;
      polyline($("train-acc-train"), rows, "train_accuracy", epochs, CHART.left, share);
      polyline($("train-acc-test"), rows, "test_accuracy", epochs, CHART.left, share);
      const last = rows[rows.length - 1];
      if (last) {
        const test = last.test_accuracy;
        $("train-acc-now").textContent =
          `training ${(100 * last.train_accuracy).toFixed(1)}%` + (test === null ? "" : `, test ${(100 * test).toFixed(1)}%`);
      }
    }
    panel.redraw = draw;
    showScale(panel);

    function update(ev, final) {
      const p = JSON.parse(ev.data);
      $("train-queue").hidden = true; // a worker has it
      for (const h of p.history) measured.set(h.epoch, h);
      $("train-progress").value = p.fraction;
      $("train-progress").textContent = `${Math.round(100 * p.fraction)}%`;
      $("train-epoch").textContent = `epoch ${p.epoch} / ${p.epochs}`;
      const batch = $("train-batch");
      batch.textContent = `mini-batch ${p.batch} / ${p.batches_per_epoch}`;
      batch.dataset.epoch = String(p.epoch);
      batch.dataset.batch = String(p.batch);
      $("train-left").textContent =
        p.seconds_left === null ? `${fmtSeconds(p.seconds)} of training` : `about ${fmtSeconds(p.seconds_left)} left`;
      const state = $("train-state");
      state.textContent = p.state;
      state.dataset.state = p.state;
      panel.dataset.state = p.state;
      if (p.history.length) draw();
      drawHeat(panel, p.grid);
      drawNeurons(panel, p.network);
      drawNet(panel, p);
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
        $("train-left").textContent = `${fmtSeconds(p.seconds)} of training`;
      }
    }

    // With Redis a training may wait for a free worker: show its place (1: next) until its first progress.
    function queued(ev) {
      const place = JSON.parse(ev.data).position;
      const queue = $("train-queue");
      queue.textContent =
        place === 1 ? "waiting for a free worker: next in the queue" : `waiting for a free worker: ${place - 1} ahead in the queue`;
      queue.dataset.position = place;
      queue.hidden = false;
    }

    // Every event proves the server is there: the tries start again from the first pause.
    function received(handle) {
      return (ev) => {
        resumes = 0;
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
        if (resumes < RESUME_DELAYS_MS.length) {
          const delay = RESUME_DELAYS_MS[resumes++] * (0.75 + 0.5 * Math.random());
          panel.dataset.resumes = String(resumes);
          resumeTimer = setTimeout(open, delay);
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
