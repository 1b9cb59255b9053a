// backprop-lens: practice, one person working a step's lines by hand.
//
// "Practice" (#btn-practice) hides the result of every equation line that computes a quantity (.eq-line[data-q]),
// and the same value in the tables and the diagram (conceal.js), and puts a field on each line
// (templates/page/_practice.html). "Check" reads the number by the class's rules (lensCommon.parseAnswer: a
// sentence under the field, nothing sent, when it is not a number) and posts it to …/steps/{k}/check, which
// answers right within the tolerance, or names the usual mistake and its first wrong factor. A right answer, or
// "Show", gives the line its result back for good. A line that shows another's result among its operands
// (a = σ(z)) waits for that line to be right or shown. The instruments (every step's gradients) are hidden while
// practising. What was typed and answered is kept per run, step and line in this tab's sessionStorage, so that
// stepping back or a reload finds it; practice itself stays on across steps, runs and reloads. Lecture mode has
// no practice, and a class's open question gets no field: the class answers it on its card (ask.js).
//
// Left out: the checking itself (the server's app/stepper/view/quantities.py), hiding values (conceal.js).
(() => {
  "use strict";

  const { $, parseAnswer } = window.lensCommon;
  const STORED = "lens.practice";
  const WHY = "its value is hidden while you practise";

  let on = false;
  try {
    on = sessionStorage.getItem(STORED) === "1";
  } catch {
    on = false; // storage refused (a private window): practice lasts as long as the page
  }
  // "run|step|key" → { typed, state: "right" | "wrong" | "error" | "shown" | "", text, revealed }: revealed stays
  // once the line was right or shown, whatever is checked after. Kept in this tab's sessionStorage (the newest
  // MAX_KEPT lines), so that a reload finds it.
  const WORKED = "lens.practice.worked";
  const MAX_KEPT = 400;
  const worked = new Map();
  const UNWORKED = Object.freeze({ typed: "", state: "", text: "", revealed: false, solved: false });
  try {
    for (const [k, v] of JSON.parse(sessionStorage.getItem(WORKED) || "[]")) worked.set(k, v);
  } catch {
    worked.clear(); // unreadable or refused: start afresh
  }
  function keep() {
    try {
      sessionStorage.setItem(WORKED, JSON.stringify([...worked].slice(-MAX_KEPT)));
    } catch {
      // storage refused or full: what was worked lasts as long as the page
    }
  }

  const run = () => $("run");
  const active = () => on && run() !== null && !run().classList.contains("present");
  const lines = () => [...document.querySelectorAll("#equation .eq-line[data-q]")];
  const where = (key) => `${run()?.dataset.runId}|${$("step-meta")?.dataset.step}|${key}`;
  const entry = (key) => worked.get(where(key)) || UNWORKED;
  const seen = (e) => Boolean(e.revealed);

  function fieldOf(line) {
    const template = $("practice-template");
    const form = template.content.firstElementChild.cloneNode(true);
    const id = `practice-${line.dataset.q}`;
    const input = form.querySelector("input");
    input.id = id;
    input.setAttribute("aria-describedby", `${id}-verdict`);
    const label = form.querySelector("label");
    label.htmlFor = id;
    label.textContent = `Your ${line.dataset.symbol}`;
    form.querySelector(".practice-verdict").id = `${id}-verdict`;
    input.placeholder = line.dataset.symbol.length <= 10 ? `${line.dataset.symbol} = ?` : "= ?";
    form.querySelector(".practice-show").setAttribute("aria-label", `Show ${line.dataset.symbol}`);
    form.dataset.q = line.dataset.q;
    return form;
  }

  // A line that shows another line's result among its operands (a = σ(z) shows z) waits for that line.
  function lockOf(line, all) {
    const operand = window.lensConceal.operandOf(line.dataset.q);
    const before = operand && all.find((l) => l.dataset.q === operand);
    return before && !seen(entry(operand)) ? before : null;
  }

  function lockNote(line, before) {
    let note = line.querySelector(":scope > .practice-locked");
    if (!before) return note?.remove();
    const text = `${line.dataset.symbol}: work out ${before.dataset.symbol} first, this line uses it.`;
    if (!note) {
      note = document.createElement("span");
      note.className = "practice-locked";
      line.append(note);
    }
    if (note.textContent !== text) note.textContent = text;
  }

  function paint(form, e) {
    const input = form.querySelector("input");
    if (document.activeElement !== input && input.value !== e.typed) input.value = e.typed;
    const verdict = form.querySelector(".practice-verdict");
    if (verdict.textContent !== e.text) verdict.textContent = e.text;
    verdict.classList.toggle("error", e.state === "error");
    form.classList.toggle("right", e.state === "right");
    form.classList.toggle("wrong", e.state === "wrong");
    input.setAttribute("aria-invalid", e.state === "wrong" || e.state === "error" ? "true" : "false");
    const show = form.querySelector(".practice-show");
    if (show.hidden !== seen(e)) show.hidden = seen(e);
  }

  // Everything practice puts on the page, made to match `on` (changing nothing once it does: the observer below
  // calls this after every change, its own included).
  function sync() {
    const button = $("btn-practice");
    if (button && button.getAttribute("aria-pressed") !== String(on)) button.setAttribute("aria-pressed", String(on));
    const r = run();
    if (r && r.classList.contains("practising") !== active()) r.classList.toggle("practising", active());
    const count = $("practice-count");
    if (!active()) {
      document.querySelectorAll(".practice-form, .practice-locked").forEach((el) => el.remove());
      window.lensConceal.set("practice", []);
      if (count && !count.hidden) count.hidden = true;
      return;
    }
    const asked = window.lensConceal.keysOf("question"); // the class's question is answered on its card
    const every = lines();
    const all = every.filter((line) => !asked.includes(line.dataset.q));
    every.forEach((line) => {
      if (asked.includes(line.dataset.q)) line.querySelector(":scope > .practice-form")?.remove();
    });
    const hidden = [];
    let right = 0;
    for (const line of all) {
      const key = line.dataset.q;
      let form = line.querySelector(":scope > .practice-form");
      if (!form || form.dataset.q !== key) {
        form?.remove();
        form = fieldOf(line);
        line.append(form);
      }
      const e = entry(key);
      paint(form, e);
      const before = lockOf(line, all);
      lockNote(line, before);
      if (form.hidden !== Boolean(before)) form.hidden = Boolean(before);
      if (e.solved) right += 1;
      if (!seen(e)) hidden.push(key);
    }
    window.lensConceal.set("practice", hidden, WHY);
    if (count) {
      const text = all.length ? `${right} of ${all.length} right on this step` : "nothing to work out on this step";
      if (count.textContent !== text) count.textContent = text;
      if (count.hidden) count.hidden = false;
    }
  }

  function toggle() {
    on = !on;
    try {
      sessionStorage.setItem(STORED, on ? "1" : "0");
    } catch {
      // storage refused: practice lasts as long as the page
    }
    sync();
    if (on) lines()[0]?.querySelector(".practice-form input")?.focus();
  }

  function remember(key, change, at = where(key)) {
    const was = worked.get(at) || UNWORKED;
    const now = { ...was, ...change };
    now.revealed = Boolean(was.revealed || now.state === "right" || now.state === "shown");
    now.solved = Boolean(was.solved || now.state === "right"); // counted right once, whatever is checked after
    worked.delete(at); // the newest last: the oldest go first past MAX_KEPT
    worked.set(at, now);
    keep();
    sync();
  }

  // After a right answer or Show: the next line still to work out (or, with none left, this line's field).
  function next(after) {
    const all = lines();
    const rest = [...all.slice(all.indexOf(after) + 1), ...all.slice(0, all.indexOf(after))];
    const todo = rest.find((line) => !seen(entry(line.dataset.q)));
    (todo || after).querySelector(".practice-form input")?.focus();
  }

  function checkLine(form) {
    const line = form.closest(".eq-line[data-q]");
    const input = form.querySelector("input");
    const r = run();
    const step = $("step-meta")?.dataset.step;
    if (!line || !r || step === undefined) return;
    const key = line.dataset.q;
    const sent = input.value; // what the verdict is about, whatever is typed meanwhile
    const read = parseAnswer(sent);
    if (read.error) return remember(key, { typed: sent, state: "error", text: read.error });
    if (form.getAttribute("aria-busy") === "true") return; // one check at a time (the button keeps the focus)
    form.setAttribute("aria-busy", "true");
    const url = `${r.dataset.stepUrl}${step}/check?${r.dataset.query}`;
    const asked = where(key); // the run and step it was asked on, whatever is shown when the answer comes
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key, answer: sent }),
    })
      .then(async (response) => {
        const body = await response.json().catch(() => ({}));
        const state = response.ok ? (body.right ? "right" : "wrong") : "error";
        const text = body.text || body.message || `Not checked: the server answered ${response.status}.`;
        remember(key, { typed: sent, state, text }, asked);
        if (state === "right" && where(key) === asked) next(line);
      })
      .catch(() => {
        const text = "Not checked: the server did not answer. Try again.";
        remember(key, { typed: sent, state: "error", text }, asked);
      })
      .finally(() => form.removeAttribute("aria-busy"));
  }

  function show(form) {
    const line = form.closest(".eq-line[data-q]");
    if (!line) return;
    const value = line.querySelector(".eq-result")?.textContent.trim();
    const text = `Shown: ${line.dataset.symbol} = ${value}. Work the line through with it.`;
    remember(line.dataset.q, { typed: form.querySelector("input").value, state: "shown", text });
    next(line); // the button is gone: the focus goes to the next line still to work out
  }

  document.addEventListener("click", (e) => {
    const el = e.target instanceof Element ? e.target : null;
    if (el?.closest("#btn-practice")) return toggle();
    const showing = el?.closest(".practice-show");
    if (showing) show(showing.closest(".practice-form"));
  });

  document.addEventListener("submit", (e) => {
    if (!(e.target instanceof HTMLFormElement) || !e.target.classList.contains("practice-form")) return;
    e.preventDefault();
    checkLine(e.target);
  });

  // What is typed is kept, so that a step swapped in (or a patch) finds it again.
  document.addEventListener("input", (e) => {
    const form = e.target instanceof Element ? e.target.closest(".practice-form") : null;
    if (form?.dataset.q) worked.set(where(form.dataset.q), { ...entry(form.dataset.q), typed: e.target.value });
  });

  new MutationObserver(() => {
    if (on || document.querySelector(".practice-form, #run.practising")) sync();
  }).observe(document.documentElement, { childList: true, subtree: true });

  sync();
})();
