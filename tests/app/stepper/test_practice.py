"""Practice without a browser: what each equation line offers to be worked by hand, and ``…/steps/{k}/check``.

Every line that computes a quantity carries its key (``data-q``) and its symbol (``data-symbol``), on every step of
networks of several shapes, activations and costs, on the page and in lecture mode; each such key is one the check
accepts (``quantities.askable``), and the input layer's lines (a¹ = x is given) carry none. The check is driven
with numbers worked out here by hand on the worked example (Mazur's 2-2-2): the value and its 4 significant
digits are right, each planted mistake is named with its first wrong factor, a malformed number is a 422 naming
``answer``, a key the step does not compute a 422 naming ``key``, an unknown run or step a 404 in words. A run
another process made is made again from the configuration the URL carries, as the page's own requests do.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.main import create_app
from backprop_lens.app.stepper.form import default_form
from backprop_lens.app.stepper.view.model import RunView
from backprop_lens.app.stepper.view.quantities import askable, find, symbol_of
from tests.worked import A2, A3, B2, D2, D3, ETA, W2, W3, Z2, X, Y

HX = {"HX-Request": "true"}

FORMS = {
    "worked example": default_form(),
    "3-4-2 relu, cross-entropy": {**default_form(), "sizes": "3, 4, 2", "activation": "relu, sigmoid",
                                  "cost": "cross_entropy",
                                  "weights": "", "biases": "", "seed": "5", "x": "0.5, -1, 2", "y": "0, 1"},
    "2-6-6-3 tanh": {**default_form(), "sizes": "2, 6, 6, 3", "activation": "tanh", "weights": "", "biases": "",
                     "seed": "9", "x": "0.3, -0.7", "y": "0.1, -0.2, 0.5"},
    "2-18-2 sigmoid, wider than drawn": {**default_form(), "sizes": "2, 18, 2", "weights": "", "biases": "",
                                         "seed": "4"},
    "2-9-1 sigmoid, cross-entropy": {**default_form(), "sizes": "2, 9, 1", "cost": "cross_entropy", "weights": "",
                                     "biases": "", "seed": "2", "y": "1"},
}  # fmt: skip


@pytest.fixture(scope="module")
def app_client() -> TestClient:
    return TestClient(create_app())


def made(client: TestClient, form: dict[str, str]) -> tuple[str, str, int]:
    """A run of this configuration: its id, its permalink's query and its number of steps."""
    r = client.post("/runs", data=form, headers=HX)
    assert r.status_code == 200, r.text
    rid = re.search(r'data-run-id="([^"]+)"', r.text)
    query = re.search(r'data-query="([^"]+)"', r.text)
    steps = re.search(r'data-steps="(\d+)"', r.text)
    assert rid and query and steps
    return rid.group(1), html.unescape(query.group(1)), int(steps.group(1))


def lines(page: str) -> list[tuple[str, str]]:
    """The (key, symbol) of every equation line of a step that computes a quantity."""
    found = re.findall(r'class="eq-line"[^>]*?data-q="([^"]+)" data-symbol="([^"]+)"', page)
    assert len(found) == page.count("data-q="), "a line with a key and no symbol"
    return [(k, html.unescape(sym)) for k, sym in found]


@pytest.mark.parametrize("name", FORMS)
def test_every_line_that_computes_a_quantity_is_one_the_check_accepts(app_client: TestClient, name: str) -> None:
    rid, _, steps = made(app_client, FORMS[name])
    for lecture in (False, True):
        if lecture:
            r = app_client.post(f"/runs/{rid}/present?on=true&step=0", headers=HX)
            assert r.status_code == 200
            rid = re.search(r'data-run-id="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
        kinds = set()
        for k in range(steps):
            page = app_client.get(f"/runs/{rid}/steps/{k}", headers=HX).text
            kind = re.search(r'data-kind="(\w+)"', page).group(1)  # type: ignore[union-attr]
            shown = lines(re.search(r'<section id="equation".*?</section>', page, re.S).group(0))  # type: ignore[union-attr]
            if kind == "input":
                assert shown == [], "a¹ = x is given, not computed: nothing to work out"
                continue
            assert shown, f"step {k + 1} ({kind}) offers nothing to work out"
            kinds.add(kind)
            assert all(symbol == symbol_of(key) for key, symbol in shown)
            for key, symbol in {shown[0], shown[-1]}:  # every key: the find test below; here, through HTTP
                r = app_client.post(f"/runs/{rid}/steps/{k}/check", json={"key": key, "answer": "12345"})
                assert r.status_code == 200, (k, key, r.text)
                body = r.json()
                assert body["key"] == key and body["symbol"] == symbol and body["right"] is False
        assert kinds == {"feedforward", "output_error", "backpropagate", "gradients", "update"}


def test_find_builds_every_line_of_its_step_and_nothing_another_step_computes() -> None:
    """One level down: ``find`` gives each line's quantity of its own step (every input of BP4 in lecture mode),
    the same quantity ``askable`` lists, and None for any other step's; the picker offers every line lecture mode
    shows (``askable(..., lecture=True)``)."""
    from backprop_lens.app.core.compute import run_replay
    from backprop_lens.app.stepper.form import parse_form
    from backprop_lens.app.stepper.view import step_view

    for form in FORMS.values():
        trace, _ = run_replay(parse_form(form, 8, 100).request, 0)
        r = RunView(trace)
        for k, step in enumerate(trace.steps):
            offered = {q.key: q for q in askable(r, step)}
            for key, q in offered.items():
                assert find(r, step, key) == q
            shown = {
                q for lecture in (False, True) for q in step_view("x", trace, k, lecture=lecture).equation.quantities
            }
            lecture = {q.key for q in askable(r, step, lecture=True)}
            lines_in_lecture = set(step_view("x", trace, k, lecture=True).equation.quantities) - {""}
            assert lines_in_lecture <= lecture, "a lecture-mode line the class's picker does not offer"
            for key in shown - {""}:
                line = find(r, step, key)
                assert line is not None and line.key == key and line.symbol == symbol_of(key), (k, key)
            for other in trace.steps:
                if (other.kind, other.layer) != (step.kind, step.layer):
                    assert all(find(r, other, key) is None for key in shown - {""}), (k, other.kind, other.layer)
        last = trace.steps[-1]
        for key in ("w_new-1-1-1", "w_new-2-99-1", "w_new-2-1-99", "b_new-2-0", "w_new-2-1", "b_new-2-1-1",
                    "delta-2-1", "delta-x-1", "nabla_w-2-1"):  # fmt: skip
            assert find(r, last, key) is None, key


def check(client: TestClient, rid: str, k: int, key: str, answer: str, query: str = "") -> Any:
    r = client.post(
        f"/runs/{rid}/steps/{k}/check" + (f"?{query}" if query else ""), json={"key": key, "answer": answer}
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()


def test_right_answers_and_planted_mistakes_on_the_worked_example(app_client: TestClient) -> None:
    rid, _, _ = made(app_client, default_form())
    right = check(app_client, rid, 4, "delta-2-1", f"{D2[0]:.4g}")
    assert right == {"key": "delta-2-1", "symbol": "δ²₁", "right": True, "mistake": None,
                     "text": f"Right: δ²₁ = {D2[0]:.4g}."}  # fmt: skip
    assert check(app_client, rid, 4, "delta-2-1", f"{D2[0] * 1.009:.6f}")["right"]  # within 1%
    assert not check(app_client, rid, 4, "delta-2-1", f"{D2[0] * 1.02:.6f}")["right"]

    back = W3[0][0] * D3[0] + W3[1][0] * D3[1]
    no_sp = check(app_client, rid, 4, "delta-2-1", f"{back:.5g}")
    assert no_sp["mistake"] == "σ′(z²₁) left out"
    assert f"σ′(z²₁) = {A2[0] * (1 - A2[0]):.4g} is missing" in no_sp["text"]
    not_t = check(app_client, rid, 4, "delta-2-1", f"{(W3[0][0] * D3[0] + W3[0][1] * D3[1]) * A2[0] * (1 - A2[0]):.5g}")
    assert not_t["mistake"].startswith("w³ not transposed") and "you used row 1 of w³" in not_t["text"]

    # eq. 25's bias left out, typed with a decimal comma; BP1's sign, with U+2212 and ×10⁻ⁿ
    bias = check(app_client, rid, 1, "z-2-1", f"{Z2[0] - B2[0]:.5g}".replace(".", ","))
    assert bias["mistake"] == "the bias b²₁ left out" and "b²₁ = 0.35 is missing" in bias["text"]
    sign = (Y[0] - A3[0]) * A3[0] * (1 - A3[0])
    mantissa, exponent = f"{sign:.4e}".split("e")
    superscript = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    typed = mantissa.replace("-", "\u2212") + "×10" + str(int(exponent)).translate(superscript)
    assert check(app_client, rid, 3, "delta-3-1", typed)["mistake"] == "the sign of a³₁ − y₁ flipped"

    # BP4 with z for a; the update without η
    z_for_a = check(app_client, rid, 5, "nabla_w-3-1-1", f"{Z2[0] * D3[0]:.5g}")
    assert f"you used z²₁ = {Z2[0]:.4g} where a²₁ = {A2[0]:.4g} belongs" in z_for_a["text"]
    no_eta = check(app_client, rid, 7, "w_new-3-1-1", f"{W3[0][0] - A2[0] * D3[0]:.5g}")
    assert no_eta["mistake"] == "η left out" and "η = 0.5 is missing" in no_eta["text"]
    assert check(app_client, rid, 7, "w_new-3-1-1", f"{W3[0][0] - ETA * A2[0] * D3[0]:.5g}")["right"]

    # w²₁₁ moves by η∂C/∂w²₁₁ = 0.00022, 0.15% of it: the 1% is of the step, so the weight left unchanged is
    # wrong, the value's 4 significant digits are right, and η left out is a mistake of its own
    step = ETA * X[0] * D2[0]
    assert check(app_client, rid, 7, "w_new-2-1-1", f"{W2[0][0] - step:.4g}")["right"]
    assert check(app_client, rid, 7, "w_new-2-1-1", f"{W2[0][0] - step * 1.009:.9f}")["right"]
    assert not check(app_client, rid, 7, "w_new-2-1-1", "0.15")["right"]
    assert not check(app_client, rid, 7, "w_new-2-1-1", f"{W2[0][0] - step * 1.5:.9f}")["right"]
    assert check(app_client, rid, 7, "w_new-2-1-1", f"{W2[0][0] - X[0] * D2[0]:.5g}")["mistake"] == "η left out"
    r = app_client.post(f"/runs/{rid}/steps/7/check", json={"key": "w_new-02-01-001", "answer": "0.15"})
    assert r.status_code == 422 and r.json()["message"] == "key: step 8 computes no w_new-02-01-001"

    other = check(app_client, rid, 6, "nabla_b-2-1", "7")
    assert other["mistake"] is None
    assert other["text"].startswith("Not right, nor one of the usual mistakes on this line: 7.")


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"key": "delta-2-1", "answer": "0.1.2"}, 422, "answer: “0.1.2” is not a number"),
        ({"key": "delta-2-1", "answer": ""}, 422, "answer: Type a number first."),
        ({"key": "delta-2-1", "answer": "9" * 41}, 422, "answer"),
        ({"key": "delta-3-1", "answer": "1"}, 422, "key: step 5 computes no delta-3-1"),
        ({"key": "delta-2-9", "answer": "1"}, 422, "key: step 5 computes no delta-2-9"),
        ({"key": "sigma-2-1", "answer": "1"}, 422, "key"),
        ({"key": "delta-2-1"}, 422, "answer"),
        ({"key": "delta-2-1", "answer": 0.1}, 422, "answer"),
        ({"key": "delta-2-1", "answer": "1", "value": 2}, 422, "value"),
    ],
)
def test_bad_input_is_a_422_naming_its_field(
    app_client: TestClient, body: dict[str, Any], status: int, words: str
) -> None:
    rid, _, _ = made(app_client, default_form())
    r = app_client.post(f"/runs/{rid}/steps/4/check", json=body)
    assert r.status_code == status and words in r.json()["message"], r.text


def test_an_unknown_run_or_step_is_a_404_in_words_and_a_body_that_is_not_json_a_4xx(app_client: TestClient) -> None:
    rid, _, steps = made(app_client, default_form())
    r = app_client.post("/runs/0123456789abcdef/steps/4/check", json={"key": "delta-2-1", "answer": "1"})
    assert r.status_code == 404 and r.json()["message"].startswith("run_id: this run is unknown or has expired")
    r = app_client.post(f"/runs/{rid}/steps/{steps}/check", json={"key": "delta-2-1", "answer": "1"})
    assert r.status_code == 404 and r.json()["message"] == f"k: this run has steps 1 to {steps}; there is no step 9"
    r = app_client.post(f"/runs/{rid}/steps/4/check", content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500


def test_a_run_made_by_another_process_is_checked_from_the_configuration_its_url_carries() -> None:
    one, other = TestClient(create_app()), TestClient(create_app())
    rid, query, _ = made(one, default_form())
    assert other.post(f"/runs/{rid}/steps/4/check", json={"key": "delta-2-1", "answer": "1"}).status_code == 404
    assert check(other, rid, 4, "delta-2-1", f"{D2[0]:.4g}", query)["right"]
