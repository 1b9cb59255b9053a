"""Ask the class in Chromium: a lecturer (1400×900) and three students (1024×768, 1024×768 and a phone at 390×844).

The lecturer steps to BP2, opens Ask the class, picks δ²₁ by clicking its equation line, and asks. Every screen
hides the value (its table cell, its equation line's result, its neuron's label and read-out) until the reveal.
Students answer as people type (a decimal comma, U+2212, ×10⁻³); a malformed number gets a sentence and is not
sent; a student changes their answer; one explores on their own and still answers. The lecturer's count follows,
Show answers draws the histogram everywhere, Reveal shows the value, the share right and the mistakes' bins, and
each student's own mark names their mistake. Every expected number is computed here by hand (the worked
example). Screenshots go to artifacts/screenshots/ask-*.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, shot_path
from tests.browser.test_classroom import sharing
from tests.worked import BACK2, D2

pytestmark = pytest.mark.browser

BP2 = 4  # the worked example's BP2 at layer 2
SOON = 10_000


HAND = {"value": D2[0], "no σ′": BACK2[0]}  # δ²₁ and its σ′-left-out mistake, by hand (tests/worked.py)


def hidden_everywhere(page: Page) -> None:
    expect(page.locator('#numbers td[data-q="delta-2-1"]')).to_have_text("?")
    expect(page.locator("#n-2-1")).to_have_class(re.compile(r"\bconcealed\b"))
    label = page.get_attribute("#n-2-1", "aria-label") or ""
    assert "hidden until" in label and "δ" not in label
    assert page.locator("#n-2-1 .value").evaluate("el => getComputedStyle(el).visibility") == "hidden"
    # the legend's δ range ends at the layer's largest |δ|, the instruments list every δ: hidden too
    for scale in page.locator("#legend .scale:not(.scale-w)").all():
        for text in scale.locator(".scale-text, .scale-short").all():
            expect(text).to_be_hidden()
    expect(page.locator("#instruments-slot")).to_be_hidden()
    line = page.locator('#equation .eq-line[data-q="delta-2-1"]')
    if line.count():
        assert line.locator(".eq-result").evaluate("el => getComputedStyle(el).visibility") == "hidden"


def stop_sharing(lecturer: Page) -> None:
    """The session ends (a client address may hold only 2 live sessions: the next tests share too)."""
    if lecturer.locator("#run.present").count():
        lecturer.keyboard.press("Escape")
        expect(lecturer.locator("#run.present")).to_have_count(0)
    lecturer.click("#btn-stop-share")
    expect(lecturer.locator("#share-ended")).to_contain_text("Sharing stopped")


def answer(page: Page, text: str) -> None:
    page.fill("#f-answer", text)
    page.click("#btn-answer")


def test_a_lecturer_asks_three_students_answer_and_the_answer_is_revealed(open_page: OpenPage) -> None:
    lecturer, code = sharing(open_page, 1400, 900)
    students = [open_page(1024, 768), open_page(1024, 768), open_page(390, 844)]
    for page in students:
        page.goto(f"/join/{code}")
        expect(page.locator("#follow-text")).to_have_text("Following the lecturer")
    lecturer.click(f"#mark-{BP2}")
    for page in students:
        expect(page.locator("#run")).to_have_attribute("data-step", str(BP2), timeout=SOON)

    lecturer.click("#btn-ask")
    expect(lecturer.locator("#ask-form")).to_be_visible()
    expect(lecturer.get_by_role("radio", name="δ²₂")).to_be_visible()  # each choice named by its symbol
    lecturer.locator('#equation .eq-line[data-q="delta-2-2"]').click()
    expect(lecturer.get_by_role("radio", name="δ²₂")).to_be_checked()
    lecturer.locator('#equation .eq-line[data-q="delta-2-1"]').click()  # picked by its line
    expect(lecturer.get_by_role("radio", name="δ²₁")).to_be_checked()
    lecturer.click("#btn-ask-send")
    expect(lecturer.locator("#question-card")).to_be_visible()
    expect(lecturer.locator("#q-count")).to_have_text("0 answers · 3 following · 0 exploring", timeout=SOON)
    for page in [lecturer, *students]:
        hidden_everywhere(page)
    lecturer.screenshot(path=shot_path("ask-lecturer-open-1400.png"), caret="initial")

    first, second, phone = students
    expect(phone.locator("#f-answer")).to_be_visible(timeout=SOON)
    answer(phone, "0,1x")  # malformed: a sentence under the field, nothing sent
    expect(phone.locator("#answer-status")).to_contain_text("is not a number")
    expect(phone.locator("#f-answer")).to_have_attribute("aria-invalid", "true")
    answer(phone, f"{HAND['no σ′']:.5f}".replace(".", ","))  # σ′ left out, with a decimal comma
    expect(phone.locator("#answer-status")).to_contain_text("Sent:")
    phone.screenshot(path=shot_path("ask-phone-answered-390.png"), caret="initial")
    answer(first, f"{HAND['value'] * 1000:.4f}×10⁻³")
    expect(first.locator("#answer-status")).to_contain_text("Sent:")
    second.click("#btn-detach")  # exploring on their own still answers
    answer(second, "\u22120.5")
    expect(second.locator("#answer-status")).to_contain_text("Sent: −0.5")
    answer(second, f"{HAND['value']:.6f}")  # changed before the reveal: counted once
    expect(second.locator("#answer-status")).to_contain_text("Sent:")
    expect(lecturer.locator("#q-count")).to_have_text("3 answers · 2 following · 1 exploring", timeout=SOON)

    lecturer.click("#btn-q-show")
    for page in [lecturer, *students]:
        expect(page.locator("#q-histogram")).to_be_visible(timeout=SOON)
        expect(page.locator("#q-histogram figcaption")).to_contain_text("3 answers")
        hidden_everywhere(page)  # showing the answers does not show the value
    lecturer.click("#btn-q-reveal")
    value = f"{HAND['value']:.6f}".rstrip("0")
    for page in [lecturer, *students]:
        expect(page.locator("#q-value")).to_have_text(re.compile(rf"^{re.escape(value[:7])}"), timeout=SOON)
        expect(page.locator("#q-share")).to_have_text("67% right")
        expect(page.locator('#numbers td[data-q="delta-2-1"]')).not_to_have_text("?")
        expect(page.locator("#n-2-1")).not_to_have_class(re.compile(r"\bconcealed\b"))
    bins = lecturer.locator("#q-bins tbody tr").filter(has_text="σ′(z²₁) left out")
    expect(bins.locator("td").nth(2)).to_have_text("1")
    expect(phone.locator("#q-mine")).to_contain_text("σ′(z²₁)")
    expect(phone.locator("#q-mine")).to_contain_text("you left it out")
    expect(first.locator("#q-mine")).to_contain_text("Right")
    expect(second.locator("#q-mine")).to_contain_text("Right")
    lecturer.screenshot(path=shot_path("ask-lecturer-revealed-1400.png"), caret="initial")
    phone.screenshot(path=shot_path("ask-phone-revealed-390.png"), full_page=True, caret="initial")
    with lecturer.expect_download() as download:
        lecturer.click("#btn-q-csv")
    rows = download.value.path().read_text(encoding="utf-8").splitlines()
    assert rows[0] == "question,quantity,value,answer,right,mistake" and len(rows) == 4
    stop_sharing(lecturer)


def test_in_lecture_mode_the_lecturer_asks_by_the_line_in_focus_and_a_reload_keeps_the_question(
    open_page: OpenPage,
) -> None:
    """A projector at 1024×768: lecture mode walks BP2 line by line; the lecturer asks by the line on screen. A
    reload of the lecturer's page (or the lecturer link in another window) brings back the open question's card,
    its count and the hidden value."""
    lecturer, code = sharing(open_page, 1024, 768)
    student = open_page(390, 844)
    student.goto(f"/join/{code}")
    expect(student.locator("#follow-text")).to_have_text("Following the lecturer")
    lecturer.click(f"#mark-{BP2}")
    expect(lecturer.locator("#run")).to_have_attribute("data-step", str(BP2))
    lecturer.click("#btn-present")
    expect(lecturer.locator("#run.present")).to_be_visible()
    expect(lecturer.locator("#run")).to_have_attribute("data-step", str(BP2))
    expect(student.locator("#run")).to_have_attribute("data-step", str(BP2), timeout=SOON)

    lecturer.click("#btn-ask")
    expect(lecturer.locator("#ask-form")).to_be_visible()
    lecturer.locator('#equation .eq-line[data-q="delta-2-1"]').click()  # the line lecture mode shows first
    expect(lecturer.get_by_role("radio", name="δ²₁")).to_be_checked()
    lecturer.click("#btn-ask-send")
    expect(lecturer.locator("#q-count")).to_have_text("0 answers · 1 following · 0 exploring", timeout=SOON)
    for page in (lecturer, student):
        hidden_everywhere(page)
    lecturer.screenshot(path=shot_path("ask-lecture-mode-1024.png"), caret="initial")
    # Practice on a student's page leaves the class's question to its card: no field there, one on the other line.
    student.click("#btn-practice")
    expect(student.locator('.practice-form[data-q="delta-2-2"]')).to_have_count(1)
    expect(student.locator('.practice-form[data-q="delta-2-1"]')).to_have_count(0)
    student.click("#btn-practice")
    hidden_everywhere(student)  # practice off: the question still hides its value
    answer(student, f"{HAND['value']:.5g}")
    expect(student.locator("#answer-status")).to_contain_text("Sent:")

    lecturer.reload()
    expect(lecturer.locator("#question-card")).to_be_visible(timeout=SOON)
    expect(lecturer.locator("#q-count")).to_have_text("1 answer · 1 following · 0 exploring", timeout=SOON)
    hidden_everywhere(lecturer)
    lecturer.click("#btn-q-reveal")
    for page in (lecturer, student):
        expect(page.locator("#q-share")).to_have_text("100% right", timeout=SOON)
        expect(page.locator('#numbers td[data-q="delta-2-1"]')).not_to_have_text("?")
    lecturer.reload()  # revealed: the card does not come back, nothing stays hidden
    expect(lecturer.locator("#btn-ask")).to_be_visible(timeout=SOON)
    expect(lecturer.locator("#question-card")).to_have_count(0)
    expect(lecturer.locator("[data-concealed]")).to_have_count(0)
    stop_sharing(lecturer)
