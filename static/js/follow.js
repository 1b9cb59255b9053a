// backprop-lens: follow the lecturer.
//
// On the lecturer's page, "Share with the class" asks for a session on the run and step on screen
// (POST /sessions) and shows its panel; from then on every step and line (lens.js's "lens:step" and
// "lens:line" on #run: lecture mode walks a long equation line by line) and every
// new run (a configuration, the next iteration: #run swapped with another data-run-id) is posted to the
// session with the lecturer's token, which only this tab holds (sessionStorage; the lecturer link carries
// it after "#", which no request sends). A server that wants a lecturer key answers the first share with a
// panel asking for it (#key-form): the key typed there is kept in the tab's sessionStorage and sent with every
// later share (X-Lecturer-Key), so the lecturer types it once; a key the server refuses is forgotten.
//
// On a student's page (?follow=CODE, from the join URL), one EventSource follows the session: each "state"
// loads the lecturer's step into #stage (and marks the lecturer's line), or the lecturer's run into #run
// with its configuration, while the student follows. "Explore on my own" (or stepping, playing or configuring on one's own) detaches:
// events are then only noted in the bar; "Follow again" loads the lecturer's current state. Either opens the stream
// again with its mode (?mode=exploring or following), so that the lecturer's count tells the two apart. The bar's
// reaction buttons (lost, slower, got it) post to the session, anonymously: the page's random id (X-Student, kept
// in the tab) only bounds each student's rate.
//
// While the lecturer's tab drives a session, it asks the server for the class at a glance every few seconds
// (GET …/glance with the token): following and exploring over every process, and the last minute's reactions,
// in the server's words.
//
// A state that carries the lecturer's question is passed on as "lens:question" (static/js/ask.js).
//
// The step on screen and the person's own steps come from lens.js (window.lens, "lens:step", "lens:own").
// Every URL comes from #classroom's data-* attributes, which the server writes under the app's root path.
(() => {
  "use strict";

  const { $, backoff, newestWins } = window.lensCommon;
  const box = () => $("classroom");
  const tokenKey = (code) => `backprop-lens:lead:${code}`;
  const LEADING = "backprop-lens:leading"; // the code of the session this tab drives, across its page loads
  const KEY = "backprop-lens:lecturer-key"; // the lecturer key this tab shares with, once the server asked for it
  const STUDENT = "backprop-lens:student"; // this tab's random id for its reactions (no name, no account)
  const GLANCE_MS = 2000; // the lecturer's count is at most this old

  function onScreen() {
    const shown = window.lens?.current();
    if (!shown?.runId) return null;
    return { run_id: shown.runId, step: shown.step, line: window.lens.line(), point: window.lens.pointing() };
  }
  const keyOf = (s) => `${s?.run_id}:${s?.step}:${s?.line ?? 0}:${s?.point ?? ""}`;

  // --- the lecturer ------------------------------------------------------------------------------

  let lead = null; // {code, token, stateUrl, sessionUrl}
  let posted = null; // "run:step" the session was last told

  function shareStatus(text, isError) {
    const s = $("share-status");
    if (!s) return;
    s.textContent = text;
    s.classList.toggle("error", Boolean(isError));
  }

  function share() {
    const s = onScreen();
    if (!s) return;
    const key = sessionStorage.getItem(KEY);
    htmx.ajax("POST", box().dataset.sessionsUrl, {
      target: "#share-panel",
      swap: "innerHTML",
      values: { run_id: s.run_id, step: String(s.step) },
      headers: key ? { "X-Lecturer-Key": key } : {},
    });
  }

  // The server asked for a lecturer key (none was kept, or it refused the one kept): ask the lecturer.
  let askedWith = null; // the form that asked last
  function askKey(form) {
    askedWith = form;
    sessionStorage.removeItem(KEY);
    $("f-lecturer-key")?.focus();
  }

  function shareWithKey() {
    const key = $("f-lecturer-key")?.value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    share(); // the answer is the panel, or this form again if the server refuses the key
  }

  // The panel arrived (a new session, or the lecturer link's page): take its token, start driving.
  function adopt() {
    const card = $("share-card");
    if (!card?.dataset.code) return;
    const code = card.dataset.code;
    if (card.dataset.token) {
      sessionStorage.setItem(tokenKey(code), card.dataset.token);
      card.removeAttribute("data-token");
      posted = keyOf({ ...onScreen(), line: 0, point: "" }); // the session was made on the run and step on screen
    }
    const token = sessionStorage.getItem(tokenKey(code));
    const link = $("lead-link");
    if (!token) {
      lead = null;
      if (link) link.hidden = true;
      shareStatus("This tab does not hold the lecturer link: open it here to drive the session.", true);
      return;
    }
    if (link) link.href = `${card.dataset.leadUrl}#${token}`;
    sessionStorage.setItem(LEADING, code);
    const fresh = !lead || lead.code !== code;
    lead = { code, token, stateUrl: card.dataset.stateUrl, sessionUrl: card.dataset.sessionUrl };
    const moveFocus = focused("btn-share");
    box()?.classList.add("sharing");
    if (moveFocus) $("join-code")?.focus(); // the share button hides: the code to read out takes the focus
    if (fresh) send();
    watchClass();
  }

  // What this tab asks as the lecturer (the glance, the question's count): Stop sharing waits for it, so no
  // request reaches a session that has just ended and comes back a 404.
  const asking = new Set();
  function asLecturer(request) {
    const done = request.then(
      () => {},
      () => {},
    );
    asking.add(done);
    done.finally(() => asking.delete(done));
    return request;
  }

  // The class at a glance: asked again every GLANCE_MS while this tab drives a session and is visible.
  let glanceTimer = null;
  function watchClass() {
    clearTimeout(glanceTimer);
    const line = $("share-glance");
    if (!lead || !line) return;
    const session = lead;
    const again = () => {
      if (lead === session) glanceTimer = setTimeout(watchClass, GLANCE_MS);
    };
    if (document.hidden) return again();
    asLecturer(fetch(line.dataset.glanceUrl, { headers: { "X-Lecturer-Token": session.token }, cache: "no-store" }))
      .then(async (r) => {
        if ((r.status === 404 || r.status === 403) && lead === session) {
          // ended from another window (the lecturer link), or expired: this tab stops asking and says so
          const body = await r.json().catch(() => ({}));
          stopped(body.message || "The session has ended.");
          return null;
        }
        return r.ok ? r.json() : null;
      })
      .then((g) => {
        const shown = $("share-glance");
        if (!g || !shown || lead !== session) return;
        shown.querySelector(".glance-count").textContent = g.text;
        shown.querySelector(".glance-reactions").textContent = g.reactions_text;
        shown.dataset.following = String(g.following);
        shown.dataset.exploring = String(g.exploring);
        shown.classList.toggle("has-lost", g.reactions.lost > 0);
      })
      .catch(() => {})
      .finally(again);
  }

  function send() {
    const s = onScreen();
    if (lead && s && keyOf(s) !== posted) positions.ask(s);
  }

  // Only the newest position is sent next: the class skips to it.
  const positions = newestWins((s) => {
    const key = keyOf(s);
    if (!lead || key === posted) return;
    posted = key;
    const session = lead;
    return fetch(session.stateUrl, {
      method: "POST",
      headers: { "content-type": "application/json", "X-Lecturer-Token": session.token },
      body: JSON.stringify(s),
    })
      .then(async (r) => {
        if (r.ok) {
          shareStatus("Your class follows each step, configuration and iteration you show.");
          return;
        }
        const body = await r.json().catch(() => ({}));
        if (r.status === 404 || r.status === 403) stopped(body.message || "The session has ended.");
        else {
          posted = null; // say it again with the next step
          shareStatus(body.message || `The class could not be told (${r.status}).`, true);
        }
      })
      .catch(() => {
        posted = null;
        shareStatus("The server did not answer; your next step will be sent again.", true);
      });
  });

  // A link to what the session showed (/join/CODE shows its recap once sharing stopped).
  function recapLink(sessionCode, id) {
    const a = document.createElement("a");
    a.id = id;
    a.href = `${box().dataset.joinUrl}${sessionCode}`;
    a.textContent = "What the session showed";
    return a;
  }

  function stopped(message, session = lead) {
    const moveFocus = focused("btn-stop-share"); // the panel with the button goes
    clearTimeout(glanceTimer);
    if (session) sessionStorage.removeItem(tokenKey(session.code));
    sessionStorage.removeItem(LEADING);
    lead = null;
    posted = null;
    box()?.classList.remove("sharing");
    const panel = $("share-panel");
    if (panel) {
      panel.replaceChildren();
      const p = document.createElement("p");
      p.className = "share-ended";
      p.id = "share-ended";
      p.setAttribute("role", "status");
      p.textContent = message;
      if (session) p.append(" ", recapLink(session.code, "lead-recap"));
      p.tabIndex = -1;
      panel.append(p);
      if (moveFocus) p.focus();
    }
  }

  function stopSharing() {
    const session = lead;
    if (!session) return;
    lead = null; // nothing more is sent or asked; what is on its way lands first, then the session ends
    clearTimeout(glanceTimer);
    Promise.all([positions.settled(), ...asking])
      .then(() => fetch(session.sessionUrl, { method: "DELETE", headers: { "X-Lecturer-Token": session.token } }))
      .catch(() => {})
      .finally(() => stopped("Sharing stopped: the class's pages are their own now.", session));
  }

  function toggleCard(button) {
    const card = $("share-card");
    if (!card) return;
    const hide = !card.classList.contains("collapsed");
    card.classList.toggle("collapsed", hide);
    button.textContent = hide ? "Show" : "Hide";
    button.setAttribute("aria-expanded", hide ? "false" : "true");
  }

  // The lecturer link's page (?lead=CODE): its token moves from the address into this tab's storage.
  function startLeading(code) {
    const token = location.hash.slice(1);
    if (token) {
      sessionStorage.setItem(tokenKey(code), token);
      history.replaceState(history.state, "", location.pathname + location.search);
    }
    htmx.ajax("GET", `${box().dataset.sessionsUrl}/${code}/panel`, { target: "#share-panel", swap: "innerHTML" });
  }

  // --- a student ---------------------------------------------------------------------------------

  let code = null;
  let following = true;
  let lecturer = null; // {run_id, step, seq}: the newest state heard
  let source = null;
  const retries = backoff();

  function setBar(text) {
    const t = $("follow-text");
    if (t) t.textContent = text;
    $("follow-bar")?.classList.toggle("following", following);
    const detach = $("btn-detach");
    const again_ = $("btn-follow");
    if (detach) detach.hidden = !following;
    if (again_) again_.hidden = following;
  }

  function where() {
    if (!lecturer) return "";
    return `the lecturer is at step ${lecturer.step + 1}${lecturer.line ? `, line ${lecturer.line}` : ""}`;
  }

  function showState() {
    if (following) setBar("Following the lecturer");
    else setBar(`Exploring on my own${lecturer ? ` · ${where()}` : ""}`);
  }

  const stepUrl = (runId, step) => `${box().dataset.runsUrl}${runId}/steps/${step}`;

  // The lecturer's newest state is loaded next; a failed load is not tried again until the next state.
  const apply = () => {
    if (following && lecturer) loads.ask();
  };
  const loads = newestWins(() => {
    if (!following || !lecturer) return;
    const shown = window.lens?.current();
    const { run_id: runId, step } = lecturer;
    const line = lecturer.line ?? 0;
    window.lens.point(lecturer.point ?? ""); // marked now, and again once the lecturer's step has arrived
    if (shown?.runId === runId) {
      // the step, at the lecturer's line (lens.js loads the step and marks the line on the page's own layout)
      if (shown.step !== step || window.lens.line() !== line) window.lens.goto(step, line);
      return;
    }
    // Another run: the step-through's own page of it, of which #run and the configuration are swapped in; the
    // page opens at the line its address names.
    const request = htmx.ajax("GET", `${stepUrl(runId, step)}${line ? `?line=${line}` : ""}`, {
      target: "#run",
      swap: "outerHTML",
      select: "#run",
      selectOOB: "#config-panel",
      headers: { "HX-Request": "false" },
    });
    return Promise.resolve(request).catch(() => {}); // lens.js writes the address (with ?follow=CODE)
  });

  function ended() {
    source?.close();
    source = null;
    following = false;
    setBar("The lecturer stopped sharing: the page is yours");
    if (!$("follow-recap")) $("follow-state")?.append(" · ", recapLink(code, "follow-recap"));
    $("follow-bar")?.classList.add("ended");
    for (const id of ["btn-detach", "btn-follow"]) {
      const b = $(id);
      if (b) b.hidden = true;
    }
  }

  function connect() {
    const url = `${box().dataset.sessionsUrl}/${code}/events?mode=${following ? "following" : "exploring"}`;
    const opened = new EventSource(url);
    source = opened;
    opened.addEventListener("state", (e) => {
      retries.reset();
      lecturer = JSON.parse(e.data);
      $("follow-bar")?.classList.remove("lost");
      showState();
      apply();
      // ask.js shows the lecturer's question (following or exploring: a question is for the whole class)
      document.dispatchEvent(new CustomEvent("lens:question", { detail: { code, question: lecturer.question ?? null } }));
    });
    opened.addEventListener("ended", ended);
    opened.addEventListener("error", () => {
      // Open: EventSource reconnects by itself (with Last-Event-ID). Closed: the server refused the stream.
      if (source !== opened || opened.readyState !== EventSource.CLOSED) return;
      source = null;
      fetch(url, { method: "GET", headers: { Accept: "text/event-stream" } })
        .then((r) => {
          r.body?.cancel().catch(() => {});
          if (r.status === 404) return ended();
          throw new Error(String(r.status));
        })
        .catch(() => {
          const delay = retries.next();
          if (delay === null) {
            $("follow-bar")?.classList.add("lost");
            setBar("The connection to the lecturer is lost; reload the page to try again");
            return;
          }
          setTimeout(connect, delay);
        });
    });
  }

  // The stream again, in the new mode (its first event is the lecturer's current state).
  function reconnect() {
    if (!source) return; // lost or ended: nothing to tell
    source.close();
    connect();
  }

  // A button that hides itself when pressed hands the focus to what takes its place, not to the page.
  const focused = (id) => document.activeElement?.id === id;

  function detach() {
    if (!following) return;
    const moveFocus = focused("btn-detach");
    following = false;
    window.lens?.point(""); // the lecturer's pointer belongs to the lecturer's page
    showState();
    if (moveFocus) $("btn-follow")?.focus();
    reconnect();
  }

  function followAgain() {
    const moveFocus = focused("btn-follow");
    following = true;
    showState();
    if (moveFocus) $("btn-detach")?.focus();
    apply();
    reconnect();
  }

  function studentId() {
    let id = sessionStorage.getItem(STUDENT);
    if (!id) {
      const bytes = crypto.getRandomValues(new Uint8Array(12));
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      sessionStorage.setItem(STUDENT, id);
    }
    return id;
  }

  let reactTimer = null;
  function react(button) {
    const status = $("react-status");
    const said = (text, isError) => {
      if (!status) return;
      status.textContent = text;
      status.classList.toggle("error", Boolean(isError));
      status.classList.remove("sent");
      if (!isError) {
        void status.offsetWidth; // a second press of the same button flashes again
        status.classList.add("sent");
      }
    };
    // Past the rate, the buttons rest for the server's Retry-After (the 429's message, with its setting, is the
    // API's; a student reads a sentence).
    const rest = (seconds) => {
      const buttons = document.querySelectorAll("#follow-bar .react-btn");
      buttons.forEach((b) => (b.disabled = true));
      clearTimeout(reactTimer);
      reactTimer = setTimeout(() => {
        buttons.forEach((b) => (b.disabled = false));
        said("");
      }, seconds * 1000);
    };
    fetch(`${box().dataset.sessionsUrl}/${code}/reactions`, {
      method: "POST",
      headers: { "content-type": "application/json", "X-Student": studentId() },
      body: JSON.stringify({ reaction: button.dataset.reaction }),
    })
      .then(async (r) => {
        if (r.ok) return said(`Sent: “${button.textContent}”`);
        if (r.status === 429) {
          rest(Number(r.headers.get("Retry-After")) || 10);
          return said("That is a lot of reactions: wait a few seconds.", true);
        }
        const body = await r.json().catch(() => ({}));
        said(body.message || `Not sent (${r.status}).`, true);
      })
      .catch(() => said("Not sent: the server did not answer.", true));
  }

  // Stepping, playing or configuring one's own way is exploring: the page stops following. lens.js says when
  // the person steps or plays ("lens:own"); a run or an iteration of one's own is a click seen here.
  const OWN_BUTTONS = ["btn-next", "btn-apply"];

  document.addEventListener(
    "click",
    (e) => {
      const el = e.target instanceof Element ? e.target : null;
      if (!el) return;
      const button = el.closest("button");
      if (button?.id === "btn-share") return share();
      if (button?.id === "btn-stop-share") return stopSharing();
      if (button?.id === "btn-hide-share") return toggleCard(button);
      if (button?.id === "btn-detach") return detach();
      if (button?.id === "btn-follow") return followAgain();
      if (button?.dataset.reaction && code) return react(button);
      const own =
        (button && (OWN_BUTTONS.includes(button.id) || (button.matches("#run [hx-post]") && !button.closest("#instruments-slot")))) ||
        el.closest("#scrubber a");
      if (code && following && own) detach(); // a step, a run or an iteration of one's own
    },
    true,
  );
  document.addEventListener("lens:own", () => {
    if (code && following) detach();
  });

  document.addEventListener("submit", (e) => {
    if (e.target instanceof HTMLFormElement && e.target.id === "key-form") {
      e.preventDefault();
      shareWithKey();
    }
  });
  document.addEventListener("lens:step", () => send());
  document.addEventListener("lens:line", () => send());
  document.addEventListener("lens:point", () => send());
  document.addEventListener("htmx:after:swap", (e) => {
    const card = $("share-card");
    if (card && (card.dataset.token || lead?.code !== card.dataset.code)) adopt(); // a panel arrived
    if ($("share-error") && !lead) sessionStorage.removeItem(LEADING); // the session this tab drove has ended
    const form = $("key-form");
    if (form && form !== askedWith) askKey(form); // a new answer that asks for the key
    send(); // a new run (configuration, next iteration) has no step change of its own
  });

  function start() {
    const c = box();
    if (!c) return;
    if (c.dataset.follow) {
      code = c.dataset.follow.toUpperCase();
      showState();
      connect();
    } else if (c.dataset.lead) {
      startLeading(c.dataset.lead.toUpperCase());
    } else if (sessionStorage.getItem(LEADING)) {
      // Another page of this tab (a link, a reload): the tab still drives its session, now from this page.
      startLeading(sessionStorage.getItem(LEADING));
    }
  }

  // For ask.js: the session this tab drives (its code, token and URL), and this tab's random student id.
  window.lensFollow = Object.freeze({
    lead: () => (lead ? { code: lead.code, token: lead.token, sessionUrl: lead.sessionUrl } : null),
    asLecturer,
    student: studentId,
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
