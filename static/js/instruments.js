// The instruments panel: tabs (click or arrow keys), loading a tab's fragment the first time it
// is shown, remembering the open tab across runs, and marking the diagram for the open
// instrument (saturated and quiet neurons, the strongest paths). No inline handlers: the CSP
// allows scripts from /static only, so everything is wired here by event delegation.
// Loaded once by the step-through page (page/page.html), never from a swapped fragment. The listeners sit
// on the document, so panels swapped in later need no wiring; each handler only brings the page to a state
// it reads from the DOM (the open tab, the marks, data-ready), so running one twice changes nothing more.
(function () {
  "use strict";

  var $ = window.lensCommon.$;
  var KEY = "backprop-lens:instrument";
  var MARKS = ["instrument-saturated", "instrument-quiet", "instrument-path"];

  function remembered() {
    try { return window.sessionStorage.getItem(KEY); } catch (e) { return null; }
  }

  function remember(name) {
    try { window.sessionStorage.setItem(KEY, name); } catch (e) { /* private mode: forget */ }
  }

  function tabs(panel) {
    return Array.prototype.slice.call(panel.querySelectorAll('[role="tab"]'));
  }

  function select(tab, focus) {
    var panel = tab.closest(".instruments");
    tabs(panel).forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      var section = $(t.getAttribute("aria-controls"));
      if (section) section.hidden = !on;
    });
    if (focus) tab.focus();
    remember(tab.dataset.instrument);
    var form = $("form-" + tab.dataset.instrument);
    if (form && window.htmx) window.htmx.trigger(form, "instrument-show");
    mark();
  }

  function openInstrument() {
    var tab = document.querySelector('.instruments [role="tab"][aria-selected="true"]');
    return tab ? tab.dataset.instrument : null;
  }

  // Marks on the step-through diagram (#net), for the open instrument only. The diagram is
  // re-rendered at every step, so the marks are put back after every change of the page.
  function mark() {
    var net = $("net");
    if (!net) return;
    MARKS.forEach(function (cls) {
      Array.prototype.forEach.call(net.querySelectorAll("." + cls), function (el) { el.classList.remove(cls); });
    });
    var open = openInstrument();
    var add = function (ids, cls) {
      (ids || "").split(" ").forEach(function (id) {
        var el = id && $(id);
        if (el && net.contains(el)) el.classList.add(cls);
      });
    };
    var result;
    if (open === "saturation" && (result = $("saturation-result"))) {
      add(result.dataset.saturated, "instrument-saturated");
      add(result.dataset.quiet, "instrument-quiet");
    } else if (open === "paths" && (result = $("paths-result"))) {
      add(result.dataset.edges, "instrument-path");
    }
  }

  function init(root) {
    var panels = root.querySelectorAll ? root.querySelectorAll(".instruments:not([data-ready])") : [];
    Array.prototype.forEach.call(panels, function (panel) {
      panel.setAttribute("data-ready", "");
      var name = remembered();
      var tab = name && panel.querySelector('[role="tab"][data-instrument="' + name + '"]');
      if (tab && tab.getAttribute("aria-selected") !== "true") select(tab, false);
    });
  }

  document.addEventListener("click", function (e) {
    var tab = e.target.closest && e.target.closest('.instruments [role="tab"]');
    if (tab) select(tab, false);
  });

  document.addEventListener("keydown", function (e) {
    var tab = e.target.closest && e.target.closest('.instruments [role="tab"]');
    if (!tab || e.defaultPrevented) return; // a key moves the selection once, however many listeners see it
    var all = tabs(tab.closest(".instruments"));
    var i = all.indexOf(tab);
    var next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: all.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    select(all[(next + all.length) % all.length], true);
  });

  var pending = false;
  new MutationObserver(function () {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; mark(); init(document); });
  }).observe(document.documentElement, { childList: true, subtree: true });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
})();
