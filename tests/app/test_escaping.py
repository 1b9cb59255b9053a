"""Whatever a person types comes back escaped: a script tag sent through every fragment stays inert.

Every place that can echo text a person typed is tried with the same payload: the permalink's query,
the configuration form (htmx fragment and full page), pasted weights, the training form and its CSV,
the instruments' settings and unknown run ids. The payload must never appear as markup.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from app.page_schemas import FIELDS, default_form

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'
HTMX = {"HX-Request": "true"}


class MarkupScan(HTMLParser):
    """What a browser would build: elements and their attributes, not text that merely looks like them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("an inline <script>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.found.append("the payload's <img>")
        self.found.extend(f"<{tag} {name}=…>" for name in names if name.startswith("on"))


def assert_inert(html: str) -> None:
    scan = MarkupScan()
    scan.feed(html)
    assert scan.found == []
    assert "<script>alert" not in html


@pytest.mark.parametrize("field", FIELDS)
def test_the_permalink_query(client: TestClient, field: str) -> None:
    r = client.get("/", params={**default_form(), field: PAYLOAD})
    assert r.status_code in (200, 422)
    assert_inert(r.text)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("htmx", [True, False])
def test_the_configuration_form(client: TestClient, field: str, htmx: bool) -> None:
    r = client.post("/runs", data={**default_form(), field: PAYLOAD}, headers=HTMX if htmx else {},
                    follow_redirects=True)  # fmt: skip
    assert r.status_code in (200, 422)
    assert_inert(r.text)
    if r.status_code == 422 and field in ("sizes", "x", "weights"):
        assert "&lt;script&gt;" in r.text or "script" not in r.text  # shown escaped, or not at all


@pytest.mark.parametrize(
    "fields",
    [
        {"dataset": "csv", "csv": f"a,b,label\n1,{PAYLOAD},0\n"},
        {"dataset": "csv", "csv": f"a,b,label\n1,2,{PAYLOAD}\n3,4,b\n5,6,{PAYLOAD}\n7,8,b\n"},
        {"dataset": PAYLOAD},
        {"hidden": PAYLOAD},
        {"eta": PAYLOAD},
    ],
)
def test_the_training_form_and_its_csv(client: TestClient, fields: dict[str, str]) -> None:
    r = client.post("/train/runs", data={"dataset": "xor", **fields}, headers=HTMX)
    assert r.status_code in (200, 422)
    assert_inert(r.text)


def test_the_instruments_settings_and_unknown_runs(client: TestClient) -> None:
    r = client.post("/runs", data=default_form(), headers=HTMX)
    run_id = re.search(r'data-run-id="([^"]+)"', r.text)
    assert run_id is not None
    for name in ("demon", "paths", "gradcheck", "modified-neuron"):
        for key in ("layer", "neuron", "nudges", "hidden", "f", "example", PAYLOAD):
            r = client.get(f"/instruments/{run_id.group(1)}/{name}", params={key: PAYLOAD})
            assert r.status_code < 500
            assert_inert(r.text)
    for path in (f"/runs/{PAYLOAD}", f"/instruments/{PAYLOAD}", f"/runs/{PAYLOAD}/steps/1", f"/train/runs/{PAYLOAD}"):
        r = client.get(path)
        assert r.status_code in (404, 422)
        assert_inert(r.text)
