"""``/docs``: an HTML page that loads only this server's files (no inline script, no other origin); ``/redoc``
and FastAPI's CDN pages are gone; NOTICE names the Swagger UI version actually vendored."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from fastapi.testclient import TestClient

from backprop_lens.app.core.middleware import CSP
from tests.default_app import app

ROOT = Path(__file__).resolve().parents[3]


class Assets(HTMLParser):
    """What a page loads and links to, the text inside its script tags and style, its data-openapi-url."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.inline: list[str] = []
        self.openapi_urls: list[str] = []
        self.urls: list[str] = []  # every src and href
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.urls += [value or "" for name, value in attrs if name in ("src", "href")]
        if tag == "script":
            self._in_script = True
            self.scripts.append(a.get("src") or "")
        if tag == "link" and a.get("rel") == "stylesheet":
            self.styles.append(a.get("href") or "")
        if tag == "style":
            self.inline.append("<style>")
        if "style" in a:
            self.inline.append(f"style attribute on <{tag}>")
        if "data-openapi-url" in a:
            self.openapi_urls.append(a["data-openapi-url"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def parse(html: str) -> Assets:
    parser = Assets()
    parser.feed(html)
    return parser


def test_docs_loads_only_static_files_of_this_server(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CSP  # the app's policy, not a relaxed one
    page = parse(r.text)
    assert page.inline == []
    # base.html's scripts (every page has them), then Swagger UI and what starts it
    assert page.scripts == [
        "/static/vendor/htmx.min.js",
        "/static/vendor/hx-sse.min.js",
        "/static/js/common.js",
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/js/docs.js",
    ]
    assert "/static/vendor/swagger-ui/swagger-ui.css" in page.styles
    for url in page.scripts + page.styles:
        assert url.startswith("/static/"), url
        assert client.get(url).status_code == 200, url
    assert re.search(r"https?://", r.text) is None
    for url in page.urls:  # links included: paths on this server (or the empty data: favicon, the skip link to
        # #main), none to //host
        assert url in ("data:,", "#main") or (url.startswith("/") and not url.startswith("//")), url


def test_docs_takes_the_schema_url_from_the_app(client: TestClient) -> None:
    [url] = parse(client.get("/docs").text).openapi_urls
    assert url == app.openapi_url == "/openapi.json"
    assert client.get(url).json()["info"]["title"] == "backprop-lens"


def test_docs_follow_a_sub_path_deployment() -> None:
    with TestClient(app, root_path="/lens") as c:
        assert parse(c.get("/docs").text).openapi_urls == ["/lens/openapi.json"]


def test_fastapi_own_doc_pages_are_gone(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(path.startswith(("/docs", "/redoc")) for path in paths)


def test_notice_names_the_vendored_swagger_ui_version_and_its_licence_is_shipped() -> None:
    bundle = (ROOT / "static/vendor/swagger-ui/swagger-ui-bundle.js").read_text(encoding="utf-8")
    match = re.search(r'PACKAGE_VERSION:"(\d+\.\d+\.\d+)"', bundle)
    assert match is not None
    notice = (ROOT / "NOTICE").read_text(encoding="utf-8")
    assert f"Swagger UI {match[1]}" in notice
    for name in ("LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"):
        assert (ROOT / "static/vendor/swagger-ui" / name).is_file(), name
