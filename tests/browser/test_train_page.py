"""The training page in Chromium: train XOR, watch the progress bar and the curve move, pause, inspect
an example (its cost checked against POST /api/trace) and open it in the step-through, digits'
hidden-weight images, divergence. The server and the browser come from tests/browser/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.datasets import generated
from tests.browser.conftest import OpenPage, shot_path

pytestmark = pytest.mark.browser

@pytest.fixture
def train_page(open_page: OpenPage) -> Page:
    return open_page(1280, 900)


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(shot_path(name)), full_page=True)


def start_training(page: Page, selects: dict[str, str], fills: dict[str, str]) -> None:
    """Open the page, set the form's fields (by element id) and press Train."""
    page.goto("/train")
    for selector, value in selects.items():
        page.select_option(selector, value)
    for selector, value in fills.items():
        page.fill(selector, value)
    page.click("#train-start")


def _points(page: Page, selector: str) -> int:
    return int(page.eval_on_selector(selector, "el => el.getAttribute('points').split(' ').filter(Boolean).length"))


def test_train_xor_pause_and_inspect(train_page: Page) -> None:
    page = train_page
    start_training(
        page,
        {"#f-dataset": "xor", "#f-delay": "20"},
        {"#f-points": "80", "#f-hidden": "4", "#f-epochs": "600", "#f-batch": "8", "#f-eta": "2"},
    )
    expect(page.locator("a[href='/']").first).to_be_visible()

    page.wait_for_function("() => document.getElementById('train-progress')?.value > 0", timeout=10_000)
    page.wait_for_function("() => document.getElementById('train-cost-line').getAttribute('points').length > 0")
    before = _points(page, "#train-cost-line")
    progress_before = float(page.eval_on_selector("#train-progress", "el => el.value"))
    page.wait_for_function(
        "n => document.getElementById('train-cost-line').getAttribute('points').split(' ').length > n",
        arg=before + 3,
        timeout=10_000,
    )
    # the bar and the curve are updated by separate events: wait for the bar as expect() would
    page.wait_for_function(
        "v => document.getElementById('train-progress').value > v", arg=progress_before, timeout=10_000
    )
    assert page.get_attribute("#train-heat", "href", timeout=5000).startswith("data:image/png")  # type: ignore[union-attr]
    expect(page.locator("#train-epoch")).to_contain_text("/ 600")
    expect(page.locator("#train-left")).to_contain_text("left")

    page.click("#train-pause")
    expect(page.locator("#train-state")).to_have_text("paused", timeout=5000)
    expect(page.locator("#train-resume")).to_be_visible()
    paused_at = page.eval_on_selector("#train-progress", "el => el.value")
    page.wait_for_timeout(400)
    assert page.eval_on_selector("#train-progress", "el => el.value") == paused_at
    _shot(page, "train-xor-paused.png")

    page.fill("#i-index", "2")
    page.click("#train-inspect-go")
    expect(page.locator("#train-inspect-result")).to_be_visible()
    shown = float(page.get_attribute("#train-inspect-cost", "title") or "nan")
    # the same example through POST /api/trace with the network the page offers for download
    href = page.get_attribute(".train-download", "href")
    network = page.request.get(href or "").json()
    data = generated("xor", 80, 0.1, 0.2, 0)
    body = {
        "network": network,
        "cost": "cross_entropy",
        "inputs": [data.x_train[2].tolist()],
        "targets": [data.y_train[2].tolist()],
        "eta": 2.0,
    }
    api = page.request.post("/api/trace", data=body).json()
    assert shown == pytest.approx(api["cost_before"], rel=1e-12)
    _shot(page, "train-xor-inspect.png")

    page.click("#train-resume")
    expect(page.locator("#train-state")).not_to_have_text("paused", timeout=5000)
    page.click("#train-stop")
    expect(page.locator("#train-state")).to_have_text("stopped", timeout=5000)
    expect(page.locator("#train-message")).to_contain_text("stopped by you")

    link = page.get_attribute("#train-step-through", "href")
    assert link is not None and link.startswith("/?")
    response = page.goto(link)
    assert response is not None and response.status == 200


def test_digits_show_hidden_weights_and_bp4_images(train_page: Page) -> None:
    page = train_page
    start_training(
        page, {"#f-dataset": "digits"}, {"#f-hidden": "30", "#f-epochs": "5", "#f-batch": "10", "#f-eta": "1"}
    )
    expect(page.locator("#train-state")).to_have_text("finished", timeout=20_000)
    expect(page.locator("canvas.train-neuron")).to_have_count(30)
    # neuron 1's 8×8 image: every pixel drawn, blue where its weight is negative, orange where positive
    rgba = page.eval_on_selector(
        "canvas.train-neuron", "c => Array.from(c.getContext('2d').getImageData(0, 0, 8, 8).data)"
    )
    href = page.get_attribute(".train-download", "href")
    w = page.request.get(href or "").json()["weights"][0][0]
    assert len(w) == 64 and all(rgba[4 * k + 3] == 255 for k in range(64))
    assert all((rgba[4 * k + 2] > rgba[4 * k]) == (v < 0) for k, v in enumerate(w) if v != 0)
    page.select_option("#i-split", "test")
    page.fill("#i-index", "7")
    page.click("#train-inspect-go")
    expect(page.locator(".train-grad")).to_have_count(30)
    expect(page.locator("#train-inspect-result")).to_contain_text("BP4")
    _shot(page, "train-digits.png")


def test_divergence_is_shown(train_page: Page) -> None:
    page = train_page
    start_training(
        page,
        {"#f-activation": "linear", "#f-output": "linear", "#f-cost": "quadratic"},
        {"#f-eta": "500", "#f-epochs": "50"},
    )
    expect(page.locator("#train-state")).to_have_text("diverged", timeout=10_000)
    expect(page.locator("#train-message")).to_contain_text("Training diverged in epoch")
    expect(page.locator("#train-message")).to_contain_text("too large")


def test_a_bad_field_is_named_and_the_run_stays(train_page: Page, problems: list[str]) -> None:
    page = train_page
    start_training(page, {}, {"#f-epochs": "3"})
    expect(page.locator("#train-state")).to_have_text("finished", timeout=10_000)
    page.fill("#f-hidden", "4,x")
    page.click("#train-start")
    expect(page.locator("#train-errors")).to_contain_text("hidden: 'x' is not a whole number")
    expect(page.locator("#train-state")).to_have_text("finished")
    expected = [p for p in problems if "422" in p]
    assert len(expected) == 2, problems  # the response and the console's note of it
    problems[:] = [p for p in problems if p not in expected]


def test_own_csv_from_a_file(train_page: Page, tmp_path: Path) -> None:
    page = train_page
    page.goto("/train")
    expect(page.locator("#f-csv")).to_be_hidden()
    page.select_option("#f-dataset", "csv")
    expect(page.locator("#f-points")).to_be_hidden()
    rows = "\n".join(f"{i % 5},{(i * 7) % 11},{'cat' if i % 2 else 'dog'}" for i in range(40))
    csv = tmp_path / "pets.csv"
    csv.write_text("paws,whiskers,kind\n" + rows + "\n", encoding="utf-8")
    page.set_input_files("#f-csv-file", str(csv))
    expect(page.locator("#f-csv")).to_have_value(csv.read_text(encoding="utf-8"))
    page.fill("#f-epochs", "5")
    page.click("#train-start")
    expect(page.locator("#train-state")).to_have_text("finished", timeout=10_000)
    expect(page.locator(".train-run-sub")).to_contain_text("32 training examples, 8 held out")
