"""The class at a glance in Chromium: a lecturer and three students (one on a phone at 390×844).

The lecturer's share panel counts who follows and who explores as students join, detach and follow again, and
shows the reactions of the last minute; a student on the phone reacts with a thumb. In lecture mode the count
stays on the one line the panel keeps. Screenshots of the lecturer's panel and the phone's bar go to
artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, shot_path
from tests.browser.test_classroom import sharing

pytestmark = pytest.mark.browser

COUNT_MS = 10_000  # the lecturer's page asks every 2 s: a bound only


def counts(lecturer: Page, text: str) -> None:
    expect(lecturer.locator("#share-glance .glance-count")).to_have_text(text, timeout=COUNT_MS)


def test_the_lecturer_sees_the_class_follow_explore_and_react(open_page: OpenPage) -> None:
    lecturer, code = sharing(open_page, 1400, 900)
    counts(lecturer, "0 following · 0 exploring")
    expect(lecturer.locator("#share-reactions")).to_have_text("lost 0 · slower 0 · got it 0 (students, last minute)")

    students = [open_page(1024, 768), open_page(1024, 768), open_page(390, 844, expected=(429,))]
    for page in students:
        page.goto(f"/join/{code}")
        expect(page.locator("#follow-text")).to_have_text("Following the lecturer")
    counts(lecturer, "3 following · 0 exploring")

    explorer = students[1]
    explorer.focus("#btn-detach")
    explorer.keyboard.press("Enter")
    expect(explorer.locator("#btn-follow")).to_be_focused()  # the button that took the pressed one's place
    counts(lecturer, "2 following · 1 exploring")
    explorer.keyboard.press("ArrowRight")  # its own step: still exploring, still hearing the lecturer
    lecturer.keyboard.press("ArrowRight")
    expect(explorer.locator("#follow-text")).to_have_text("Exploring on my own · the lecturer is at step 2")
    explorer.keyboard.press("Enter")
    expect(explorer.locator("#btn-detach")).to_be_focused()
    counts(lecturer, "3 following · 0 exploring")
    expect(explorer.locator("#run")).to_have_attribute("data-step", "1")

    # Pointing: the neuron the lecturer points at, then an equation line, is marked on every follower's screen.
    lecturer.hover("#n-2-1")
    for page in students:
        expect(page.locator("#n-2-1")).to_have_class(re.compile(r"\bpointed\b"))
    line = lecturer.locator("#equation .eq-line").nth(1)
    line.hover()
    marked = line.get_attribute("data-highlight") or ""
    follower = students[0]
    expect(follower.locator("#equation .eq-line").nth(1)).to_have_class(re.compile(r"\bpointed\b"))
    for item in marked.split():  # and the neurons and edges the line is about, nothing else
        expect(follower.locator(f"#{item}")).to_have_class(re.compile(r"\bpointed\b"))
    expect(follower.locator("#diagram .pointed")).to_have_count(len(marked.split()))
    follower.locator("#run").screenshot(path=shot_path("classroom-pointed-1024.png"), caret="initial")
    lecturer.hover("#iteration")  # pointing at nothing is told too
    expect(follower.locator(".pointed")).to_have_count(0)

    phone = students[2]
    lost = phone.get_by_role("button", name="I'm lost")
    box = lost.bounding_box()
    assert box is not None and box["height"] >= 34  # a thumb's target
    lost.click()
    expect(phone.locator("#react-status")).to_have_text("Sent: “I'm lost”")
    students[0].get_by_role("button", name="Got it").click()
    expect(students[0].locator("#react-status")).to_have_text("Sent: “Got it”")
    expect(lecturer.locator("#share-reactions")).to_have_text(
        "lost 1 · slower 0 · got it 1 (students, last minute)", timeout=COUNT_MS
    )
    expect(lecturer.locator("#share-glance")).to_have_class("share-glance has-lost")
    # Students are counted, not presses; past a student's rate the buttons rest, with a sentence.
    slower = phone.get_by_role("button", name="Slower, please")
    for _ in range(5):  # six in all within the minute: the default rate
        slower.click()
        expect(phone.locator("#react-status")).to_have_class(re.compile(r"\bsent\b"))
    slower.click()
    expect(phone.locator("#react-status")).to_have_text("That is a lot of reactions: wait a few seconds.")
    expect(slower).to_be_disabled()
    expect(lecturer.locator("#share-reactions")).to_have_text(
        "lost 1 · slower 1 · got it 1 (students, last minute)", timeout=COUNT_MS
    )
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # the bar wraps on the phone
    phone.locator("#follow-bar").screenshot(path=shot_path("classroom-react-phone.png"), caret="initial")
    lecturer.locator("#share-card").screenshot(path=shot_path("classroom-glance-1400.png"), caret="initial")

    # Lecture mode keeps the count on the panel's one line, at a size a projector shows.
    lecturer.keyboard.press("p")
    expect(lecturer.locator("#run")).to_have_class("run present")
    glance = lecturer.locator("#share-glance")
    expect(glance).to_be_visible()
    assert float(glance.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 16
    students[0].close()
    counts(lecturer, "2 following · 0 exploring")
    lecturer.screenshot(path=shot_path("classroom-glance-present-1400.png"), caret="initial")

    lecturer.keyboard.press("p")
    lecturer.click("#btn-stop-share")
    expect(phone.locator("#follow-text")).to_have_text("The lecturer stopped sharing: the page is yours")
    expect(phone.get_by_role("button", name="I'm lost")).to_be_hidden()

    # A recap that lasts: the link in the bar (and under the lecturer's "Sharing stopped") opens what it showed.
    expect(lecturer.locator("#lead-recap")).to_have_attribute("href", f"/join/{code}")
    phone.click("#follow-recap")
    expect(phone.locator("#recap-title")).to_have_text(f"What session {code[:3]} {code[3:]} showed")
    steps = phone.locator("#recap-steps li a")
    expect(steps.first).to_have_text("step 1 · Input: set a¹ = x")
    assert steps.count() == 2  # step 1 (shared), step 2 (the lecturer's →): lines and pointing add no entry
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=shot_path("classroom-recap-phone.png"), caret="initial")
    steps.nth(1).click()
    expect(phone.locator("#run")).to_have_attribute("data-step", "1")


def test_a_lecturer_whose_tabs_closed_ends_their_sessions_and_shares_again(open_page: OpenPage) -> None:
    """Without a lecturer key one address holds two sessions; tabs closed without Stop sharing keep theirs. The
    third share's panel offers to end them, and then sharing works."""
    assert open_page().request.post("/sessions/release").ok  # none left by other tests on this server
    for _ in range(2):
        page, _ = sharing(open_page, 1024, 768)
        page.close()  # the tab that held the lecturer link is gone
    page = open_page(1024, 768, expected=(429,))
    page.goto("/")
    page.click("#btn-share")
    expect(page.locator("#share-error")).to_contain_text("max_sessions_per_client")
    page.click("#btn-release")
    expect(page.locator("#share-ended")).to_contain_text("this address had open")
    page.click("#btn-share")
    expect(page.locator("#join-code")).to_be_visible()
    page.click("#btn-stop-share")
