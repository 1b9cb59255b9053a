"""The training page in Chromium: train XOR, watch the progress bar and the curve move, pause, inspect
an example (its cost checked against POST /api/trace) and open it in the step-through, digits'
hidden-weight images, divergence on a log axis whose labels stay inside the chart, one point per epoch,
the step-through page's header, errors beside their fields. The server and the browser come from
tests/browser/conftest.py; screenshots at 1024×768 (projectors) and 1400×900."""

from __future__ import annotations

import math
import re
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from backprop_lens.engine.datasets import generated
from tests.browser.conftest import OpenPage, shot_path

pytestmark = pytest.mark.browser
SIZES = [(1024, 768), (1400, 900)]


@pytest.fixture
def train_page(open_page: OpenPage) -> Page:
    return open_page(1280, 900)


def _shot(page: Page, name: str) -> None:
    # caret="initial": hiding the caret leaves an empty style attribute on every input, which htmx copies
    # onto the swapped-in form, and the CSP (no inline style) then reports
    page.screenshot(path=str(shot_path(name)), full_page=True, caret="initial")


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


def test_train_xor_pause_and_inspect(train_page: Page, problems: list[str]) -> None:
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
    # That a paused training stays where it is, to the mini-batch, is test_one_mini_batch_button_…'s to show.
    _shot(page, "train-xor-paused.png")

    expect(page.locator("#i-example-hint")).to_have_text("1 to 64")  # 80 points, 20% held out
    page.select_option("#i-split", "test")
    expect(page.locator("#i-example-hint")).to_have_text("1 to 16")
    page.select_option("#i-split", "train")
    expect(page.locator("#i-example-hint")).to_have_text("1 to 64")
    page.fill("#i-example", "0")
    page.click("#train-inspect-go")
    expect(page.locator("#train-inspect .error")).to_have_text(
        "example: the training set has 64 examples; give a whole number from 1 to 64"  # 80 points, 20% held out
    )
    page.fill("#i-example", "3")  # numbered from 1: the third example is row 2
    page.click("#train-inspect-go")
    expect(page.locator("#train-inspect-result")).to_contain_text("Example 3 of the training set")
    shown = float(page.get_attribute("#train-inspect-cost", "data-value") or "nan")
    # every number Inspect shows, in its text and its tooltips, has the app's minus sign (U+2212)
    written = page.eval_on_selector(
        "#train-inspect-result",
        "el => [el.innerText, ...Array.from(el.querySelectorAll('[title]'), e => e.title),"
        " ...Array.from(el.querySelectorAll('title'), e => e.textContent)]",
    )
    for text in written:
        assert not re.search(r"-\d", text), text
    # the same example through POST /api/trace with the network the page offers for download
    href = page.get_attribute(".train-download", "href")
    network = page.request.get(href or "").json()
    data = generated("xor", 80, 0.1, 0.2, 0)
    body = {
        "network": network,
        "cost_function": "cross_entropy",
        "inputs": [data.x_train[2].tolist()],
        "targets": [data.y_train[2].tolist()],
        "eta": 2.0,
    }
    api = page.request.post("/api/trace", data=body).json()
    assert shown == pytest.approx(api["cost_before"], rel=1e-12)
    _shot(page, "train-xor-inspect.png")
    expected = [p for p in problems if "422" in p]
    assert len(expected) == 2, problems  # the refused example 0: the response, and the console's note of it
    problems[:] = [p for p in problems if p not in expected]

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
    expect(page.locator("img.train-neuron")).to_have_count(30)
    # neuron 1's 8×8 image (a picture the server coloured): every pixel drawn, blue where its weight is
    # negative, orange where positive
    page.wait_for_function("() => document.querySelector('img.train-neuron').naturalWidth === 8")
    rgba = page.eval_on_selector(
        "img.train-neuron",
        """img => { const c = document.createElement('canvas'); c.width = 8; c.height = 8;
                    const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
                    return Array.from(ctx.getImageData(0, 0, 8, 8).data); }""",
    )
    href = page.get_attribute(".train-download", "href")
    w = page.request.get(href or "").json()["weights"][0][0]
    assert len(w) == 64 and all(rgba[4 * k + 3] == 255 for k in range(64))
    assert all((rgba[4 * k + 2] > rgba[4 * k]) == (v < 0) for k, v in enumerate(w) if v != 0)
    page.select_option("#i-split", "test")
    page.fill("#i-example", "8")
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


def test_bad_fields_are_named_beside_them_and_the_run_stays(train_page: Page, problems: list[str]) -> None:
    page = train_page
    start_training(page, {}, {"#f-epochs": "3"})
    expect(page.locator("#train-state")).to_have_text("finished", timeout=10_000)
    # texts the browser lets through (the form leaves every check to the server), all wrong at once
    page.fill("#f-hidden", "8,x")
    page.fill("#f-eta", "abc")
    page.fill("#f-epochs", "0")
    page.click("#train-start")
    expect(page.locator("#e-hidden")).to_have_text("Hidden layers: 'x' is not a number; give widths like 30 or 8,8")
    expect(page.locator("#e-eta")).to_have_text("η: 'abc' is not a number")
    expect(page.locator("#e-epochs")).to_have_text("Epochs: give a whole number from 1 to 10000")
    for field, box in (("hidden", "#f-hidden"), ("eta", "#f-eta"), ("epochs", "#f-epochs")):
        expect(page.locator(box)).to_have_attribute("aria-invalid", "true")
        expect(page.locator(box)).to_have_value({"hidden": "8,x", "eta": "abc", "epochs": "0"}[field])
        field_box, error_box = page.locator(box).bounding_box(), page.locator(f"#e-{field}").bounding_box()
        assert field_box is not None and error_box is not None
        # beside the field: right under it, in its column
        assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 12
        assert abs(error_box["x"] - field_box["x"]) < 2
    expect(page.locator("#train-state")).to_have_text("finished")  # the run on screen stays
    _shot(page, "train-errors.png")

    # the page's own minus sign is a number: −0.05 is read, and only its bound is wrong
    page.fill("#f-hidden", "4")
    page.fill("#f-epochs", "3")
    page.fill("#f-eta", "\u22120.05")
    page.fill("#f-lmbda", "1000")
    page.click("#train-start")
    expect(page.locator("#e-lmbda")).to_have_text("λ (L2): give a number from 0 to 100")
    expect(page.locator("#e-eta")).to_have_text("η: give a number greater than 0 and at most 1000")
    expect(page.locator("#e-hidden")).to_have_count(0)
    page.fill("#f-eta", "0.05")
    page.fill("#f-lmbda", "0")
    page.click("#train-start")
    expect(page.locator(".train-run-title")).to_contain_text("η = 0.05")
    expect(page.locator("#train-form .error")).to_have_count(0)
    expect(page.locator("#train-state")).to_have_text("finished", timeout=10_000)
    expected = [p for p in problems if "422" in p]
    assert len(expected) == 4, problems  # two responses, each with the console's note of it
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


def _cost_chart(page: Page) -> dict[str, Any]:
    """What the cost chart draws: its points, the epochs they stand for, its labels and their boxes."""
    result: dict[str, Any] = page.eval_on_selector(
        "#train-cost svg",
        """svg => {
            const box = (el) => { const r = el.getBoundingClientRect();
                                  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
            const line = svg.querySelector('#train-cost-line');
            return {
              scale: svg.dataset.scale,
              svg: box(svg),
              figure: box(svg.closest('figure')),
              points: line.getAttribute('points').split(' ').filter(Boolean).map(p => p.split(',').map(Number)),
              epochs: (line.dataset.epochs || '').split(' ').filter(Boolean).map(Number),
              labels: Array.from(svg.querySelectorAll('text')).filter(t => t.textContent)
                           .map(t => ({text: t.textContent, box: box(t)})),
            };
        }""",
    )
    return result


def _assert_labels_inside(chart: dict[str, Any]) -> None:
    outer = chart["svg"]
    for label in chart["labels"]:
        box = label["box"]
        inside = (
            box["left"] >= outer["left"] - 0.5
            and box["right"] <= outer["right"] + 0.5
            and box["top"] >= outer["top"] - 0.5
            and box["bottom"] <= outer["bottom"] + 0.5
        )
        assert inside, f"label {label['text']!r} sticks out of the chart: {box} not in {outer}"
        assert "e+" not in label["text"] and "e-" not in label["text"], label["text"]


def test_the_cost_curve_has_one_point_per_epoch(train_page: Page) -> None:
    """The last epochs arrive with the final state; they are drawn once, in order."""
    page = train_page
    start_training(page, {}, {"#f-epochs": "40"})
    # the final event sets the state and draws its epochs in one go: the curve is complete from here
    expect(page.locator("#train-state")).to_have_text("finished", timeout=10_000)
    expect(page.locator("#train-epoch")).to_have_text("epoch 40 / 40")
    chart = _cost_chart(page)
    assert len(chart["points"]) == 40
    xs = [x for x, _ in chart["points"]]
    assert all(a < b for a, b in pairwise(xs)), xs
    assert chart["epochs"] == list(range(1, 41))
    for line in ("#train-acc-train", "#train-acc-test"):
        points = page.get_attribute(line, "points") or ""
        assert len(points.split()) == 40, line
        assert page.get_attribute(line, "data-epochs") == " ".join(str(e) for e in range(1, 41))


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_a_diverging_cost_is_drawn_on_a_log_axis_with_every_label_inside(
    open_page: OpenPage, width: int, height: int
) -> None:
    page = open_page(width, height)
    # sigmoid hidden layer, linear output, quadratic cost, η = 3 (seed 0): the cost grows for 31 epochs to
    # about 3×10²⁹⁹, then overflows in epoch 32
    start_training(page, {"#f-output": "linear", "#f-cost": "quadratic"}, {"#f-eta": "3", "#f-epochs": "50"})
    expect(page.locator("#train-state")).to_have_text("diverged", timeout=10_000)
    expect(page.locator("#train-message")).to_contain_text("Training diverged in epoch 32")
    chart = _cost_chart(page)  # (drawn by the final event, with the state)
    _assert_labels_inside(chart)
    ticks = [label["text"] for label in chart["labels"] if label["text"].startswith(("1", "10"))]
    assert any(t.startswith("10") and len(t) > 3 for t in ticks), ticks  # a power of ten far up: 10³⁰⁰
    assert chart["scale"] == "log"
    expect(page.locator(".train-scale [data-scale='log']")).to_have_attribute("aria-pressed", "true")
    assert chart["epochs"] == list(range(1, 32))
    # the curve climbs over the decades instead of lying flat on the axis
    ys = [y for _, y in chart["points"]]
    assert max(ys) - min(ys) > 40, ys
    page.locator("#train-cost").scroll_into_view_if_needed()
    _shot(page, f"train-diverged-log-{width}x{height}.png")

    page.click(".train-scale [data-scale='linear']")
    expect(page.locator("#train-cost-chart")).to_have_attribute("data-scale", "linear")
    chart = _cost_chart(page)
    assert any("×10" in label["text"] for label in chart["labels"]), chart["labels"]
    _assert_labels_inside(chart)
    assert chart["epochs"] == sorted(set(chart["epochs"]))
    _shot(page, f"train-diverged-linear-{width}x{height}.png")


def _number(label: str) -> float:
    """A tick label as a number: "0.124", "1", "10⁻³", "2×10⁻⁵"."""
    supers = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
    if label.startswith("10") and len(label) > 2 and not label[2].isdigit():
        return float(10 ** int(label[2:].translate(supers)))
    mantissa, _, power = label.partition("×10")
    return float(mantissa.replace("−", "-")) * (10 ** int(power.translate(supers)) if power else 1)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_a_cost_stuck_in_a_narrow_band_fills_the_log_axis(open_page: OpenPage, width: int, height: int) -> None:
    """Five sigmoid layers with N(0, 1) weights and the quadratic cost stay near C = 0.125 (the output stuck
    near 0.5): the log axis is fitted to the training and test costs with a margin, not to whole decades."""
    page = open_page(width, height)
    start_training(
        page,
        {"#f-dataset": "circles", "#f-init": "standard", "#f-cost": "quadratic"},
        {"#f-hidden": "8,8,8,8,8", "#f-epochs": "30", "#f-eta": "1"},
    )
    expect(page.locator("#train-state")).to_have_text("finished", timeout=20_000)
    drawn = page.eval_on_selector(
        "#train-cost-chart",
        """svg => ({
            lines: ['#train-cost-line', '#train-cost-test'].map(s => svg.querySelector(s).getAttribute('points')
                     .split(' ').filter(Boolean).map(p => Number(p.split(',')[1]))),
            ticks: Array.from(svg.querySelectorAll('#train-cost-ticks text'))
                        .map(t => [t.textContent, Number(t.getAttribute('y')) - 3]),
            now: document.querySelector('#train-cost-now').textContent,
        })""",
    )
    train, test = drawn["lines"]
    assert len(train) == 30 and len(test) == 30
    top, bottom = 10.0, 140.0  # the plot area of the 320×174 viewBox (templates/train/_run.html)
    ys = train + test
    assert all(top <= y <= bottom for y in ys), ys
    # every point off the x-axis (the margin below the least cost), and the curves spread over the height
    assert all(y < bottom - 2 for y in ys), ys
    assert max(ys) - min(ys) > 0.6 * (bottom - top), ys
    # the ticks are round values on a log scale: log10(value) is linear in the height, at least two of them
    ticks = [(_number(text), y) for text, y in drawn["ticks"]]
    assert len(ticks) >= 2, drawn["ticks"]
    (v0, y0), (v1, y1) = ticks[0], ticks[-1]
    slope = (y1 - y0) / (math.log10(v1) - math.log10(v0))
    for v, y in ticks:
        assert y == pytest.approx(y0 + slope * (math.log10(v) - math.log10(v0)), abs=0.15), ticks
    # the last epoch's costs, as the chart prints them (4 digits), sit where the ticks say
    shown = re.fullmatch(r"C = ([0-9.]+), test ([0-9.]+)", drawn["now"])
    assert shown is not None, drawn["now"]
    for cost, y in ((float(shown.group(1)), train[-1]), (float(shown.group(2)), test[-1])):
        assert 0.1 < cost < 0.15
        assert y == pytest.approx(y0 + slope * (math.log10(cost) - math.log10(v0)), abs=1.5)
    _assert_labels_inside(_cost_chart(page))
    _assert_axis_spans_the_curves(page)
    page.locator("#train-cost").scroll_into_view_if_needed()
    _shot(page, f"train-narrow-log-{width}x{height}.png")


def _assert_axis_spans_the_curves(page: Page) -> None:
    """The cost axis labels its bottom and top (every plotted cost lies between the lowest and the highest
    label), no two tick labels overlap, and the C = … read-out is outside the plot area."""
    drawn = page.eval_on_selector(
        "#train-cost-chart",
        """svg => {
            const box = (el) => { const r = el.getBoundingClientRect();
                                  return [r.left, r.top, r.right, r.bottom]; };
            const ys = ['#train-cost-line', '#train-cost-test'].flatMap(s => svg.querySelector(s)
                         .getAttribute('points').split(' ').filter(Boolean).map(p => Number(p.split(',')[1])));
            const ticks = Array.from(svg.querySelectorAll('#train-cost-ticks text'));
            const x = box(svg.querySelector('#train-cost-xaxis'));
            const y = box(svg.querySelector('#train-cost-yaxis'));
            return {
              ys,
              tickYs: ticks.map(t => Number(t.getAttribute('y')) - 3),
              tickBoxes: ticks.map(box),
              plot: [y[0], y[1], x[2], x[3]],
              now: box(document.querySelector('#train-cost-now')),
              nowText: document.querySelector('#train-cost-now').textContent,
            };
        }""",
    )
    ys, tick_ys = drawn["ys"], drawn["tickYs"]
    assert ys and len(tick_ys) >= 2
    # y grows downwards: the lowest cost is the largest y, on or above the bottom label's line
    assert max(ys) <= max(tick_ys) + 0.5, (ys, tick_ys)
    assert min(ys) >= min(tick_ys) - 0.5, (ys, tick_ys)
    boxes = drawn["tickBoxes"]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, f"tick labels overlap: {a} and {b}"
    now, plot = drawn["now"], drawn["plot"]
    assert drawn["nowText"].startswith("C = "), drawn["nowText"]
    apart = now[2] <= plot[0] or plot[2] <= now[0] or now[3] <= plot[1] or plot[3] <= now[1]
    assert apart, f"the read-out {now} lies over the plot area {plot}"


def test_a_phone_cost_axis_labels_the_least_cost(open_page: OpenPage) -> None:
    """Moons, hidden 4,4, 60 epochs at 390×844: the cost falls from about 0.8 to below 0.3, and the axis's
    labels reach below the least cost and above the greatest."""
    page = open_page(390, 844)
    start_training(page, {"#f-dataset": "moons"}, {"#f-hidden": "4,4", "#f-epochs": "60"})
    expect(page.locator("#train-state")).to_have_text("finished", timeout=20_000)
    _assert_axis_spans_the_curves(page)
    _assert_labels_inside(_cost_chart(page))
    page.locator("#train-cost").scroll_into_view_if_needed()
    _shot(page, "train-moons-cost-390x844.png")


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_header_is_the_step_through_pages(open_page: OpenPage, width: int, height: int) -> None:
    page = open_page(width, height)
    page.goto("/")
    home = page.inner_html("header.top")
    page.goto("/train")
    assert page.inner_html("header.top") == home
    expect(page.locator("header.top a", has_text="API")).to_have_attribute("href", "/docs")
    expect(page.locator("header.top h1 a")).to_have_attribute("href", "/")
    expect(page.locator("header.top")).to_be_visible()
    assert page.title() == "Training · backprop-lens"
    _shot(page, f"train-empty-{width}x{height}.png")


def _batches_done(page: Page) -> int:
    """Mini-batches done as the page says: (epoch − 1) × per epoch + the mini-batch of the epoch."""
    el = page.locator("#train-batch")
    epoch, batch = int(el.get_attribute("data-epoch") or "0"), int(el.get_attribute("data-batch") or "0")
    per_epoch = int((el.text_content() or "").split("/")[1])
    return (epoch - 1) * per_epoch + batch


def _hover_read(page: Page, selector: str) -> str:
    """Point at the middle of an element (an edge's box may be a flat line, which hover() refuses)."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.eval_on_selector(
        selector, "e => { const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }"
    )
    page.mouse.move(box[0], box[1])
    return page.inner_text("#train-net-readout")


@pytest.mark.parametrize(("width", "height"), [*SIZES, (390, 844)])
def test_heat_maps_speeds_and_the_network_appear_and_update(open_page: OpenPage, width: int, height: int) -> None:
    page = open_page(width, height)
    start_training(page, {"#f-delay": "20"}, {"#f-hidden": "4,3", "#f-epochs": "400", "#f-batch": "10"})
    # one heat map per hidden neuron and the output's, each a picture that changes as training goes on
    images = page.locator("#train-net-svg .node image")
    expect(images).to_have_count(4 + 3 + 1)
    page.wait_for_function(
        "() => document.querySelector('#train-net-svg .node image').getAttribute('href').length > 30"
    )
    first = page.get_attribute("#train-net-svg .node image", "href")
    assert first is not None and first.startswith("data:image/png")
    page.wait_for_function(
        "h => document.querySelector('#train-net-svg .node image').getAttribute('href') !== h",
        arg=first,
        timeout=10_000,
    )
    # the speed chart: one line per layer 2, 3, 4, growing epoch by epoch; the test cost beside the training cost
    page.wait_for_function("() => document.querySelector('#train-speed-lines .l2').getAttribute('points').length > 0")
    speeds = page.eval_on_selector_all(
        "#train-speed-lines polyline", "ls => ls.map(l => [l.dataset.layer, l.dataset.epochs])"
    )  # all three at once: the page draws them together
    assert [layer for layer, _ in speeds] == ["2", "3", "4"]
    assert speeds[0][1] == speeds[1][1] == speeds[2][1] and speeds[0][1].startswith("1 2")
    page.wait_for_function(
        "n => document.querySelector('#train-speed-lines .l2').getAttribute('points').split(' ').length > n",
        arg=len(speeds[0][1].split()) + 2,
        timeout=10_000,
    )
    assert _points(page, "#train-cost-test") > 0

    page.click("#train-pause")
    # The stream's paused event wrote "paused" after drawing its weights, and no event follows it while paused:
    # the weights on screen are the paused ones.
    expect(page.locator("#train-state")).to_have_text("paused", timeout=5000)
    network = page.request.get(page.get_attribute(".train-download", "href") or "").json()
    # every edge: width 0.4 + 4.6 |w| / max |w|, its colour the sign of w, the numbers it reads out the weight's
    edges = page.eval_on_selector_all(
        "#train-net-svg line.edge",
        "ls => ls.map(l => [+l.dataset.layer, +l.dataset.j, +l.dataset.k, +l.getAttribute('stroke-width'),"
        " l.getAttribute('class'), +l.dataset.w])",
    )
    largest = max(abs(v) for m in network["weights"] for row in m for v in row)
    assert len(edges) == 2 * 4 + 4 * 3 + 3 * 1
    for layer, j, k, stroke, cls, w in edges:
        assert w == network["weights"][layer - 2][j - 1][k - 1]
        assert stroke == pytest.approx(0.4 + 4.6 * abs(w) / largest, abs=0.006)
        assert cls == ("edge wpos" if w >= 0 else "edge wneg")
    # a person points at an edge of layer 3: the read-out is the edge under the pointer, with its weight's numbers
    read = _hover_read(page, "#train-net-svg line.edge[data-layer='3'][data-j='2'][data-k='3']")
    hovered = page.eval_on_selector("#train-net-svg .hover", "e => [+e.dataset.layer, +e.dataset.j, +e.dataset.k]")
    layer, j, k = hovered
    sub = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
    name = f"w{'²³⁴⁵⁶⁷⁸'[layer - 2]}{str(j).translate(sub)}{str(k).translate(sub)}"
    assert read.startswith(f"{name} = ") and f"mean ∂C/∂{name} over epoch" in read, read
    assert not re.search(r"-\d", read), read  # the app's minus sign, U+2212
    shown = read.split(" = ")[1].split(" ")[0].replace("−", "-")
    assert float(shown) == pytest.approx(network["weights"][layer - 2][j - 1][k - 1], rel=1e-5)
    # the input labels x₁, x₂ are readable whatever the drawing's scale: at least 11 px on screen
    labels = page.eval_on_selector_all(
        "#train-net-svg .node.input text",
        "ts => ts.map(t => [t.textContent, t.getScreenCTM().a * parseFloat(getComputedStyle(t).fontSize),"
        " t.getBoundingClientRect().height])",
    )
    assert [text for text, _, _ in labels] == ["x₁", "x₂"], labels
    for text, size, height in labels:
        assert size >= 11 and height >= 11, (text, size, height)
    read = _hover_read(page, "#train-net-svg .node[data-layer='2'][data-j='1']")
    assert read.startswith("neuron 1 of layer 2: b = ") and not re.search(r"-\d", read), read
    b = network["biases"][0][0]
    assert _number(read.split(" = ")[1].split(" ")[0]) == pytest.approx(b[0] if isinstance(b, list) else b, rel=1e-5)
    # the axis labels and read-outs of every chart too
    texts = page.eval_on_selector_all(".train-chart text, .train-chart .now", "es => es.map(e => e.textContent)")
    assert not [t for t in texts if re.search(r"-\d", t)], texts
    page.click(".train-edges [data-edges='grad']")
    expect(page.locator("#train-net-legend")).to_contain_text("width |∂C/∂w| up to")
    assert page.locator("#train-net-svg line.edge.gpos, #train-net-svg line.edge.gneg").count() == len(edges)
    page.locator("#train-net").scroll_into_view_if_needed()
    _shot(page, f"train-net-{width}x{height}.png")
    page.locator("#train-net").screenshot(
        path=str(shot_path(f"train-net-figure-{width}x{height}.png")), caret="initial"
    )
    page.locator("#train-speed").screenshot(path=str(shot_path(f"train-speeds-{width}x{height}.png")), caret="initial")
    page.click("#train-stop")


def test_one_mini_batch_button_advances_by_one_mini_batch(train_page: Page) -> None:
    page = train_page
    start_training(page, {"#f-delay": "20"}, {"#f-epochs": "2000", "#f-batch": "10"})
    page.wait_for_function("() => document.getElementById('train-progress')?.value > 0", timeout=10_000)
    page.click("#train-pause")
    expect(page.locator("#train-state")).to_have_text("paused", timeout=5000)
    expect(page.locator("#train-step")).to_be_visible()  # "paused" came by the last event before the pause
    for _ in range(3):
        before = _batches_done(page)
        page.click("#train-step")
        page.wait_for_function(
            "n => { const el = document.getElementById('train-batch');"
            " const per = Number(el.textContent.split('/')[1]);"
            " return (Number(el.dataset.epoch) - 1) * per + Number(el.dataset.batch) !== n; }",
            arg=before,
            timeout=5000,
        )
        assert _batches_done(page) == before + 1
        expect(page.locator("#train-state")).to_have_text("paused")
    page.click("#train-stop")


def test_eta_changed_mid_run_shows_in_the_history(train_page: Page, problems: list[str]) -> None:
    page = train_page
    start_training(page, {"#f-delay": "20"}, {"#f-epochs": "2000", "#f-eta": "2"})
    page.wait_for_function("() => document.getElementById('train-progress')?.value > 0", timeout=10_000)
    expect(page.locator("#train-run-eta")).to_have_text("η = 2")
    page.fill("#train-eta-value", "abc")
    page.click("#train-eta-set")
    expect(page.locator("#e-train-eta")).to_have_text("η: 'abc' is not a number")
    page.fill("#train-eta-value", "0.5")
    page.click("#train-eta-set")
    expect(page.locator("#train-eta-note")).to_have_text("η = 0.5 from the next mini-batch")
    expect(page.locator("#train-run-eta")).to_have_text("η = 0.5 (from 2 at the start)")  # the run's title
    expect(page.locator("#train-eta-history")).to_be_visible(timeout=10_000)
    expect(page.locator("#train-eta-history")).to_contain_text("η in the history: 2 from epoch 1 → 0.5 from epoch")
    expect(page.locator("#train-cost-etas line.eta-mark")).to_have_count(1)
    page.click("#train-pause")
    page.click("#train-inspect-go")
    expect(page.locator("#train-inspect-result")).to_contain_text("one step with η = 0.5 on it alone")
    _shot(page, "train-eta-changed.png")
    page.click("#train-stop")
    expected = [p for p in problems if "422" in p]
    assert len(expected) == 2, problems  # the one refused η: the response, and the console's note of it
    problems[:] = [p for p in problems if p not in expected]


# Every option's text, measured in the select's own font, plus its padding and the arrow's room, against the
# select's inner width; and the select's box against its fieldset's.
_SELECT_FITS = """() => Array.from(document.querySelectorAll('#train-form select')).map(sel => {
  const style = getComputedStyle(sel);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const widest = Math.max(...Array.from(sel.options).map(o => ctx.measureText(o.text).width));
  const box = sel.getBoundingClientRect(), room = sel.closest('fieldset').getBoundingClientRect();
  return {id: sel.id, need: widest + parseFloat(style.paddingLeft) + parseFloat(style.paddingRight) + 20,
          inner: sel.clientWidth, left: box.left, right: box.right, roomLeft: room.left, roomRight: room.right};
})"""


@pytest.mark.parametrize(("width", "height"), [(1024, 768), (1400, 900), (390, 844)])
def test_every_choice_fits_its_box_and_hidden_layers_says_what_it_takes(
    open_page: OpenPage, width: int, height: int
) -> None:
    """At 1024 wide the data set's longest choice ("Handwritten digits, 8×8 (1797 images)") was cut off; now
    every select shows its longest option whole, inside its fieldset. "Hidden layers" says what it takes, in
    words a screen reader reads with the field, and the example it gives is read as it says."""
    page = open_page(width, height, expected=(422,))  # the last step's mistake, on purpose
    page.goto("/train")
    page.select_option("#f-dataset", "digits")
    for fit in page.evaluate(_SELECT_FITS):
        assert fit["need"] <= fit["inner"], fit  # the widest option's text has room
        assert fit["roomLeft"] <= fit["left"] and fit["right"] <= fit["roomRight"], fit
    hint = page.locator("#f-hidden-hint")
    expect(hint).to_be_visible()
    expect(hint).to_have_text('the sizes of the hidden layers, e.g. "4" or "8, 8"')
    expect(page.locator("#f-hidden")).to_have_attribute("aria-describedby", "f-hidden-hint")
    expect(page.locator("#f-hidden")).to_have_attribute("placeholder", "e.g. 4 or 8, 8")
    field, said = page.locator("#f-hidden").bounding_box(), hint.bounding_box()
    assert field is not None and said is not None
    assert 0 <= said["y"] - (field["y"] + field["height"]) < 12 and abs(said["x"] - field["x"]) < 2  # right under it
    _shot(page, f"train-form-{width}x{height}.png")
    # "8, 8" as the hint writes it: two hidden layers of 8 (the run's title names the network)
    page.select_option("#f-dataset", "xor")
    page.fill("#f-hidden", "8, 8")
    page.fill("#f-epochs", "2")
    page.click("#train-start")
    expect(page.locator(".train-run-title")).to_contain_text("network 2–8–8–")
    expect(page.locator("#train-form .error")).to_have_count(0)
    # a mistake: the error, right under the field, is what is said with it, and it too names what the field takes
    page.fill("#f-hidden", "8,x")
    page.click("#train-start")
    expect(page.locator("#e-hidden")).to_contain_text("give widths like")
    expect(page.locator("#f-hidden")).to_have_attribute("aria-describedby", "e-hidden")
    expect(page.locator("#f-hidden-hint")).to_be_visible()
