// Training page: follows a run's event stream and draws what it carries.
// Every number comes from the server (the engine); this file only places and colours them.
// The stream is finite: it ends with a `done` event, on which the EventSource is closed
// (an EventSource left open would reconnect and start the stream again).
(() => {
  "use strict";

  const CHART = { left: 40, right: 310, top: 10, bottom: 140 };
  const NEG = [33, 102, 172]; // blue: negative (or class 0)
  const POS = [230, 97, 1]; // orange: positive (or class 1)

  function $(id) {
    return document.getElementById(id);
  }

  function fmtSeconds(s) {
    if (s === null || s === undefined) return "";
    if (s < 1) return "under a second";
    if (s < 90) return `${Math.round(s)} s`;
    return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  }

  // t in [-1, 1] → blue … white … orange
  function diverging(t) {
    const c = t < 0 ? NEG : POS;
    const k = Math.min(Math.abs(t), 1);
    return c.map((v) => Math.round(255 + (v - 255) * k));
  }

  function polyline(el, xs, ys, xMax, yMax) {
    const w = CHART.right - CHART.left;
    const h = CHART.bottom - CHART.top;
    const pts = [];
    for (let i = 0; i < xs.length; i++) {
      if (ys[i] === null || !Number.isFinite(ys[i])) continue;
      const x = CHART.left + (w * xs[i]) / xMax;
      const y = CHART.bottom - (h * Math.min(ys[i], yMax)) / yMax;
      pts.push(`${x.toFixed(1)},${y.toFixed(1)}`);
    }
    el.setAttribute("points", pts.join(" "));
  }

  function drawHeat(panel, grid) {
    const image = $("train-heat");
    if (!image || !grid) return;
    const n = grid.length;
    const canvas = document.createElement("canvas");
    canvas.width = n;
    canvas.height = n;
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(n, n);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        const rgb = diverging(2 * grid[r][c] - 1);
        const k = 4 * (r * n + c);
        img.data[k] = rgb[0];
        img.data[k + 1] = rgb[1];
        img.data[k + 2] = rgb[2];
        img.data[k + 3] = 200;
      }
    }
    ctx.putImageData(img, 0, 0);
    image.setAttribute("href", canvas.toDataURL());
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

  function follow(panel) {
    const epochs = Number(panel.dataset.epochs);
    const xs = [];
    const cost = [];
    const accTrain = [];
    const accTest = [];
    let costMax = 0;
    const source = new EventSource(panel.dataset.stream);
    panel.trainStream = source;

    function update(ev, final) {
      const p = JSON.parse(ev.data);
      for (const h of p.history) {
        xs.push(h.epoch);
        cost.push(h.cost);
        accTrain.push(h.train_accuracy);
        accTest.push(h.test_accuracy);
        if (Number.isFinite(h.cost)) costMax = Math.max(costMax, h.cost);
      }
      $("train-progress").value = p.fraction;
      $("train-progress").textContent = `${Math.round(100 * p.fraction)}%`;
      $("train-epoch").textContent = `epoch ${p.epoch} / ${p.epochs}`;
      $("train-left").textContent =
        p.seconds_left === null ? `${fmtSeconds(p.seconds)} of training` : `about ${fmtSeconds(p.seconds_left)} left`;
      const state = $("train-state");
      state.textContent = p.state;
      state.dataset.state = p.state;
      panel.dataset.state = p.state;
      if (cost.length) {
        const yMax = costMax > 0 ? costMax : 1;
        polyline($("train-cost-line"), xs, cost, epochs, yMax);
        $("train-cost-max").textContent = yMax.toPrecision(2);
        $("train-cost-now").textContent = `C = ${cost[cost.length - 1].toPrecision(4)}`;
        polyline($("train-acc-train"), xs, accTrain, epochs, 1);
        polyline($("train-acc-test"), xs, accTest, epochs, 1);
        const last = accTest[accTest.length - 1];
        const lastTrain = accTrain[accTrain.length - 1];
        $("train-acc-now").textContent =
          `training ${(100 * lastTrain).toFixed(1)}%` + (last === null ? "" : `, test ${(100 * last).toFixed(1)}%`);
      }
      drawHeat(panel, p.grid);
      drawNeurons(panel, p.network);
      if (final) {
        source.close();
        const msg = $("train-message");
        if (p.message) {
          msg.textContent = p.message;
          msg.hidden = false;
          msg.dataset.state = p.state;
        }
        const controls = $("train-controls");
        if (controls) controls.querySelectorAll("button").forEach((b) => (b.disabled = true));
        $("train-left").textContent = `${fmtSeconds(p.seconds)} of training`;
      }
    }

    source.addEventListener("progress", (ev) => update(ev, false));
    source.addEventListener("done", (ev) => update(ev, true));
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) return;
      source.close(); // a lost stream has stopped the training on the server: say so, do not replay
      const msg = $("train-message");
      msg.textContent = "The connection to the server was lost; the training has stopped. Press Train to start again.";
      msg.hidden = false;
    };
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
  function showDatasetFields() {
    const dataset = $("f-dataset");
    if (!dataset) return;
    const generated = ["xor", "moons", "circles", "spirals"].includes(dataset.value);
    document.querySelectorAll(".train-generated").forEach((el) => (el.hidden = !generated));
    document.querySelectorAll(".train-csv").forEach((el) => (el.hidden = dataset.value !== "csv"));
  }
  document.addEventListener("change", (ev) => {
    if (ev.target.id === "f-dataset") showDatasetFields();
  });
  document.addEventListener("DOMContentLoaded", showDatasetFields);

  document.addEventListener("submit", (ev) => {
    if (ev.target.id === "train-form") $("train-errors").textContent = "";
  });

  new MutationObserver(connectAll).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", connectAll);
  connectAll();
})();
