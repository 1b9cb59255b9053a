"""Lecture mode without a browser: the projector's diagram, the permalink's ``present``, the routes.

The diagram drawn for a projector is checked against the page's own diagram of the same step (every
text it shows is that diagram's text, every fill and id the same) and against geometry written out
here: values at least 21 units in a drawing 1000 wide (≈ 20 CSS px at 1024 px), inside the drawing,
apart from each other, and each edge from its neurons' centres.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.compute import run_trace
from backprop_lens.app.main import create_app
from backprop_lens.app.stepper.form import FormError, default_form, parse_form
from backprop_lens.app.stepper.view import step_view
from backprop_lens.app.stepper.view.present import present_diagram
from tests.app.stepper.test_routes import HX, run_id

NETWORKS = {
    "example": {},
    "deep": {"sizes": "2, 4, 4, 4, 4, 4, 4, 2", "x": "0.5, -0.3", "y": "0.2, 0.8", "seed": "4"},
    # the review's: its δ of 1.586×10⁻⁵ and −8.498×10⁻⁵ are wider than the 120 units between eight columns
    "deep-small": {
        "sizes": "2, 4, 4, 4, 4, 4, 4, 2",
        "activation": "sigmoid",
        "cost": "quadratic",
        "init": "standard",
        "x": "0.05, 0.1",
        "y": "0.01, 0.99",
        "eta": "0.5",
        "seed": "0",
    },
    "wide-twice": {"sizes": "2, 16, 16, 2", "x": "0.5, -0.3", "y": "0.2, 0.8", "seed": "1"},
    "wide": {"sizes": "3, 14, 3", "x": "0.5, -0.3, 0.1", "y": "0.2, 0.8, 0.4", "activation": "tanh, sigmoid"},
    "widest": {"sizes": "4, 40, 3", "x": "1, 2, 3, 4", "y": "0, 1, 0", "init": "scaled"},
    "saturated": {"sizes": "2, 3, 2", "x": "300, -200", "y": "1, 0", "seed": "1"},
}


def form_of(name: str) -> dict[str, str]:
    extra = NETWORKS[name]
    base = default_form()
    if extra:
        base = {**base, "weights": "", "biases": "", **extra}
    return base


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def box_to_point(box: tuple[float, float, float, float], x: float, y: float) -> float:
    """From (x, y) to the nearest point of the box (x0, y0, x1, y1)."""
    dx = max(box[0] - x, 0.0, x - box[2])
    dy = max(box[1] - y, 0.0, y - box[3])
    return float((dx * dx + dy * dy) ** 0.5)


def side_of(box: tuple[float, float, float, float], x: float, y: float, r: float) -> str:
    """Where a box lies around the circle (x, y, r): wholly below, above, right or left of it."""
    sides = [
        name
        for name, beyond in (
            ("below", box[1] >= y + r - 0.5),
            ("above", box[3] <= y - r + 0.5),
            ("right", box[0] >= x + r - 0.5),
            ("left", box[2] <= x - r + 0.5),
        )
        if beyond
    ]
    assert len(sides) == 1, (box, x, y, r)  # beside its circle, not over it, not off at a corner
    return sides[0]


SLOW = {"wide-twice", "deep"}  # seconds each: the whole suite draws them, the fast tier leaves them out


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in NETWORKS])
@pytest.mark.parametrize("iterations", [0, 10])
def test_the_projector_diagram_shows_the_pages_numbers_large_and_apart(name: str, iterations: int) -> None:
    page = parse_form(form_of(name), 8, 1000)
    trace = run_trace(page.request, iterations)
    for k in range(len(trace.steps)):
        d = step_view("r", trace, k).diagram
        p = present_diagram(d)
        assert p.width == 1000 and p.height <= 420
        assert [n.id for n in p.neurons] == [n.id for n in d.neurons]
        boxes = []
        for before, after in zip(d.neurons, p.neurons, strict=True):
            assert (after.fill, after.info, after.classes, after.data) == (
                before.fill, before.info, before.classes, before.data,
            )  # fmt: skip
            assert after.x - after.r > 0 and after.x + after.r < 1000 and after.y + after.r < p.height
            v = after.value
            if v is None:
                continue
            assert before.value is not None and v.text == before.value.text  # the page's own text
            assert v.font >= 21.0
            h = 1.2 * v.font  # the browser test measures the drawn boxes; here, their plates and lines
            if v.inside:
                assert (v.x, v.y) == (after.x, after.y)
            else:
                assert v.plate is not None
                px, py, pw, ph = v.plate
                assert px >= 0 and px + pw <= 1000 and py >= 0 and py + ph <= p.height
                boxes.append((px, py, px + pw, py + ph))
            assert v.y - h / 2 >= 0 and v.y + h / 2 <= p.height + 1
        for i, a in enumerate(boxes):  # no two values beside their circles overlap
            for b in boxes[i + 1 :]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
        centre = {n.id: (n.x, n.y) for n in p.neurons}
        # A value outside its circle is on a pill touching it, on its layer's one side, nearer its own neuron
        # than any other (its line of text 1.5 times nearer), and over no edge's middle (where it would read as
        # the edge's number).
        middles = [((e.x1 + e.x2) / 2, (e.y1 + e.y2) / 2) for e in p.edges]
        sides: dict[int, set[str]] = {}
        for n in p.neurons:
            if n.value is None or n.value.inside:
                continue
            assert n.value.plate is not None
            px, py, pw, ph = n.value.plate
            box = (px, py, px + pw, py + ph)
            own = box_to_point(box, n.x, n.y) - n.r
            assert -0.5 <= own <= 3.0, (n.id, own)  # touching its circle, not over it
            # and clearly its own: its line of text (the pill's midline) 1.5 times nearer its circle than any other
            mid = (px, py + ph / 2, px + pw, py + ph / 2)
            mine = box_to_point(mid, n.x, n.y) - n.r
            for o in p.neurons:
                if o is not n:
                    assert box_to_point(box, o.x, o.y) - o.r > own + 2.0, (n.id, o.id)
                    theirs = box_to_point(mid, o.x, o.y) - o.r
                    assert theirs >= 1.5 * mine - 1e-9, (n.id, n.value.text, o.id, theirs, mine)
            for mx, my in middles:
                assert box_to_point(box, mx, my) >= 5.0, (n.id, n.value.text, mx, my)
            if "current" not in n.classes.split():  # the step's own layer takes whatever place is clear
                sides.setdefault(n.layer, set()).add(side_of(box, n.x, n.y, n.r))
        assert all(len(s) == 1 for s in sides.values()), sides
        for e in p.edges:
            _, layer, j, src = e.id.split("-")
            assert (e.x1, e.y1) == centre[f"n-{int(layer) - 1}-{src}"] and (e.x2, e.y2) == centre[f"n-{layer}-{j}"]
        shown = sum(n.value is not None for n in p.neurons)
        if name in ("example", "wide"):  # room for every value the page shows
            assert shown == sum(n.value is not None for n in d.neurons)
        if name == "example":  # and, with big circles, inside them (−0.004044 at 21 is 128 units wide)
            assert all(n.value.inside for n in p.neurons if n.value is not None)
        # every value of the step's own layer is drawn, whatever the others' lose
        assert [n.id for n in p.neurons if "current" in n.classes.split() and n.value is not None] == [
            n.id for n in d.neurons if "current" in n.classes.split() and n.value is not None
        ]


def test_present_in_a_permalink_is_read_and_kept() -> None:
    page = parse_form({**default_form(), "present": "1"}, 8, 1000)
    assert page.present and "present=1" in page.query()
    assert page.next().present and page.next(10).iteration == 10
    assert not page.presenting(False).present and "present" not in page.presenting(False).query()
    assert not parse_form({**default_form(), "present": "0"}, 8, 1000).present
    with pytest.raises(FormError) as e:
        parse_form({**default_form(), "present": "yes"}, 8, 1000)
    assert "present" in e.value.errors["form"]


def test_the_page_opens_in_lecture_mode_from_a_bookmark(client: TestClient) -> None:
    r = client.get("/?present=1")
    assert r.status_code == 200 and 'class="run present"' in r.text and 'data-present="1"' in r.text
    assert client.get("/?present=0").text.count('class="run present"') == 0
    r = client.get("/?" + urlencode({**form_of("deep"), "present": "1"}))
    assert r.status_code == 200 and 'class="run present"' in r.text
    assert "present=1" in re.search(r'id="permalink" href="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    r = client.get("/?present=maybe")
    assert r.status_code == 422 and "present" in r.text


def test_a_run_switches_lecture_mode_at_the_step_shown(client: TestClient) -> None:
    rid = run_id(client.get("/?" + urlencode(form_of("wide"))).text)
    r = client.post(f"/runs/{rid}/present?on=true&step=3", headers=HX)
    assert r.status_code == 200
    assert 'data-present="1"' in r.text and 'data-step="3"' in r.text
    present_id = run_id(r.text)
    assert present_id != rid
    r = client.post(f"/runs/{present_id}/present?on=false&step=5", headers=HX)
    assert 'data-present="0"' in r.text and 'data-step="5"' in r.text
    # a step of the lecture run is the projector's drawing, 1000 wide
    assert 'viewBox="0 0 1000 ' in client.get(f"/runs/{present_id}/steps/2", headers=HX).text
    assert 'viewBox="0 0 1000 ' not in client.get(f"/runs/{rid}/steps/2", headers=HX).text
    assert 'class="run present"' in client.get(f"/runs/{rid}?present=1").text
    assert client.get(f"/runs/{rid}?present=2").status_code == 422
    r = client.post(f"/runs/{rid}/present?on=true&step=2", follow_redirects=False)
    assert r.status_code == 303 and re.search(r"/runs/[^/]+/steps/2$", r.headers["location"])


def test_the_worked_example_in_lecture_mode_is_stored_nowhere(client: TestClient) -> None:
    store = client.app.state.runs  # type: ignore[attr-defined]
    before = len(store)
    rid = run_id(client.get("/").text)
    r = client.post(f"/runs/{rid}/present?on=true&step=0", headers=HX)
    assert run_id(r.text) == rid + "-present" and len(store) == before


@pytest.mark.parametrize("path", ["/runs/nope/present?on=true", "/runs/{rid}/present?on=true&step=99"])
def test_switching_an_unknown_run_or_step_is_a_404(client: TestClient, path: str) -> None:
    rid = run_id(client.get("/").text)
    assert client.post(path.format(rid=rid), headers=HX).status_code == 404


def test_lecture_modes_update_does_not_send_the_lecturer_to_hidden_tables() -> None:
    from backprop_lens.app.stepper.view.equation import equation_at
    from backprop_lens.app.stepper.view.model import RunView
    from backprop_lens.engine import Network, trace

    t = trace(Network([2, 2, 2], seed=0), [[0.05, 0.1]], [[0.01, 0.99]])
    r, k = RunView(t), len(t.steps) - 1
    assert "tables below" in (equation_at(r, t.steps[k], k).more or "")
    lecture = equation_at(r, t.steps[k], k, lecture=True).more or ""
    assert "tables below" not in lecture and "Esc leaves lecture mode" in lecture
