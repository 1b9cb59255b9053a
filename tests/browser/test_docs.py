"""The API documentation in Chromium: Swagger UI from static/vendor/ lists every operation of /openapi.json
and runs "Try it out" on the worked example, under the app's Content-Security-Policy (any violation is a
console error, which fails the test) and without a single request to another origin.

Screenshots: docs-try-it-out.png (1400×900, the worked example's response) and docs.png (1024×768).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import OpenPage, shot_path

pytestmark = pytest.mark.browser

# Matt Mazur's hand-worked example, as the issue states it; its cost is C = 0.298371108760.
WORKED_BODY: dict[str, Any] = {
    "network": {
        "sizes": [2, 2, 2],
        "activation": "sigmoid",
        "weights": [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
        "biases": [[0.35, 0.35], [0.60, 0.60]],
    },
    "cost_function": "quadratic",
    "inputs": [[0.05, 0.10]],
    "targets": [[0.01, 0.99]],
}


def record_requests(page: Page) -> list[str]:
    """The URL of every request the page makes, from now on."""
    urls: list[str] = []

    def on_request(request: Request) -> None:
        urls.append(request.url)

    page.on("request", on_request)
    return urls


def schema_operations(page: Page) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation in the served OpenAPI document."""
    response = page.request.get("/openapi.json")
    assert response.ok
    paths: dict[str, dict[str, Any]] = response.json()["paths"]
    return {(method.upper(), path) for path, operations in paths.items() for method in operations}


def listed_operations(page: Page) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation Swagger UI lists (data-path is the path without its soft breaks)."""
    pairs: list[list[str]] = page.eval_on_selector_all(
        ".opblock",
        """blocks => blocks.map(b => [
            b.querySelector('.opblock-summary-method').textContent.trim(),
            b.querySelector('.opblock-summary-path').dataset.path,
        ])""",
    )
    return {(method, path) for method, path in pairs}


def open_docs(page: Page, operations: int) -> None:
    page.goto("/docs")
    expect(page.locator(".opblock")).to_have_count(operations)


def test_docs_list_every_operation_and_try_the_worked_example(open_page: OpenPage, live_server: str) -> None:
    page = open_page(1400, 900)
    requests = record_requests(page)
    expected = schema_operations(page)
    assert ("POST", "/api/gradients") in expected

    open_docs(page, len(expected))
    assert listed_operations(page) == expected
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("backprop-lens")

    path = page.locator('.opblock-summary-path[data-path="/api/gradients"]')
    gradients = page.locator(".opblock-post").filter(has=path)
    gradients.locator(".opblock-summary").click()
    gradients.get_by_role("button", name="Try it out").click()
    body = gradients.locator("textarea.body-param__text")
    body.fill(json.dumps(WORKED_BODY, indent=2))
    gradients.get_by_role("button", name="Execute").click()

    live = gradients.locator(".live-responses-table")
    expect(live.locator(".response .response-col_status").first).to_have_text("200")
    shown = live.locator(".response-col_description .highlight-code").first
    expect(shown).to_contain_text("0.2983711")
    shown.scroll_into_view_if_needed()
    page.screenshot(path=str(shot_path("docs-try-it-out.png")))

    # The page, its scripts and styles, the schema and the executed request: all to the live server.
    assert any(url.endswith("/openapi.json") for url in requests)
    assert any(url.endswith("/api/gradients") for url in requests)
    assert [url for url in requests if not url.startswith(f"{live_server}/")] == []


def test_docs_at_1024_by_768(open_page: OpenPage, live_server: str) -> None:
    page = open_page(1024, 768)
    requests = record_requests(page)
    open_docs(page, len(schema_operations(page)))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
    expect(page.locator("header.top a[href='/']").first).to_be_visible()  # base.html's header, as on every page
    page.screenshot(path=str(shot_path("docs.png")))
    assert [url for url in requests if not url.startswith(f"{live_server}/")] == []
