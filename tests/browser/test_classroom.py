"""Follow the lecturer in Chromium: a lecturer's page and two students' pages, one of them exploring on its own.

After each of the lecturer's actions (a step, playing to a step, a step picked on the scrubber, a new
configuration, the next iteration) the following student shows the lecturer's run and step and the same
numbers (every value of the numbers tables, the equation and the status line), and the detached student
keeps its own while its bar says where the lecturer is. "Follow again" brings it back. Screenshots of
the share panel (1024×768, phone) and of the students' pages (1024×768, phone) go to artifacts/screenshots/.
"""

from __future__ import annotations

import re
import subprocess
import time
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import OpenPage, shot_path
from tests.processes import environment, serving

pytestmark = pytest.mark.browser

STEPS = 8  # the worked example: input, 2 × eq. 25, BP1, BP2, 2 × BP3/BP4, update


def where(page: Page) -> tuple[str, str]:
    run = page.locator("#run")
    return run.get_attribute("data-run-id") or "", run.get_attribute("data-step") or ""


def numbers(page: Page) -> dict[str, Any]:
    """What a student reads: each value of the numbers tables (full and as shown), the equation, the status."""
    cells = page.eval_on_selector_all(
        "#numbers [data-q][data-value]", "els => els.map(e => [e.dataset.q, e.dataset.value, e.textContent])"
    )
    return {
        "cells": cells,
        "equation": page.text_content("#equation"),
        "status": page.text_content("#status"),
        "eta": page.input_value("#f-eta"),
        "iteration": page.text_content("#iteration"),
    }


def follows(student: Page, lecturer: Page) -> None:
    """The student shows the lecturer's run and step (waited for), with the same numbers."""
    run_id, step = where(lecturer)
    expect(student.locator("#run")).to_have_attribute("data-run-id", run_id)
    expect(student.locator("#run")).to_have_attribute("data-step", step)
    expect(student.locator("#step-meta")).to_have_attribute("data-step", step)
    assert numbers(student) == numbers(lecturer)


def lecturer_at(page: Page, step: int) -> None:
    expect(page.locator("#run")).to_have_attribute("data-step", str(step))


def sharing(open_page: OpenPage, width: int, height: int) -> tuple[Page, str]:
    """A lecturer's page at ``width``×``height`` on the worked example, shared with the class: (the page, its code)."""
    lecturer = open_page(width, height)
    lecturer.goto("/")
    lecturer.click("#btn-share")
    expect(lecturer.locator("#join-code")).to_be_visible()
    code = lecturer.get_attribute("#share-card", "data-code") or ""
    assert len(code) == 6
    return lecturer, code


def test_two_students_one_following_one_exploring(open_page: OpenPage) -> None:
    lecturer, code = sharing(open_page, 1024, 768)
    expect(lecturer.locator("#join-code")).to_have_text(f"{code[:3]} {code[3:]}")
    expect(lecturer.locator(".qr svg.qr-code")).to_be_visible()
    assert lecturer.get_attribute("#share-card", "data-token") is None  # moved into the tab's storage
    lead = lecturer.get_attribute("#lead-link", "href") or ""
    assert lead.endswith(f"/lead/{code}#" + lecturer.evaluate(f"sessionStorage['backprop-lens:lead:{code}']"))
    lecturer.screenshot(path=shot_path("classroom-share-1024.png"), caret="initial")

    follower = open_page(1024, 768)
    explorer = open_page(390, 844)
    for page in (follower, explorer):
        page.goto(f"/join/{code}")
        expect(page.locator("#follow-text")).to_have_text("Following the lecturer")
        follows(page, lecturer)
    explorer.click("#btn-detach")
    expect(explorer.locator("#follow-text")).to_have_text("Exploring on my own · the lecturer is at step 1")
    expect(explorer.locator("#btn-follow")).to_be_visible()
    own = where(explorer)

    def check(lecturer_step: int) -> None:
        follows(follower, lecturer)
        expect(explorer.locator("#follow-text")).to_have_text(
            f"Exploring on my own · the lecturer is at step {lecturer_step + 1}"
        )
        assert where(explorer) == own

    # A step, with the keyboard.
    lecturer.keyboard.press("ArrowRight")
    lecturer.keyboard.press("ArrowRight")
    lecturer_at(lecturer, 2)
    check(2)
    # Playing to a step: the stream plays, the lecturer pauses; the class ends where the lecturer does.
    lecturer.click("#btn-play")  # 0.7 s a step
    expect(lecturer.locator("#run")).to_have_attribute("data-step", re.compile("[4-7]"))
    lecturer.click("#btn-play")  # pause, at step 4 or (a slow click) 5
    expect(lecturer.locator("#run")).not_to_have_class("run playing")
    check(int(where(lecturer)[1]))
    # A step picked on the scrubber.
    lecturer.click("#mark-1")
    lecturer_at(lecturer, 1)
    check(1)
    # A new configuration: another run, with its configuration.
    lecturer.locator("#config-panel summary").click()
    lecturer.fill("#f-eta", "0.25")
    lecturer.click("#btn-apply")
    expect(lecturer.locator("#f-eta")).to_have_value("0.25")
    lecturer_at(lecturer, 0)
    assert where(lecturer)[0] != where(follower)[0] or numbers(follower)["eta"] == "0.25"
    check(0)
    assert numbers(follower)["eta"] == "0.25"
    # The next iteration, from the last step.
    lecturer.click("#btn-end")
    lecturer_at(lecturer, STEPS - 1)
    check(STEPS - 1)
    before = where(lecturer)[0]
    lecturer.click("#btn-next")
    expect(lecturer.locator("#iteration")).to_have_text("iteration 1")
    assert where(lecturer)[0] != before
    check(0)
    assert numbers(follower)["iteration"] == "iteration 1"
    follower.screenshot(path=shot_path("classroom-student-1024.png"), caret="initial")
    # The lecturer's tab loads another page (a link, a reload): it still drives the session, from that page.
    lecturer.goto("/")
    expect(lecturer.locator("#share-card")).to_have_attribute("data-code", code)
    expect(lecturer.locator("#btn-share")).to_be_hidden()
    check(0)
    assert numbers(follower)["iteration"] == "iteration 0"

    # The explorer's page is its own: it steps; then it follows again and is where the lecturer is.
    explorer.keyboard.press("ArrowRight")
    expect(explorer.locator("#run")).to_have_attribute("data-step", str(int(own[1]) + 1))
    explorer.click("#btn-follow")
    expect(explorer.locator("#follow-text")).to_have_text("Following the lecturer")
    follows(explorer, lecturer)
    explorer.screenshot(path=shot_path("classroom-student-phone.png"), caret="initial")
    # Stepping one's own way detaches too.
    follower.keyboard.press("ArrowLeft")
    expect(follower.locator("#follow-text")).to_have_text("Exploring on my own · the lecturer is at step 1")

    # The lecturer stops sharing: the followers' pages become their own.
    lecturer.click("#btn-stop-share")
    expect(lecturer.locator("#share-ended")).to_contain_text("Sharing stopped")
    expect(explorer.locator("#follow-text")).to_have_text("The lecturer stopped sharing: the page is yours")


def qr_follows_the_buttons(page: Page) -> None:
    """On a phone the QR code comes right after the buttons: the card's gap (1.5rem) and the buttons'
    paragraph's margin (0.2rem) between them, no empty space."""
    qr = page.locator(".qr svg").bounding_box()
    buttons = page.locator(".share-actions").bounding_box()
    assert qr and buttons
    assert qr["y"] - (buttons["y"] + buttons["height"]) <= (1.5 + 0.2) * 16 + 1


def test_the_share_panel_on_a_phone_at_the_machines_network_address(open_page: OpenPage) -> None:
    """The lecturer opened the page at this machine's address on the network (no warning: the text is short)."""
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True).stdout.split()
    addresses = [a for a in out if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", a) and not a.startswith("127.")]
    if not addresses:
        pytest.skip("this machine has no address on a network")
    with serving("--host", "0.0.0.0") as (_, url, _log):
        lecturer = open_page(390, 844)
        lecturer.goto(f"http://{addresses[0]}:{url.rsplit(':', 1)[1]}/")
        lecturer.click("#btn-share")
        expect(lecturer.locator("#join-code")).to_be_visible()
        expect(lecturer.locator("#share-warning")).to_have_count(0)
        qr_follows_the_buttons(lecturer)
        lecturer.screenshot(path=shot_path("classroom-share-phone-network.png"), caret="initial")
        lecturer.click("#btn-stop-share")
        expect(lecturer.locator("#share-ended")).to_contain_text("Sharing stopped")
        lecturer.close()  # before its server stops


def test_the_share_panel_on_a_phone_and_the_lecturer_link_in_another_tab(open_page: OpenPage) -> None:
    # the other window ends the session: this tab's next look at the class is a 404, and it says the session ended
    lecturer = open_page(390, 844, expected={404})
    lecturer.goto("/")
    lecturer.click("#btn-share")
    expect(lecturer.locator("#join-code")).to_be_visible()
    # The page was opened at 127.0.0.1, which no student's phone reaches: the panel says so, in view.
    expect(lecturer.locator("#share-warning")).to_contain_text("This address is this computer's own: students cannot")
    expect(lecturer.locator("#share-warning")).to_be_in_viewport()
    lecturer.screenshot(path=shot_path("classroom-share-phone.png"), caret="initial", full_page=True)
    box = lecturer.locator(".qr svg").bounding_box()
    assert box and box["width"] <= 390 and box["width"] == box["height"]
    qr_follows_the_buttons(lecturer)
    code = lecturer.get_attribute("#share-card", "data-code") or ""
    lead = lecturer.get_attribute("#lead-link", "href") or ""

    # Another window with the lecturer link drives the session; one without it (the join URL) cannot.
    other = open_page(1024, 768)
    other.goto(lead)
    expect(other.locator("#share-card")).to_have_attribute("data-code", code)
    assert "#" not in other.url  # the token left the address bar for the tab's storage
    student = open_page(1024, 768)
    student.goto(f"/join/{code}")
    other.keyboard.press("ArrowRight")
    lecturer_at(other, 1)
    follows(student, other)
    stranger = open_page(1024, 768, expected={403})
    stranger.goto("/")
    status = stranger.evaluate(
        """async (code) => (await fetch(`/sessions/${code}/state`, {method: "POST",
             headers: {"content-type": "application/json"}, body: JSON.stringify({run_id: "x", step: 0})})).status""",
        code,
    )
    assert status == 403
    other.click("#btn-stop-share")
    expect(student.locator("#follow-text")).to_have_text("The lecturer stopped sharing: the page is yours")


def test_the_lecturer_link_keeps_its_token_when_a_swap_runs_before_follow_js(open_page: OpenPage) -> None:
    """On a busy machine a script may still be downloading when the instruments' request comes back and lens.js
    writes the address: the lecturer link's token (its fragment) must still be there for follow.js."""
    lecturer = open_page(1024, 768, expected={404})  # its look at the class after the other window ended it
    lecturer.goto("/")
    lecturer.click("#btn-share")
    expect(lecturer.locator("#join-code")).to_be_visible()
    code = lecturer.get_attribute("#share-card", "data-code") or ""
    lead = lecturer.get_attribute("#lead-link", "href") or ""
    other = open_page(1024, 768)
    arrived: list[str] = []

    def slow_follow_js(route: Route) -> None:
        time.sleep(0.8)  # the instruments' request comes back and is swapped in meanwhile
        route.continue_()

    other.route("**/static/js/follow.js", slow_follow_js)
    other.on("response", lambda r: arrived.append(r.url) if "/instruments/" in r.url else None)
    other.goto(lead)
    expect(other.locator("#share-card")).to_have_attribute("data-code", code)
    assert arrived, "the instruments' request did not come back before follow.js ran: the test tests nothing"
    expect(other.locator("#lead-link")).to_be_visible()  # hidden when the tab does not hold the token
    student = open_page(1024, 768)
    student.goto(f"/join/{code}")
    expect(student.locator("#follow-text")).to_have_text("Following the lecturer")
    other.keyboard.press("ArrowRight")
    lecturer_at(other, 1)
    follows(student, other)
    other.click("#btn-stop-share")
    expect(student.locator("#follow-text")).to_have_text("The lecturer stopped sharing: the page is yours")
    # the first window hears it at its next look at the class, and stops asking
    expect(lecturer.locator("#share-ended")).to_be_visible(timeout=10_000)


def test_stop_sharing_waits_for_the_look_at_the_class_on_its_way(open_page: OpenPage) -> None:
    """A look at the class still on its way when the lecturer presses Stop sharing lands first (a 200, not a 404
    from the session just ended); only then does the session end. The look is held here until the test lets it go."""
    lecturer, _ = sharing(open_page, 1024, 768)
    held: list[Route] = []
    glance = re.compile(r".*/sessions/[^/]+/glance$")

    def hold(route: Route) -> None:
        held.append(route)

    lecturer.route(glance, hold)
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        lecturer.wait_for_timeout(100)  # the tab looks every 2 s
    assert held, "the tab did not look at the class"
    ended: list[str] = []
    lecturer.on("request", lambda r: ended.append(r.url) if r.method == "DELETE" else None)
    lecturer.click("#btn-stop-share")
    lecturer.wait_for_timeout(400)
    assert ended == []  # the session is not ended while the look is on its way
    expect(lecturer.locator("#share-ended")).to_have_count(0)
    held[0].continue_()
    expect(lecturer.locator("#share-ended")).to_contain_text("Sharing stopped")
    assert len(ended) == 1


def test_the_join_page_takes_a_typed_code(open_page: OpenPage) -> None:
    lecturer, code = sharing(open_page, 1400, 900)
    expect(lecturer.locator("#share-warning")).to_contain_text("Start the server with --host 0.0.0.0")
    lecturer.screenshot(path=shot_path("classroom-share-1400.png"), caret="initial")
    student = open_page(390, 844, expected={404})
    student.goto("/join")
    student.fill("#f-code", "abc0o1")
    student.click("#btn-join")
    expect(student.locator("#e-code")).to_contain_text("is not a join code")
    student.screenshot(path=shot_path("classroom-join-phone.png"), caret="initial")
    student.fill("#f-code", f"{code[:3].lower()} {code[3:]}")
    student.click("#btn-join")
    expect(student.locator("#follow-text")).to_have_text("Following the lecturer")
    follows(student, lecturer)
    lecturer.click("#btn-stop-share")


def test_a_lecturer_in_lecture_mode_is_followed_in_the_pages_own_layout(open_page: OpenPage) -> None:
    lecturer, code = sharing(open_page, 1024, 768)
    student = open_page(390, 844)
    student.goto(f"/join/{code}")
    lecturer.click("#btn-present")
    expect(lecturer.locator("#run.present")).to_be_visible()
    lecturer.keyboard.press("ArrowRight")
    lecturer.keyboard.press("ArrowRight")
    lecturer_at(lecturer, 2)
    expect(student.locator("#run")).to_have_attribute("data-step", "2")
    expect(student.locator("#run")).to_have_attribute("data-present", "0")  # the page's layout, tables and all
    assert where(student)[0] != where(lecturer)[0]  # the lecture-mode run's twin
    assert numbers(student)["cells"] == numbers(lecturer)["cells"]
    # On the projector the share panel is one line with the join code, for latecomers.
    expect(lecturer.locator("#join-code")).to_have_text(f"{code[:3]} {code[3:]}")
    expect(lecturer.locator(".qr")).to_be_hidden()
    box = lecturer.locator("#classroom").bounding_box()
    assert box and box["height"] < 48
    lecturer.screenshot(path=shot_path("classroom-present-1024.png"), caret="initial")
    lecturer.keyboard.press("Escape")
    lecturer.click("#btn-stop-share")


def autofilled(page: Page) -> None:
    """What a browser does to form fields on its own: Chromium's autofill leaves them ``style=""`` (through the
    CSSOM, which the CSP allows)."""
    script = "els => els.forEach(e => { e.style.color = 'red'; e.style.color = '' })"
    page.eval_on_selector_all("input, textarea", script)
    assert page.locator("#f-eta[style='']").count() == 1


def test_new_networks_and_iterations_swap_in_without_inline_style(open_page: OpenPage) -> None:
    """A browser's own ``style=""`` on a form field (autofill, typing) is not copied by htmx when #run is swapped.

    htmx's settle step copied each old element's ``style`` attribute onto the new one with setAttribute, which
    the CSP (``style-src 'self'``) refuses, once per such field, on the lecturer's page and each student's.
    ``open_page`` fails the test on any console error, CSP violations included.
    """
    lecturer, code = sharing(open_page, 1024, 768)
    student = open_page(390, 844)
    student.goto("/join")
    student.fill("#f-code", code)
    student.click("#btn-join")
    expect(student.locator("#follow-text")).to_have_text("Following the lecturer")
    for page in (lecturer, student):
        autofilled(page)
    before = where(lecturer)[0]
    lecturer.locator("#config-panel summary").click()
    lecturer.fill("#f-sizes", "2,3,2")
    lecturer.click("#btn-apply")
    expect(lecturer.locator("#run")).not_to_have_attribute("data-run-id", before)  # the new run is in
    follows(student, lecturer)
    assert student.input_value("#f-sizes") == "2,3,2"
    for page in (lecturer, student):
        autofilled(page)
    lecturer.click("#btn-end")
    lecturer_at(lecturer, 7)
    lecturer.click("#btn-next")
    expect(lecturer.locator("#iteration")).to_have_text("iteration 1")
    follows(student, lecturer)
    assert numbers(student)["iteration"] == "iteration 1"
    lecturer.click("#btn-stop-share")


def test_the_step_through_alone_swaps_in_without_inline_style(open_page: OpenPage) -> None:
    """The plain step-through (no class session): a configuration, the next iteration, lecture mode."""
    page = open_page(1024, 768)
    page.goto("/")
    autofilled(page)
    before = where(page)[0]
    page.locator("#config-panel summary").click()
    page.fill("#f-eta", "0.25")
    page.click("#btn-apply")
    expect(page.locator("#run")).not_to_have_attribute("data-run-id", before)  # the new run is in
    assert page.input_value("#f-eta") == "0.25"
    autofilled(page)
    page.click("#btn-end")
    lecturer_at(page, STEPS - 1)
    page.click("#btn-next")
    expect(page.locator("#iteration")).to_have_text("iteration 1")
    autofilled(page)
    page.click("#btn-present")
    expect(page.locator("#run.present")).to_be_visible()


def test_the_share_panel_asks_for_the_lecturer_key_once(open_page: OpenPage) -> None:
    """A server with a lecturer key: the first share asks for it (a wrong one is asked for again); the tab keeps
    the right one, and the next share needs no typing."""
    with serving(env=environment(BACKPROP_LENS_LECTURER_KEY="right-key")) as (_, url, _log):
        lecturer = open_page(1024, 768, expected={401})
        lecturer.goto(f"{url}/")
        lecturer.click("#btn-share")
        expect(lecturer.locator("#f-lecturer-key")).to_be_focused()
        expect(lecturer.locator("#share-error")).to_contain_text("sharing on this server needs a lecturer key")
        lecturer.fill("#f-lecturer-key", "wrong-key")
        lecturer.click("#btn-share-key")
        expect(lecturer.locator("#share-error")).to_contain_text("this is not a lecturer key of this server")
        lecturer.screenshot(path=shot_path("classroom-key-1024.png"), caret="initial")
        lecturer.fill("#f-lecturer-key", "right-key")
        lecturer.press("#f-lecturer-key", "Enter")
        expect(lecturer.locator("#join-code")).to_be_visible()
        assert lecturer.evaluate("sessionStorage['backprop-lens:lecturer-key']") == "right-key"
        lecturer.click("#btn-stop-share")
        expect(lecturer.locator("#share-ended")).to_contain_text("Sharing stopped")
        lecturer.click("#btn-share")  # asked once: the tab's key shares at once
        expect(lecturer.locator("#join-code")).to_be_visible()
        expect(lecturer.locator("#key-form")).to_have_count(0)
        lecturer.click("#btn-stop-share")
        expect(lecturer.locator("#share-ended")).to_contain_text("Sharing stopped")
        lecturer.close()  # before its server stops
