// backprop-lens: the small helpers every page's scripts share, written once.
//
// The base layout (templates/base.html) loads this before any other script of ours (all deferred, so
// they run in document order); each script takes what it needs from window.lensCommon:
//
//   $(id)             the element with that id, or null
//   typing(el)        whether a key pressed on el is text being typed (a field, or the configuration
//                     panel): the pages' shortcuts leave it alone
//   backoff(tries)    the pauses before reconnecting to a server that went away: 0.5 s doubling, each
//                     with jitter (so that a class does not come back at once); next() is null after the
//                     last try, reset() once the server answered again
//   parseAnswer(text) a number as a person types it (the server reads it by the same rules): {value} or {error}
//   newestWins(send)  requests one at a time: while one is on its way, only the newest value asked for
//                     is sent after it (a key held down, a lecturer's steps, a switch pressed twice)
//
// Left out: anything about one page (each page's own script), number formatting (the server's
// app/core/format.py writes every number a page shows) and colours (lens.css and app/core/palette.py).
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);

  const typing = (el) =>
    el instanceof Element && el.closest("input, textarea, select, [contenteditable], #config-panel") !== null;

  const FIRST_DELAY_MS = 500;

  function backoff(tries = 5) {
    let done = 0; // tries since the server last answered
    return {
      next() {
        if (done >= tries) return null;
        return FIRST_DELAY_MS * 2 ** done++ * (0.75 + 0.5 * Math.random());
      },
      reset() {
        done = 0;
      },
      get tries() {
        return done;
      },
    };
  }

  // send(value) makes one request and returns its promise (or nothing, when there is nothing to send);
  // idle() runs when the last one has ended and nothing waits.
  function newestWins(send, idle = () => {}) {
    let busy = false;
    let waiting = false;
    let wanted;
    const settling = []; // who waits for the last one to be done
    function next() {
      if (!waiting) {
        idle();
        settling.splice(0).forEach((resolve) => resolve());
        return;
      }
      waiting = false;
      busy = true;
      const value = wanted;
      Promise.resolve()
        .then(() => send(value))
        .catch(() => {})
        .finally(() => {
          busy = false;
          next();
        });
    }
    return {
      ask(value) {
        wanted = value;
        waiting = true;
        if (!busy) next();
      },
      get busy() {
        return busy;
      },
      // resolves once nothing is being sent and nothing waits to be
      settled() {
        return busy || waiting ? new Promise((resolve) => settling.push(resolve)) : Promise.resolve();
      },
    };
  }

  // A number as a person types it: −, U+2212 or -, a decimal point or comma, 1e-3, ×10⁻³ (or x10^-3). The same
  // rules, and the same sentences, as the server's app/stepper/view/quantities.py parse_answer: {value} or {error}.
  const MAX_ANSWER_CHARS = 40;
  const SUPERSCRIPT = { "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8",
    "⁹": "9", "⁻": "-", "⁺": "+" };
  function parseAnswer(text) {
    const raw = text.trim();
    if (!raw) return { error: "Type a number first." };
    if (raw.length > MAX_ANSWER_CHARS)
      return { error: `That is ${raw.length} characters; a number here has at most ${MAX_ANSWER_CHARS}.` };
    let s = raw.replaceAll("\u2212", "-").replaceAll("\u2009", "").replaceAll(" ", "")
      .replace(/[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]/g, (c) => SUPERSCRIPT[c]).replaceAll("E", "e");
    if ((s.match(/,/g) || []).length === 1 && !s.includes(".")) s = s.replace(",", ".");
    const times = /^(.+?)[×x*·]10(\^)?([+-]?\d+)$/.exec(s);
    if (times) s = `${times[1]}e${times[3]}`;
    if (!/^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/.test(s))
      return { error: `“${raw}” is not a number. Write it like −0.0123, −0,0123, -1.23e-2 or −1.23×10⁻².` };
    const value = Number(s);
    if (!Number.isFinite(value)) return { error: `“${raw}” is too large to be a number here.` };
    return { value };
  }

  window.lensCommon = Object.freeze({ $, typing, backoff, newestWins, parseAnswer });
})();
