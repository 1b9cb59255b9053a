"""Served under a sub-path (``uvicorn --root-path /backprop`` behind a proxy that strips the prefix), every URL
the app writes starts with that path: in the pages, the fragments htmx swaps in, the stream's steps, the
redirects and the trace's permalink. The URLs are read by parsing the HTML, and every one a browser would GET
is fetched: it answers.

The ASGI scope is the one uvicorn makes with ``--root-path``: ``root_path`` set, and the path with the prefix
put back in front of what the proxy forwarded (TestClient's ``root_path`` and the full URL). Starlette's routing
and static files take the prefix off again. ``tests/browser/test_subpath.py`` does the same through a real nginx.
"""

from __future__ import annotations

import html
import json
import re
import textwrap
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.main import create_app
from tests.app.stepper.test_routes import FORM_342
from tests.app.training.test_routes import FORM as TRAINING_FORM

ROOT = "/backprop"
DOCS = Path(__file__).resolve().parents[2] / "docs"
HX = {"HX-Request": "true"}
URL_ATTRIBUTES = {"href", "src", "action", "hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete", "hx-sse:connect"}
# The data-* attributes that hold a URL for a script: each page's must be among those found.
URL_DATA = {"data-stream-url", "data-step-url", "data-href", "data-stream", "data-openapi-url"}
FETCHED = {"href", "src", "hx-get"}  # what a browser GETs as it is (no form body, no stream)
STEP_FORM = FORM_342  # the step-through and training forms of their own route tests
TRAIN_FORM = {**TRAINING_FORM, "epochs": "2"}


class Urls(HTMLParser):
    """Every URL in a document as (tag, attribute, value): the URL attributes, and each data-* attribute that
    holds one (a name among URL_DATA or ending in -url or -href, or a value that is a path)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str, str]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            text = value or ""
            data_url = name.startswith("data-") and (
                name in URL_DATA or name.endswith(("-url", "-href")) or text.startswith("/")
            )
            if name in URL_ATTRIBUTES or data_url:
                self.found.append((tag, name, text))

    handle_startendtag = handle_starttag


def urls(html: str) -> list[tuple[str, str, str]]:
    return Urls(html).found


def assert_under_root(html: str, where: str, some: bool = True) -> list[tuple[str, str, str]]:
    """Every URL in ``html`` is under ROOT (or a fragment, the empty icon, an image a script fills in); ``some``:
    there is one."""
    found = urls(html)
    assert found or not some, f"{where}: no URL at all"
    for tag, name, value in found:
        local = value.startswith("#") or (tag == "link" and value == "data:,") or (tag == "image" and value == "")
        assert local or value.startswith(f"{ROOT}/"), f"{where}: <{tag} {name}={value!r}> is not under {ROOT}/"
    return found


def assert_answers(client: TestClient, found: list[tuple[str, str, str]], where: str) -> None:
    for tag, name, value in found:
        if name in FETCHED and value.startswith(f"{ROOT}/"):
            headers = HX if name == "hx-get" else {}
            status = client.get(value, headers=headers).status_code
            assert status == 200, f"{where}: <{tag} {name}={value!r}> answers {status}"


def data(found: list[tuple[str, str, str]], name: str) -> str:
    [value] = {v for _, n, v in found if n == name}
    return value


def stream_steps(client: TestClient, url: str) -> list[str]:
    """The HTML of every step event of a step stream: the first step whole, then what each patch writes
    (the HTML it inserts or puts in place, and the attributes it sets, as one element's)."""
    steps: list[str] = []
    lines: list[str] = []
    event = ""  # "done" carries JSON about the end; "stage-patch" a step's changes (app/stepper/view/patch.py)
    with client.stream("GET", url, params={"from": 0, "interval_ms": 100}) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data:"):
                lines.append(line[5:].removeprefix(" "))
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif not line:
                if lines and not event:
                    steps.append("\n".join(lines))
                elif lines and event == "stage-patch":
                    written = []
                    for kind, *args in json.loads("\n".join(lines))["ops"]:
                        if kind in "hoi":
                            written.append(args[-1])
                        elif kind == "a":
                            attrs = " ".join(f'{k}="{html.escape(v)}"' for k, v in args[2].items() if v is not None)
                            written.append(f"<set {attrs}>")
                    steps.append("".join(written))
                lines, event = [], ""
    return steps


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(), root_path=ROOT) as c:
        yield c


def test_the_step_through_page_its_fragments_and_its_stream(client: TestClient) -> None:
    page = client.get(f"{ROOT}/")
    assert page.status_code == 200
    found = assert_under_root(page.text, "/")
    assert {n for _, n, _ in found} >= {"data-stream-url", "data-step-url", "data-href", "href", "src", "hx-get"}
    assert_answers(client, found, "/")
    step_url = data(found, "data-step-url")
    assert step_url.endswith("/steps/")  # lens.js appends the step's number
    last = client.get(f"{step_url}7", headers=HX)
    assert last.status_code == 200
    assert_answers(client, assert_under_root(last.text, "step 8"), "step 8")  # with the next iteration's button
    assert_under_root(client.get(f"{step_url}7").text, "step 8 without htmx")
    steps = stream_steps(client, data(found, "data-stream-url"))
    assert len(steps) == 8
    for k, written in enumerate(steps):
        assert_under_root(written, f"the stream's step {k + 1}", some=k == 0)  # a patch may change no URL
    missing = client.get(f"{ROOT}/runs/nosuchrun00/steps/0")
    assert missing.status_code == 404
    assert_under_root(missing.text, "the 404 page")


def test_a_new_run_and_the_next_iteration(client: TestClient) -> None:
    region = client.post(f"{ROOT}/runs", data=STEP_FORM, headers=HX)
    assert region.status_code == 200
    found = assert_under_root(region.text, "the run's region")
    assert_answers(client, found, "the run's region")
    steps = re.search(r'id="run"[^>]*data-steps="(\d+)"', region.text)
    assert steps is not None
    last = client.get(f"{data(found, 'data-step-url')}{int(steps[1]) - 1}", headers=HX)
    found = assert_under_root(last.text, "the last step")
    [hx_next] = [v for _, n, v in found if n == "hx-post" and v.endswith("/next")]
    following = client.post(hx_next, headers=HX)
    assert following.status_code == 200
    assert_under_root(following.text, "the next iteration's region")
    error = client.post(f"{ROOT}/runs", data={**STEP_FORM, "eta": "x"}, headers=HX)
    assert error.status_code == 422
    assert_under_root(error.text, "the form with an error")


def test_the_instruments_panel_and_every_instrument(client: TestClient) -> None:
    run_id = re.search(r'id="run"[^>]*data-run-id="([^"]+)"', client.get(f"{ROOT}/").text)
    assert run_id is not None
    panel = client.get(f"{ROOT}/instruments/{run_id[1]}", headers=HX)
    assert panel.status_code == 200
    found = assert_under_root(panel.text, "the instruments panel")
    instruments = [v for _, n, v in found if n == "hx-get"]
    assert len(instruments) >= 5
    for url in instruments:  # each instrument's result, as its tab loads it
        result = client.get(url, headers=HX)
        assert result.status_code == 200, url
        for tag, name, value in urls(result.text):
            assert value.startswith(f"{ROOT}/") or not value.startswith("/"), f"{url}: <{tag} {name}={value!r}>"


def test_the_training_page_a_run_its_controls_and_the_step_through_link(client: TestClient) -> None:
    page = client.get(f"{ROOT}/train")
    assert page.status_code == 200
    assert_answers(client, assert_under_root(page.text, "/train"), "/train")
    created = client.post(f"{ROOT}/train/runs", data=TRAIN_FORM, headers=HX)
    assert created.status_code == 200
    found = assert_under_root(created.text, "the training's region")
    assert_answers(client, found, "the training's region")
    events = data(found, "data-stream")
    with client.stream("GET", events) as r:
        assert r.status_code == 200
        assert any(line == "event: done" for line in r.iter_lines())
    controls = [v for _, n, v in found if n == "hx-post" and "/controls/" in v]
    assert controls
    stopped = client.post(controls[-1], headers=HX)
    assert stopped.status_code == 200
    assert_under_root(stopped.text, "the controls")
    [inspect] = [v for _, n, v in found if n == "hx-post" and v.endswith("/inspect")]
    shown = client.post(inspect, data={"split": "train", "example": "1"}, headers=HX)
    assert shown.status_code == 200
    [link] = [v for _, n, v in assert_under_root(shown.text, "inspect") if n == "href" and "?" in v]
    assert urlsplit(link).path == f"{ROOT}/"
    assert client.get(link).status_code == 200  # the step-through of that example
    full = client.post(f"{ROOT}/train/runs", data=TRAIN_FORM)  # without htmx: the whole page with the run
    assert full.status_code == 200
    assert_under_root(full.text, "the training page with a run")


def test_the_api_documentation(client: TestClient) -> None:
    page = client.get(f"{ROOT}/docs")
    assert page.status_code == 200
    found = assert_under_root(page.text, "/docs")
    assert_answers(client, found, "/docs")
    schema = client.get(data(found, "data-openapi-url")).json()
    assert schema["servers"] == [{"url": ROOT}]  # "Try it out" sends its requests under the sub-path too


def test_redirects_and_the_trace_permalink_are_under_the_root(client: TestClient) -> None:
    created = client.post(f"{ROOT}/runs", data=STEP_FORM, follow_redirects=False)
    assert created.status_code == 303
    location = created.headers["location"]
    assert urlsplit(location).path == f"{ROOT}/" and urlsplit(location).query
    permalink = client.get(location)
    assert permalink.status_code == 200
    run_id = re.search(r'id="run"[^>]*data-run-id="([^"]+)"', permalink.text)
    assert run_id is not None
    following = client.post(f"{ROOT}/runs/{run_id[1]}/next", follow_redirects=False)
    assert following.status_code == 303
    assert re.fullmatch(rf"{ROOT}/runs/[A-Za-z0-9_-]+", following.headers["location"])
    assert client.get(following.headers["location"]).status_code == 200
    trace = client.get(f"{ROOT}/runs/{run_id[1]}/trace.json")
    assert json.loads(trace.text)["permalink"] == location


def test_at_the_servers_root_nothing_changes() -> None:
    """Without a root path, the same URLs start with a single slash (no ``//host``)."""
    with TestClient(create_app()) as c:
        for found in (urls(c.get("/").text), urls(c.get("/train").text)):
            paths = [v for _, _, v in found if v.startswith("/")]
            assert paths and all(not v.startswith(("//", ROOT)) for v in paths)
        assert c.post("/runs", data=STEP_FORM, follow_redirects=False).headers["location"].startswith("/?")


def test_the_deployment_guide_shows_the_nginx_configuration_the_browser_test_runs() -> None:
    """docs/deploy.md quotes docs/nginx/backprop.conf as it is: the documented configuration is the tested one."""
    conf = (DOCS / "nginx/backprop.conf").read_text(encoding="utf-8")
    guide = (DOCS / "deploy.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```nginx\n(.*?)^ *```", guide, flags=re.DOTALL | re.MULTILINE)
    assert conf in [textwrap.dedent(b) for b in blocks]  # the guide may also sketch an upstream of several hosts
    for line in ("proxy_pass http://backprop_lens/;", "proxy_buffering off;", "proxy_read_timeout 60s;"):
        assert line in conf
