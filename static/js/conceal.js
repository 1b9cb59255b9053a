// backprop-lens: hide a quantity's value wherever the step-through shows it, until it may be seen.
//
// A quantity (its key: "delta-3-1", "nabla_w-3-1-2") shows in its table cells (td[data-q]), in its equation line's
// result (.eq-line[data-q] .eq-result) and on its neuron or edge in the diagram (label, fill, read-out). Two scripts
// hide values: ask.js while a class answers a question, practice.js while one person works a step's lines by hand.
// Each names the keys it hides, set(owner, keys, why); a value stays hidden while any owner hides it, and `why`
// replaces its read-out (data-info, aria-label). Steps swapped in and patches applied are hidden again before they
// are painted: a MutationObserver runs before the next paint.
//
//   window.lensConceal.set(owner, keys, why)   hide these keys for this owner (no keys: stop hiding for it)
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

  function restore(el) {
    if ("concealedText" in el.dataset) el.textContent = el.dataset.concealedText;
    if ("concealedTitle" in el.dataset) el.setAttribute("title", el.dataset.concealedTitle);
    if ("concealedInfo" in el.dataset) {
      el.dataset.info = el.dataset.concealedInfo;
      if (el.hasAttribute("aria-label")) el.setAttribute("aria-label", el.dataset.concealedInfo);
    }
    for (const name of ["concealed", "concealedText", "concealedTitle", "concealedInfo"]) delete el.dataset[name];
    el.classList.remove("concealed");
  }

  function hide(el, why) {
    if (el.dataset.concealed) return; // already: changing nothing keeps the observer quiet
    el.dataset.concealed = "1";
    el.classList.add("concealed");
    if (el.tagName === "TD") {
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
      el.dataset.info = `${name}: ${why}`;
      if (el.hasAttribute("aria-label")) el.setAttribute("aria-label", el.dataset.info);
    }
  }

  function apply() {
    const wanted = new Map(); // element → why
    for (const { keys, why } of owners.values()) {
      for (const key of keys) {
        const q = CSS.escape(key);
        const els = [...document.querySelectorAll(`td[data-q="${q}"], .eq-line[data-q="${q}"]`), itemOf(key)];
        for (const el of els) if (el && !wanted.has(el)) wanted.set(el, why);
      }
    }
    document.querySelectorAll("[data-concealed]").forEach((el) => {
      if (!wanted.has(el)) restore(el);
    });
    wanted.forEach((why, el) => hide(el, why));
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
    attributes: true, // a morph that keeps an element may still drop its marks
    attributeFilter: ["data-concealed"],
  });

  window.lensConceal = Object.freeze({ set });
})();
