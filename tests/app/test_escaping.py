"""Whatever a person types comes back escaped: a script tag sent through every fragment stays inert.

Every place that can echo text a person typed is tried with the same payload: the permalink's query,
the configuration form (htmx fragment and full page), pasted weights, the training form, its CSV and
the example inspector, the instruments' settings and unknown run ids. Each request must reach the code
that handles the text: where that code echoes it, the payload must come back as text (escaped, so an
HTML parser reads it back as the very characters typed) and never as markup; where it does not echo
it, the test says what it answers instead, so a request that never got that far fails here.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import get_settings
from backprop_lens.app.instruments.page import RUN_FIELDS
from backprop_lens.app.instruments.registry import INSTRUMENTS
from backprop_lens.app.stepper.form import FIELDS, default_form

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'
# The payload as Jinja's autoescape writes it, in text and in attribute values alike (written out by
# hand, not computed with markupsafe, so a change of escaping shows up here).
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
# Messages that quote a bad value cut it short; every cut still starts with these twelve characters.
HEAD, ESCAPED_HEAD = PAYLOAD[:12], "&lt;script&gt;aler"
# A path segment cannot hold the payload's "/": this one reaches the run-id routes instead of no route.
PATH_PAYLOAD = "<img src=x onerror=alert(1)>"
MARK = "onerror"  # in both payloads and in no page of ours: where it is absent, nothing was echoed
HTMX = {"HX-Request": "true"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class MarkupScan(HTMLParser):
    """What a browser would build: elements and their attributes, not text that merely looks like them.

    Also keeps, for the first element with each id ("#id") or class (".class"), its tag, its attributes
    and its text, with the character references resolved: what a person would read there.
    """

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.tags: dict[str, str] = {}
        self.attrs: dict[str, dict[str, str | None]] = {}
        self.texts: dict[str, str] = {}
        self._open: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("an inline <script>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.found.append("the payload's <img>")
        self.found.extend(f"<{tag} {name}=…>" for name in names if name.startswith("on"))
        values = dict(attrs)
        keys = [f"#{values['id']}"] if values.get("id") else []
        keys += [f".{c}" for c in (values.get("class") or "").split()]
        for key in keys:
            self.tags.setdefault(key, tag)
            self.attrs.setdefault(key, values)
            self.texts.setdefault(key, "")
        if tag not in VOID:
            self._open.append((tag, keys))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for key in {key for _, keys in self._open for key in keys}:
            self.texts[key] += data


def scan(html: str) -> MarkupScan:
    """The parsed response, after checking that it builds no element or handler from the payload."""
    found = MarkupScan()
    found.feed(html)
    found.close()
    assert found.found == []
    assert "<script>alert" not in html and "<img src=x" not in html
    return found


def test_the_escaped_form_reads_back_as_the_payload() -> None:
    page = scan(f'<p id="t" title="{ESCAPED}">{ESCAPED}</p>')
    assert page.texts["#t"] == PAYLOAD
    assert page.attrs["#t"]["title"] == PAYLOAD
    assert unescape(ESCAPED_HEAD) == HEAD and ESCAPED.startswith(ESCAPED_HEAD)


# --- the step-through page's configuration: permalink and form ------------------------------------

# Chosen from a list: the page shows the choices, never what was sent.
SELECTS = {
    "cost": "choose quadratic or cross_entropy",
    "init": "choose standard or scaled",
    "scale": "choose layer or network",
}


def check_configuration(html: str, field: str) -> None:
    """The field is marked wrong with a message that names it; a typed value is shown back as text."""
    page = scan(html)
    message = page.texts[f"#e-{field}"]
    assert message.split(": ")[0].split(".")[-1] == field, message
    control = page.attrs[f"#f-{field}"]
    if field in SELECTS:
        assert MARK not in html
        assert message.endswith(SELECTS[field]), message
        return
    assert ESCAPED in html
    shown = page.texts[f"#f-{field}"] if page.tags[f"#f-{field}"] == "textarea" else control.get("value")
    assert shown == PAYLOAD


def test_every_configuration_field_is_tried() -> None:
    assert set(FIELDS) == set(default_form())
    assert set(SELECTS) < set(FIELDS)


@pytest.mark.parametrize("field", FIELDS)
def test_the_permalink_query(client: TestClient, field: str) -> None:
    r = client.get("/", params={**default_form(), field: PAYLOAD})
    assert r.status_code == 422
    check_configuration(r.text, field)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("htmx", [True, False])
def test_the_configuration_form(client: TestClient, field: str, htmx: bool) -> None:
    r = client.post("/runs", data={**default_form(), field: PAYLOAD}, headers=HTMX if htmx else {},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 422
    assert ("<html" in r.text) is not htmx  # the form's fragment for htmx, else the whole page
    check_configuration(r.text, field)


# --- the training form, its CSV and the example inspector ---------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "echoed"),
    [
        # two data rows, so the CSV is read cell by cell and the bad cell is quoted
        # (each message names its field as the page labels it)
        ({"dataset": "csv", "csv": f"a,b,label\n1,{PAYLOAD},0\n3,4,1\n"}, "CSV line 2, column 2", True),
        ({"dataset": PAYLOAD}, "Data set", False),
        ({"hidden": PAYLOAD}, "Hidden layers", True),
        ({"eta": PAYLOAD}, "η", True),
    ],
    ids=["csv-cell", "dataset", "hidden", "eta"],
)
def test_the_training_form_and_its_csv(client: TestClient, fields: dict[str, str], field: str, echoed: bool) -> None:
    r = client.post("/train/runs", data={"dataset": "xor", **fields}, headers=HTMX)
    assert r.status_code == 422
    message = scan(r.text).texts[".train-error"]
    assert message.startswith(f"{field}: "), message
    if echoed:
        assert ESCAPED_HEAD in r.text and HEAD in message
    else:
        assert MARK not in r.text


def test_csv_labels_are_shown_escaped_by_the_inspector(client: TestClient) -> None:
    csv = f"a,b,label\n1,2,{PAYLOAD}\n3,4,b\n5,6,{PAYLOAD}\n7,8,b\n"
    r = client.post("/train/runs", data={"dataset": "csv", "csv": csv}, headers=HTMX)
    assert r.status_code == 200
    scan(r.text)
    run_id = re.search(r"/train/runs/([\w-]+)/events", r.text)
    assert run_id is not None
    targets = 0
    for split, count in (("train", 3), ("test", 1)):  # the four rows: three to train on, one held out
        for example in range(1, count + 1):
            x = client.post(f"/train/runs/{run_id.group(1)}/inspect", data={"split": split, "example": str(example)},
                            headers=HTMX)  # fmt: skip
            assert x.status_code == 200
            text = scan(x.text).texts["#train-inspect-result"]
            targets += f"target {PAYLOAD}," in text
            if PAYLOAD in text:
                assert ESCAPED in x.text
    assert targets == 2  # the two rows labelled with the payload, each read back as the label typed


# --- the instruments panel ------------------------------------------------------------------------

PAGE_TABS = [i.name for i in INSTRUMENTS]
SETTINGS = [(i.name, key) for i in INSTRUMENTS for key in i.model.model_fields if key != "trace"]


@pytest.fixture
def run_id(client: TestClient) -> str:
    """A fresh run of the worked example, so that no other test's runs can have pushed it out."""
    r = client.post("/runs", data=default_form(), headers=HTMX)
    found = re.search(r'data-run-id="([^"]+)"', r.text)
    assert found is not None
    return found.group(1)


def instrument_error(client: TestClient, url: str, params: dict[str, str]) -> tuple[str, str]:
    """The instrument's 422 fragment for these settings: its HTML and the message a person reads."""
    r = client.get(url, params=params)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    return r.text, scan(r.text).texts[".instrument-error"]


@pytest.mark.parametrize("name", PAGE_TABS)
def test_an_unknown_instrument_setting_is_named_escaped(client: TestClient, run_id: str, name: str) -> None:
    html, message = instrument_error(client, f"/instruments/{run_id}/{name}", {PAYLOAD: "1"})
    assert message == f"{PAYLOAD}: Extra inputs are not permitted"
    assert ESCAPED in html


def test_the_speed_width_is_quoted_escaped(client: TestClient, run_id: str) -> None:
    html, message = instrument_error(client, f"/instruments/{run_id}/speed", {"width": PAYLOAD})
    assert message == f"width: a whole number of neurons from 1 to {get_settings().max_width}, got {PAYLOAD!r}"
    assert ESCAPED in html


@pytest.mark.parametrize(("name", "key"), SETTINGS, ids=[f"{n}-{k}" for n, k in SETTINGS])
def test_an_instrument_setting_names_itself_and_does_not_echo(
    client: TestClient, run_id: str, name: str, key: str
) -> None:
    html, message = instrument_error(client, f"/instruments/{run_id}/{name}", {key: PAYLOAD})
    assert MARK not in html
    if key in RUN_FIELDS and not (name == "minibatch" and key in ("inputs", "targets")):
        assert message == f"{key}: set by the run; change it in the configuration above"
    elif key == "f":
        assert message.startswith("f: ") and message.endswith("choose sigmoid, tanh, relu or linear"), message
    else:  # a number: the message says which field (and which entry) should have been one
        assert re.fullmatch(rf"{key}(\[\d+\])*: Input should be a valid (integer|number), .*", message), message


# --- unknown run ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/runs/{}"), ("GET", "/runs/{}/steps/1"), ("GET", "/runs/{}/trace.json"), ("POST", "/runs/{}/next")],
)
def test_an_unknown_run_id_gets_the_not_found_page(client: TestClient, method: str, path: str) -> None:
    r = client.request(method, path.format(PATH_PAYLOAD))
    assert r.status_code == 404
    assert MARK not in r.text
    assert "This run is unknown or has expired." in scan(r.text).texts["#not-found"]


@pytest.mark.parametrize("path", ["/instruments/{}", "/instruments/{}/demon"])
def test_an_unknown_run_id_gets_the_instruments_expiry_note(client: TestClient, path: str) -> None:
    r = client.get(path.format(PATH_PAYLOAD))
    assert r.status_code == 404
    assert MARK not in r.text
    assert scan(r.text).texts[".instrument-error"] == "This run is unknown or has expired: reload the page."


def test_an_unknown_instrument_and_a_malformed_training_id_are_refused_by_name(client: TestClient, run_id: str) -> None:
    for path, field in ((f"/instruments/{run_id}/{PATH_PAYLOAD}", "path.name"),
                        (f"/train/runs/{PATH_PAYLOAD}/network.json", "path.run_id")):  # fmt: skip
        r = client.get(path)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/json"
        assert r.json()["message"].startswith(f"{field}: ")
        assert MARK not in r.text
