"""The page under its Content-Security-Policy: a script smuggled into a swapped fragment does not run,
and htmx sends nothing to another origin."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import OpenPage

pytestmark = pytest.mark.browser


def test_a_script_in_a_swapped_fragment_does_not_run(open_page: OpenPage, problems: list[str]) -> None:
    page: Page = open_page(1280, 800)
    page.goto("/")
    expect(page.locator("#run")).to_have_attribute("data-step", "0")

    def poisoned(route: Route) -> None:
        response = route.fetch()
        body = response.text().replace(
            "</", '<script>window.pwned = 1</script><img src="data:," onerror="window.pwned = 2"></', 1
        )
        route.fulfill(response=response, body=body)

    page.route(re.compile(r".*/runs/[^/]+/steps/\d+$"), poisoned)
    # the condition to wait for is the browser's own report of the blocked script, not a pause
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.click("#mark-1")
    expect(page.locator("#run")).to_have_attribute("data-step", "1")
    assert page.evaluate("window.pwned === undefined")
    blocked = [p for p in problems if "Content Security Policy" in p]
    assert blocked, "the browser should report the blocked inline script"
    problems[:] = [p for p in problems if p not in blocked]


def test_htmx_is_configured_for_this_origin_and_no_inline_style(open_page: OpenPage) -> None:
    page = open_page(1280, 800)
    page.goto("/")
    config = page.evaluate("JSON.parse(document.querySelector('meta[name=htmx-config]').content)")
    assert config["mode"] == "same-origin"
    assert config["includeIndicatorCSS"] is False
    assert page.evaluate("document.adoptedStyleSheets.length") == 0
    assert page.evaluate("document.querySelectorAll('[style]').length") == 0
