// backprop-lens: ask the class, answer, reveal.
//
// The lecturer (the tab that drives a session, window.lensFollow.lead()): "Ask the class" fetches what the step on
// screen computes (GET …/ask, a radio each, named by its symbol); clicking an equation line (data-q), a neuron or an
// edge picks its radio too. "Ask" posts the question; from then on the value is hidden on this page, and the
// question's card counts the answers live (…/glance?question=n, every COUNT_MS). "Show answers" and "Reveal" post
// the phase; every page hears it in the follow stream. "Download CSV" fetches the answers with the token.
//
// A student (follow.js passes each state's question as "lens:question"): the question's card arrives (GET
// …/questions/n/panel with the page's random id), with one field and Send. A number is read by the same rules as
// the server's (lensCommon.parseAnswer); one that is not a number gets a sentence under the field and is not sent.
// The answer may change until the reveal, when the card shows the value, the results and the student's own mark.
//
// The hidden value: until the reveal, the quantity's table cells read "?", its equation line's result is hidden,
// and its neuron or edge on the diagram loses its value, its colour and its read-out (static/js/conceal.js).
(() => {
  "use strict";

  const { $, parseAnswer } = window.lensCommon;
  const COUNT_MS = 500; // the lecturer's count is read this often: at most this old, and the request's time
  const HIDDEN_INFO = "its numbers are hidden until the lecturer reveals the answer";

  // --- the hidden value (conceal.js hides it everywhere) ------------------------------------------------

  const setHidden = (key) => window.lensConceal.set("question", key ? [key] : [], HIDDEN_INFO);

  // --- the lecturer -----------------------------------------------------------------------------------

  let picking = false;
  let asked = null; // {n, key, baseUrl}
  let countTimer = null;

  const lead = () => window.lensFollow?.lead() ?? null;
  const panel = () => $("question-panel");

  function lecturerFetch(url, options = {}) {
    const session = lead();
    if (!session) return Promise.reject(new Error("not leading"));
    const headers = { ...(options.headers || {}), "X-Lecturer-Token": session.token };
    return window.lensFollow.asLecturer(fetch(url, { ...options, headers }));
  }

  async function said(r) {
    const body = await r.json().catch(() => ({}));
    return body.message || `The server answered ${r.status}.`;
  }

  function problem(text) {
    const p = panel();
    if (!p) return;
    const line = document.createElement("p");
    line.className = "error";
    line.setAttribute("role", "alert");
    line.textContent = text;
    p.replaceChildren(line);
  }

  function openPicker() {
    const shown = window.lens?.current();
    const button = $("btn-ask");
    if (!shown?.runId || !button || !lead()) return;
    const url = `${button.dataset.askUrl}?run_id=${encodeURIComponent(shown.runId)}&step=${shown.step}`;
    lecturerFetch(url, { cache: "no-store" })
      .then(async (r) => {
        if (!r.ok) return problem(await said(r));
        panel().innerHTML = await r.text();
        picking = true;
        (document.querySelector("#ask-form input[checked]") || $("btn-ask-cancel"))?.focus();
      })
      .catch(() => problem("The server did not answer; try again."));
  }

  function closePicker() {
    picking = false;
    if ($("ask-form")) panel().replaceChildren();
    $("btn-ask")?.focus();
  }

  // A click on the page while picking: the line's, neuron's or edge's quantity (again: the next one there).
  function pick(target) {
    const radios = [...document.querySelectorAll('#ask-form input[name="q"]')];
    const line = target.closest(".eq-line[data-q]");
    let found = line ? radios.filter((r) => r.value === line.dataset.q) : [];
    if (!found.length) {
      const item = target.closest("#net .neuron, #net .edge, #net line.wire");
      if (item?.id) found = radios.filter((r) => r.dataset.ids.split(" ")[0] === item.id);
    }
    if (!found.length) return;
    const now = found.indexOf(found.find((r) => r.checked));
    const next = found[(now + 1) % found.length];
    next.checked = true;
    next.focus({ preventScroll: true });
  }

  function askNow(form) {
    const session = lead();
    const chosen = form.querySelector('input[name="q"]:checked');
    const button = $("btn-ask");
    if (!session || !chosen || !button) return;
    const body = { run_id: form.dataset.runId, step: Number(form.dataset.step), key: chosen.value };
    lecturerFetch(button.dataset.questionsUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    })
      .then(async (r) => {
        if (!r.ok) return problem(await said(r));
        const q = await r.json();
        picking = false;
        asked = { n: q.n, key: q.key, baseUrl: `${button.dataset.questionsUrl}/${q.n}` }; // as resume() has it
        setHidden(q.key);
        await loadCard();
        watchAnswers();
      })
      .catch(() => problem("The question was not asked: the server did not answer."));
  }

  async function loadCard() {
    if (!asked) return;
    const r = await lecturerFetch(`${asked.baseUrl}/panel`, { cache: "no-store" });
    if (!r.ok) return problem(await said(r));
    const focusedId = document.activeElement?.id;
    panel().innerHTML = await r.text();
    const again = focusedId && $(focusedId);
    (again || $("btn-q-show") || $("btn-q-reveal") || $("btn-q-done"))?.focus();
  }

  function watchAnswers() {
    clearTimeout(countTimer);
    const session = lead();
    const glance = $("share-glance")?.dataset.glanceUrl;
    if (!asked || !session || !glance) return;
    const mine = asked;
    const again = () => {
      if (asked === mine && mine.phase !== "revealed") countTimer = setTimeout(watchAnswers, COUNT_MS);
    };
    if (document.hidden) return again();
    lecturerFetch(`${glance}?question=${mine.n}`, { cache: "no-store" })
      .then((r) => (r.ok ? r.json() : null))
      .then((g) => {
        const count = $("q-count");
        if (!g || !count || asked !== mine) return;
        const text = `${g.answers_text} · ${g.text}`;
        if (count.textContent !== text) count.textContent = text;
        const glance = $("share-glance")?.querySelector(".glance-count"); // the same counts, read more often here
        if (glance && glance.textContent !== g.text) glance.textContent = g.text;
        count.dataset.answers = String(g.answers);
      })
      .catch(() => {})
      .finally(again);
  }

  function move(phase) {
    if (!asked) return;
    const mine = asked;
    lecturerFetch(`${mine.baseUrl}/${phase}`, { method: "POST" })
      .then(async (r) => {
        if (!r.ok) return problem(await said(r));
        if (phase === "reveal") {
          mine.phase = "revealed";
          setHidden(null);
        }
        await loadCard();
        if (phase !== "reveal") watchAnswers();
      })
      .catch(() => problem("The server did not answer; try again."));
  }

  function downloadCsv() {
    if (!asked) return;
    const n = asked.n;
    lecturerFetch(`${asked.baseUrl}/answers.csv`, { cache: "no-store" })
      .then(async (r) => {
        if (!r.ok) return problem(await said(r));
        const url = URL.createObjectURL(await r.blob());
        const a = document.createElement("a");
        a.href = url;
        a.download = `question-${n}.csv`;
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
      })
      .catch(() => problem("The CSV was not downloaded: the server did not answer."));
  }

  function done() {
    clearTimeout(countTimer);
    asked = null;
    setHidden(null);
    panel()?.replaceChildren();
    $("btn-ask")?.focus();
  }

  // A page of the lecturer's loaded while a question is open (a reload, the lecturer link in another window): its
  // card, its count and the hidden value come back.
  function resume() {
    const p = panel();
    const question = p?.dataset.question;
    const button = $("btn-ask");
    if (!question || !button || !lead()) return;
    delete p.dataset.question;
    if (asked) return;
    const [n, key, phase] = question.split(":");
    asked = { n: Number(n), key, phase, baseUrl: `${button.dataset.questionsUrl}/${n}` };
    setHidden(key);
    loadCard()
      .then(watchAnswers)
      .catch(() => problem("The open question did not load: the server did not answer."));
  }

  // --- a student ------------------------------------------------------------------------------------

  let seen = null; // "n:phase" of the card shown

  function studentCard(code, question) {
    const box = $("class-question");
    const classroom = $("classroom");
    if (!box || !classroom) return;
    if (!question) {
      setHidden(null);
      return;
    }
    setHidden(question.phase === "revealed" ? null : question.key);
    const now = `${question.n}:${question.phase}`;
    if (now === seen) return;
    seen = now;
    const url = `${classroom.dataset.sessionsUrl}/${code}/questions/${question.n}/panel`;
    fetch(url, { headers: { "X-Student": window.lensFollow.student() }, cache: "no-store" })
      .then(async (r) => {
        if (!r.ok || seen !== now) return;
        const typed = $("f-answer");
        const keep = typed && typed.value && typed.dataset.n === String(question.n) ? typed.value : null;
        const hadFocus = document.activeElement === typed;
        box.innerHTML = await r.text();
        box.hidden = false;
        const field = $("f-answer");
        if (field) {
          field.dataset.n = String(question.n);
          if (keep !== null) field.value = keep;
          if (hadFocus) field.focus();
        }
      })
      .catch(() => {
        seen = null; // the next state tries again
      });
  }

  function sendAnswer() {
    const field = $("f-answer");
    const status = $("answer-status");
    const card = $("question-card");
    if (!field || !status || !card) return;
    const tell = (text, isError) => {
      status.textContent = text;
      status.classList.toggle("error", Boolean(isError));
      field.setAttribute("aria-invalid", isError ? "true" : "false");
    };
    const read = parseAnswer(field.value);
    if (read.error) return tell(read.error, true);
    const button = $("btn-answer");
    if (button) button.disabled = true;
    fetch(card.dataset.answersUrl, {
      method: "POST",
      headers: { "content-type": "application/json", "X-Student": window.lensFollow.student() },
      body: JSON.stringify({ answer: field.value }),
    })
      .then(async (r) => {
        const body = await r.json().catch(() => ({}));
        if (r.ok) return tell(body.text, false);
        if (r.status === 409) return tell("The lecturer has revealed the answer: yours can no longer change.", true);
        if (r.status === 429) return tell("That is a lot of answers at once: wait a few seconds, then send.", true);
        tell(body.message || `Not sent (${r.status}).`, true);
      })
      .catch(() => tell("Not sent: the server did not answer. Try again.", true))
      .finally(() => {
        if (button) button.disabled = false;
      });
  }

  // --- events ---------------------------------------------------------------------------------------------

  document.addEventListener("lens:question", (e) => studentCard(e.detail.code, e.detail.question));
  document.addEventListener("htmx:after:swap", resume); // after follow.js's own listener: the session is adopted

  document.addEventListener(
    "click",
    (e) => {
      const el = e.target instanceof Element ? e.target : null;
      if (!el) return;
      const button = el.closest("button");
      if (button?.id === "btn-ask") return openPicker();
      if (button?.id === "btn-ask-cancel") return closePicker();
      if (button?.id === "btn-q-show") return move("show");
      if (button?.id === "btn-q-reveal") return move("reveal");
      if (button?.id === "btn-q-csv") return downloadCsv();
      if (button?.id === "btn-q-done") return done();
      if (picking && $("ask-form") && !el.closest("#ask-form")) pick(el);
    },
    true,
  );

  document.addEventListener("submit", (e) => {
    if (!(e.target instanceof HTMLFormElement)) return;
    if (e.target.id === "ask-form") {
      e.preventDefault();
      askNow(e.target);
    } else if (e.target.id === "answer-form") {
      e.preventDefault();
      sendAnswer();
    }
  });

  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && picking) closePicker();
  });
})();
