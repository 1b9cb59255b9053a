"""Lecture mode line by line, and addresses that reproduce the screen, in Chromium.

At 1024×768 in lecture mode on 2-2-2, 3-4-4-2 and 2-4-4-4-2, → from the first step to the end of the last
walks every line of every equation: each line is on screen when shown (inside the viewport), the toolbar says
"line i of n" on a walked step, and each line's result equals an independent forward and backward pass written
here in plain NumPy (sharing no code with the engine), to the digits printed. A permalink and the address bar
opened on a fresh process give the same step and line; Back after *Run the next iteration* goes to the previous
iteration. Screenshots: artifacts/screenshots/lines-*.png.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, shot_path
from tests.processes import serving

pytestmark = pytest.mark.browser


def network(sizes: list[int], seed: int) -> dict[str, Any]:
    """A sigmoid network with its weights written out (drawn here, so that the test knows every one)."""
    rng = random.Random(seed)
    w = [
        [[round(rng.uniform(-1.5, 1.5), 3) for _ in range(n_in)] for _ in range(n_out)]
        for n_in, n_out in itertools.pairwise(sizes)
    ]
    b = [[round(rng.uniform(-0.5, 0.5), 3) for _ in range(n)] for n in sizes[1:]]
    x = [round(rng.uniform(-1, 1), 2) for _ in range(sizes[0])]
    y = [round(rng.uniform(0, 1), 2) for _ in range(sizes[-1])]
    return {"sizes": sizes, "w": w, "b": b, "x": x, "y": y}


WORKED = {"sizes": [2, 2, 2], "w": [[[0.15, 0.2], [0.25, 0.3]], [[0.4, 0.45], [0.5, 0.55]]],
          "b": [[0.35, 0.35], [0.6, 0.6]], "x": [0.05, 0.1], "y": [0.01, 0.99]}  # fmt: skip
NETWORKS = {"2-2-2": WORKED, "3-4-4-2": network([3, 4, 4, 2], 5), "2-4-4-4-2": network([2, 4, 4, 4, 2], 9)}
ETA = 0.5


def form(net: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        "sizes": ", ".join(map(str, net["sizes"])), "activation": "sigmoid", "cost": "quadratic",
        "x": ", ".join(map(str, net["x"])), "y": ", ".join(map(str, net["y"])), "eta": str(ETA),
        "weights": json.dumps(net["w"]), "biases": json.dumps(net["b"]), **extra,
    }  # fmt: skip


def expected_lines(net: dict[str, Any]) -> list[list[float]]:
    """Each step's lines' results, in the book's order: NumPy, written out here (quadratic cost, sigmoid)."""
    W = [np.array(w) for w in net["w"]]
    B = [np.array(b) for b in net["b"]]
    a = [np.array(net["x"], dtype=float)]
    z: list[Any] = []
    for w, b in zip(W, B, strict=True):
        z.append(w @ a[-1] + b)
        a.append(1 / (1 + np.exp(-z[-1])))
    sp = [s * (1 - s) for s in a[1:]]
    L = len(W)
    delta = [np.zeros(0)] * L
    delta[-1] = (a[-1] - np.array(net["y"])) * sp[-1]
    for i in range(L - 2, -1, -1):
        delta[i] = (W[i + 1].T @ delta[i + 1]) * sp[i]
    W_new = [w - ETA * np.outer(d, x) for w, d, x in zip(W, delta, a[:-1], strict=True)]
    B_new = [b - ETA * d for b, d in zip(B, delta, strict=True)]
    a_new = np.array(net["x"], dtype=float)
    for w, b in zip(W_new, B_new, strict=True):
        a_new = 1 / (1 + np.exp(-(w @ a_new + b)))
    cost_after = 0.5 * float(np.sum((np.array(net["y"]) - a_new) ** 2))

    steps: list[list[float]] = [list(a[0])]
    for i in range(L):  # eq. 25: z then a, neuron by neuron
        steps.append([v for j in range(len(z[i])) for v in (z[i][j], a[i + 1][j])])
    steps.append(list(delta[-1]))  # BP1
    for i in range(L - 2, -1, -1):  # BP2, from the last hidden layer back
        steps.append(list(delta[i]))
    for i in range(L - 1, -1, -1):  # BP3 and BP4, from the output layer back: ∂C/∂b_j, then ∂C/∂w_jk
        steps.append([v for j in range(len(delta[i])) for v in (delta[i][j], *(delta[i][j] * a[i]))])
    update = [v for i in range(L) for v in (W_new[i][0, 0], B_new[i][0])]  # a weight and a bias per layer
    steps.append([*update, cost_after])
    return steps


# The result of each line on screen (the last number of its last <math>; 1.586×10⁻⁵ written as msup), the
# line's box, the step, the line and what the toolbar says.
SHOWN = """
() => {
  const run = document.getElementById('run');
  const walking = run.dataset.walk === '1';
  const lines = Array.from(document.querySelectorAll('#equation .eq-line'));
  const shown = walking ? lines.filter((l) => l.classList.contains('current-line')) : lines;
  const result = (line) => {
    const maths = line.querySelectorAll('math');
    const last = maths[maths.length - 1].cloneNode(true);
    for (const s of Array.from(last.querySelectorAll('msup'))) {
      if (s.children[0].textContent === '10') s.replaceWith(`e${s.children[1].textContent}`);
    }
    return last.textContent.replace(/\\s/g, '');
  };
  return {
    step: Number(run.dataset.step), walk: run.dataset.walk ?? '', count: lines.length,
    index: shown.map((l) => lines.indexOf(l)),
    results: shown.map(result),
    boxes: shown.map((l) => { const r = l.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }),
    visible: shown.map((l) => l.checkVisibility()),
    lineOf: document.getElementById('line-of').hidden ? '' : document.getElementById('line-of').textContent,
    width: window.innerWidth, height: window.innerHeight,
  };
}
"""

SETTLED = """(prev) => {
  const run = document.getElementById('run');
  if (!run || (run.dataset.present === '1' && !['0', '1'].includes(run.dataset.walk))) return false;
  const now = `${run.dataset.step}:${run.dataset.walk}:${document.getElementById('line-of').textContent}:` +
    `${document.querySelectorAll('#equation .eq-line.current-line').length}`;
  const same = now !== prev && window.linesSeen === now;
  window.linesSeen = now;
  return same;
}"""
"""True once the step, the walk and the line differ from ``prev`` and stayed so for two frames."""


def where(page: Page) -> str:
    return str(
        page.evaluate(
            "() => { const r = document.getElementById('run'); return `${r.dataset.step}:${r.dataset.walk}:` +"
            " `${document.getElementById('line-of').textContent}:` +"
            " `${document.querySelectorAll('#equation .eq-line.current-line').length}`; }"
        )
    )


def settle(page: Page, prev: str) -> None:
    page.evaluate("window.linesSeen = null")
    page.wait_for_function(SETTLED, arg=prev, polling="raf")


def number(text: str) -> float:
    """A printed result as a float: "−0.002087", "1.586e−5"."""
    return float(text.replace("×e", "e").replace("−", "-"))


def close(text: str, want: float) -> bool:
    """Whether ``text`` is ``want`` to its printed digits: within half a unit of its last digit (and a hair)."""
    mantissa = text.replace("−", "").replace("×", "").split("e")[0]
    digits = len(re.sub(r"^0+", "", mantissa.replace(".", "")))  # its significant digits: 0.002087 has 4
    got = number(text)
    unit = 10 ** (math.floor(math.log10(abs(got))) - max(digits, 1) + 1) if got else 1e-12
    return abs(got - want) <= 0.51 * unit


@pytest.mark.parametrize("name", list(NETWORKS))
def test_walking_every_step_and_line_shows_every_line_with_the_traces_numbers(open_page: OpenPage, name: str) -> None:
    net = NETWORKS[name]
    want = expected_lines(net)
    page = open_page(1024, 768)
    page.goto(f"/?{urlencode(form(net, present='1'))}")
    expect(page.locator("#run")).to_have_attribute("data-present", "1")
    settle(page, "")
    seen: dict[int, dict[int, str]] = {}
    walked = set()
    for _ in range(400):
        s = page.evaluate(SHOWN)
        for i, text, box, visible in zip(s["index"], s["results"], s["boxes"], s["visible"], strict=True):
            assert visible and box[0] >= 0 and box[1] >= 0 and box[2] <= s["width"] and box[3] <= s["height"], (
                f"{name} step {s['step'] + 1} line {i + 1} is off screen: {box}"
            )
            seen.setdefault(s["step"], {})[i] = text
        if s["walk"] == "1":
            walked.add(s["step"])
            assert s["lineOf"] == f"line {s['index'][0] + 1} of {s['count']}"
            if s["index"][0] == s["count"] - 1 and s["step"] in (0, 1, 3) and name == "2-4-4-4-2":
                page.screenshot(path=shot_path(f"lines-{name}-step{s['step'] + 1}.png"))
        else:
            assert s["lineOf"] == "" and len(s["index"]) == s["count"]
        last = s["step"] == len(want) - 1 and (s["walk"] != "1" or s["index"][0] == s["count"] - 1)
        if last:
            break
        before = where(page)
        page.keyboard.press("ArrowRight")
        settle(page, before)
    assert sorted(seen) == list(range(len(want))), f"{name}: steps seen {sorted(seen)}"
    for k, results in enumerate(want):
        lines = seen[k]
        assert sorted(lines) == list(range(len(results))), (
            f"{name} step {k + 1}: lines {sorted(lines)} of {len(results)}"
        )
        for i, value in enumerate(results):
            assert close(lines[i], float(value)), f"{name} step {k + 1} line {i + 1}: {lines[i]} ≠ {value}"
    if name == "2-4-4-4-2":
        assert walked, "a 2-4-4-4-2 at 1024×768 has equations too long for the screen: some step is walked"


def test_left_walks_back_through_the_lines_and_into_the_step_before(open_page: OpenPage) -> None:
    net = NETWORKS["2-4-4-4-2"]
    page = open_page(1024, 768)
    page.goto(f"/?{urlencode(form(net, present='1', step='9'))}")  # ∂C/∂w⁵: ten lines
    settle(page, "")
    assert page.locator("#line-of").text_content() == "line 1 of 10"
    before = where(page)
    page.keyboard.press("ArrowRight")
    settle(page, before)
    assert page.locator("#line-of").text_content() == "line 2 of 10"
    assert "line=2" in page.url and "step=9" in (page.locator("#permalink").get_attribute("href") or "")
    # the line's edge and neurons are marked on the diagram: ∂C/∂w⁵_11 = a⁴_1 δ⁵_1
    assert page.eval_on_selector_all(".line-mark", "els => els.map(e => e.id).sort()") == ["e-5-1-1", "n-4-1", "n-5-1"]
    before = where(page)
    page.keyboard.press("ArrowLeft")
    settle(page, before)
    assert page.locator("#line-of").text_content() == "line 1 of 10"
    before = where(page)
    page.keyboard.press("ArrowLeft")  # from the first line: the step before (BP2 of layer 2), at its last line
    settle(page, before)
    expect(page.locator("#run")).to_have_attribute("data-step", "8")
    s = page.evaluate(SHOWN)
    if s["walk"] == "1":
        assert s["index"] == [s["count"] - 1]  # at its last line


def test_space_plays_steps_not_lines(open_page: OpenPage) -> None:
    net = NETWORKS["2-4-4-4-2"]
    page = open_page(1024, 768)
    page.goto(f"/?{urlencode(form(net, present='1', step='9'))}")
    settle(page, "")
    page.keyboard.press(" ")
    expect(page.locator("#run")).to_have_attribute("data-step", "10", timeout=10_000)
    page.keyboard.press(" ")


def test_a_permalink_on_a_fresh_process_gives_the_same_step_and_line(open_page: OpenPage) -> None:
    net = NETWORKS["2-4-4-4-2"]
    page = open_page(1024, 768)
    page.goto(f"/?{urlencode(form(net, present='1', step='9'))}")
    settle(page, "")
    for _ in range(3):
        before = where(page)
        page.keyboard.press("ArrowRight")
        settle(page, before)
    shown = page.evaluate(SHOWN)
    assert shown["lineOf"] == "line 4 of 10"
    permalink = page.locator("#permalink").get_attribute("href") or ""
    address = page.evaluate("location.pathname + location.search")
    assert "/runs/" in address and "sizes=" in address and "line=4" in address
    with serving() as (_, fresh, _):
        for url in (permalink, address):  # the permalink, and the address bar (its run unknown there)
            other = open_page(1024, 768)
            other.goto(f"{fresh}{url}")
            settle(other, "")
            again = other.evaluate(SHOWN)
            assert (again["step"], again["lineOf"], again["results"]) == (
                shown["step"],
                shown["lineOf"],
                shown["results"],
            )
            other.close()


def test_back_after_the_next_iteration_goes_to_the_previous_iteration(open_page: OpenPage) -> None:
    page = open_page(1024, 768)
    page.goto("/")
    page.keyboard.press("End")
    expect(page.locator("#run")).to_have_attribute("data-step", "7")
    page.locator("#btn-next").click()
    expect(page.locator("#iteration")).to_have_text("iteration 1")
    assert "iteration=1" in page.url
    page.go_back()
    expect(page.locator("#iteration")).to_have_text("iteration 0")
    assert "iteration=" not in page.url and page.url.startswith(page.evaluate("location.origin"))
    expect(page.locator("#run")).to_have_attribute("data-step", "7")
