// backprop-lens: hide a quantity's value wherever the step-through shows it, until it may be seen.
//
// A quantity (its key: "delta-3-1", "nabla_w-3-1-2") shows in its table cells (td[data-q]), in its equation line's
// result (.eq-line[data-q] .eq-result) and on its neuron or edge in the diagram (label, fill, read-out). Two scripts
// hide values: ask.js while a class answers a question, practice.js while one person works a step's lines by hand.
// Each names the keys it hides, set(owner, keys, why); a value stays hidden while any owner hides it, and `why`
// replaces its read-out (data-info, aria-label). What would give a hidden value away is hidden with it: a line or
// cell that shows it as an operand (operandOf: a = σ(z) shows z), the read-outs of the edges at a hidden neuron,
// and (lens.css, under html.concealing) the legend's ranges and the instruments. Steps
// swapped in and patches applied are hidden again before they are painted: a MutationObserver runs before the
// next paint.
//
//   window.lensConceal.set(owner, keys, why)   hide these keys for this owner (no keys: stop hiding for it)
//   window.lensConceal.operandOf(key)          the key a line of ``key`` shows among its operands, or null
//   window.lensConceal.keysOf(owner)           the keys this owner hides (a class's question: practice leaves it)
//
// Left out: the look of a hidden value (lens.css: .concealed), what is asked and checked (ask.js, practice.js).
(() => {
  "use strict";

  const { $ } = window.lensCommon;
  const owners = new Map(); // owner → { keys: [key], why }

  // The diagram's item a quantity lives on: an edge for a weight's, else its neuron.
  function itemOf(key) {
    const [, ...index] = key.split("-");
    return index.length === 3 ? $(`e-${index.join("-")}`) : $(`n-${index.join("-")}`);
  }

  // The quantity a line (or table cell) shows among its operands, which gives that quantity away: a = σ(z) shows z
  // (and z follows from a). Null for the others: BP4's line shows δ, which is ∂C/∂b (BP3), but δ is in the tables
  // from BP1 or BP2 on, and BP3's point is that very identity.
  function operandOf(key) {
    const [name, layer, j] = key.split("-");
    return name === "a" ? `z-${layer}-${j}` : null;
  }

  const MODES = ["info", "value", "line"]; // a read-out only; the value; the whole line, operands too
  const CLASSES = { info: ["concealed-info"], value: ["concealed"], line: ["concealed", "concealed-line"] };

  // A stream's patch (lens.js) or a morph may rewrite a hidden element in place: its text, data-info or class
  // are then the new step's, and what was kept to put back is older than what is there.
  function stale(el) {
    if ("concealedAs" in el.dataset && el.dataset.info !== el.dataset.concealedAs) return true;
    return "concealedText" in el.dataset && el.textContent !== "?";
  }

  const KEPT = ["concealed", "concealedText", "concealedTitle", "concealedInfo", "concealedAs"];

  function forget(el) {
    for (const name of KEPT) delete el.dataset[name];
    el.classList.remove("concealed", "concealed-line", "concealed-info");
  }

  function restore(el) {
    if (stale(el)) return forget(el); // what is there is newer than what was kept
    if ("concealedText" in el.dataset) el.textContent = el.dataset.concealedText;
    if ("concealedTitle" in el.dataset) el.setAttribute("title", el.dataset.concealedTitle);
    if ("concealedInfo" in el.dataset) {
      el.dataset.info = el.dataset.concealedInfo;
      if (el.hasAttribute("aria-label")) el.setAttribute("aria-label", el.dataset.concealedInfo);
    }
    forget(el);
  }

  function hide(el, why, mode) {
    if (el.dataset.concealed) {
      const whole = el.dataset.concealed === mode && CLASSES[mode].every((c) => el.classList.contains(c));
      if (whole && !stale(el)) return; // already: changing nothing keeps the observer quiet
      restore(el);
    }
    el.dataset.concealed = mode;
    el.classList.add(...CLASSES[mode]);
    if (el.tagName === "TD" && mode !== "info") {
      el.dataset.concealedText = el.textContent;
      el.textContent = "?";
      if (el.hasAttribute("title")) {
        el.dataset.concealedTitle = el.getAttribute("title");
        el.removeAttribute("title");
      }
    }
    if (el.dataset.info !== undefined) {
      el.dataset.concealedInfo = el.dataset.info;
      const name = (el.dataset.info.split(":")[0] || "").split(",")[0];
      el.dataset.info = mode === "info" ? `${name}: the values at its ends are hidden` : `${name}: ${why}`;
      el.dataset.concealedAs = el.dataset.info;
      if (el.hasAttribute("aria-label")) el.setAttribute("aria-label", el.dataset.info);
    }
  }

  function apply() {
    const hidden = new Map(); // key → why
    const first = [...owners.entries()].sort(([a], [b]) => (a === "question" ? -1 : b === "question" ? 1 : 0));
    for (const [, { keys, why }] of first) for (const key of keys) if (!hidden.has(key)) hidden.set(key, why);
    const wanted = new Map(); // element → { why, mode }
    const mark = (el, why, mode) => {
      if (!el) return;
      const had = wanted.get(el);
      if (!had || MODES.indexOf(mode) > MODES.indexOf(had.mode)) wanted.set(el, { why, mode });
    };
    hidden.forEach((why, key) => {
      const q = CSS.escape(key);
      document.querySelectorAll(`td[data-q="${q}"], .eq-line[data-q="${q}"]`).forEach((el) => mark(el, why, "value"));
      mark(itemOf(key), why, "value");
    });
    if (hidden.size) {
      // what shows a hidden value as an operand: its cells and items hidden, its lines whole
      document.querySelectorAll("td[data-q], .eq-line[data-q]").forEach((el) => {
        const operand = operandOf(el.dataset.q);
        if (!operand || !hidden.has(operand)) return;
        const why = hidden.get(operand);
        mark(el, why, el.classList.contains("eq-line") ? "line" : "value");
        mark(itemOf(el.dataset.q), why, "value");
      });
      // an edge's read-out names the activation and δ at its ends: none of a hidden neuron's
      const neurons = new Set([...wanted.keys()].filter((el) => el.id?.startsWith("n-")).map((el) => el.id));
      document.querySelectorAll("#net [id^='e-'][data-info]").forEach((edge) => {
        const [, layer, j, k] = edge.id.split("-").map(Number);
        const ends = [`n-${layer}-${j}`, `n-${layer - 1}-${k}`].filter((id) => neurons.has(id));
        if (ends.length) mark(edge, wanted.get($(ends[0])).why, "info");
      });
    }
    document.querySelectorAll("[data-concealed]").forEach((el) => {
      if (!wanted.has(el)) restore(el);
    });
    wanted.forEach(({ why, mode }, el) => hide(el, why, mode));
    const root = document.documentElement;
    if (root.classList.contains("concealing") !== hidden.size > 0) root.classList.toggle("concealing", hidden.size > 0);
  }

  function set(owner, keys, why = "its value is hidden") {
    if (keys && keys.length) owners.set(owner, { keys: [...keys], why });
    else owners.delete(owner);
    apply();
  }

  new MutationObserver(() => {
    if (owners.size || document.querySelector("[data-concealed]")) apply();
  }).observe(document.documentElement, {
    childList: true,
    subtree: true,
    characterData: true,
    attributes: true, // a patch or a morph that keeps an element may rewrite its class or read-out
    attributeFilter: ["data-concealed", "class", "data-info"],
  });

  const keysOf = (owner) => owners.get(owner)?.keys ?? [];

  window.lensConceal = Object.freeze({ set, operandOf, keysOf });
})();
