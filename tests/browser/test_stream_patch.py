"""The played stream (its first step whole, then patches) shows exactly what a full render of the step shows.

At every step of the worked example, of a 4-8-8-3 network and of eight layers of 16, the ``#stage``
that the first event was morphed into and every later patch was applied to is compared, element by
element (tag, every attribute, its own texts), with the step's fragment from ``/runs/{id}/steps/{k}``
parsed in the same page. One stream was opened (no patch had to be given up for a whole step) and
every step after the first came as a patch.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage
from tests.browser.test_step_page import set_speed

pytestmark = pytest.mark.browser

NETWORK_4883 = {
    "sizes": "4, 8, 8, 3", "activation": "sigmoid", "cost": "quadratic", "init": "standard",
    "x": "0.1, 0.2, 0.3, 0.4", "y": "0, 1, 0", "eta": "0.5", "seed": "3", "weights": "", "biases": "",
}  # fmt: skip
NETWORK_8x16 = {
    **NETWORK_4883, "sizes": ", ".join(["16"] * 8), "x": ", ".join(["0.5"] * 16), "y": ", ".join(["0"] * 16),
}  # fmt: skip

# Every element under a root as "tag [sorted attributes] | its own text nodes": what the eye and the scripts read.
NORMALISE = """
(root) => Array.from(root.querySelectorAll('*'), (el) => {
  const attrs = Array.from(el.attributes, (a) => `${a.name}=${a.value}`)
    .filter((a) => !a.startsWith('data-htmx-')).sort().join(' ');  // htmx marks the elements it processed
  const texts = Array.from(el.childNodes).filter((n) => n.nodeType === 3).map((n) => n.data).join('');
  return `${el.tagName} [${attrs}] | ${texts}`;
})
"""


@pytest.mark.parametrize(
    "query",
    ["", urlencode(NETWORK_4883), urlencode(NETWORK_8x16)],
    ids=["worked example", "4-8-8-3", "8 layers of 16"],
)
def test_every_streamed_step_equals_the_full_render_of_that_step(open_page: OpenPage, query: str) -> None:
    page: Page = open_page()
    encodings: list[str | None] = []
    page.on("response", lambda r: encodings.append(r.headers.get("content-encoding")) if "/stream" in r.url else None)
    page.goto(f"/?{query}" if query else "/")
    steps = int(page.get_attribute("#run", "data-steps") or 0)
    run_id = page.get_attribute("#run", "data-run-id")
    assert steps > 1 and run_id
    page.evaluate(
        f"""() => {{
          const normalise = {NORMALISE};
          window.shown = {{}};
          window.patches = 0;
          document.addEventListener('stage-patch', () => {{ window.patches += 1; }});
          document.addEventListener('lens:step', (e) => {{
            window.shown[e.detail.step] = normalise(document.getElementById('stage'));
          }});
        }}"""
    )
    set_speed(page, 100)
    page.click("#btn-play")
    page.wait_for_function(f"() => Object.keys(window.shown).length >= {steps - 1}", timeout=60_000)
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "false")
    assert encodings == ["br"]  # one stream, compressed: Chromium accepts br
    assert page.evaluate("window.patches") == steps - 2  # step 1 came whole, each later one as a patch
    for k in range(1, steps):
        full = page.evaluate(
            f"""async () => {{
              const answer = await fetch('/runs/{run_id}/steps/{k}', {{headers: {{'HX-Request': 'true'}}}});
              const box = document.createElement('div');
              box.innerHTML = await answer.text();
              return ({NORMALISE})(box);
            }}"""
        )
        streamed = page.evaluate(f"window.shown[{k}]")
        assert len(streamed) == len(full) > 100, f"step {k}"
        assert streamed == full, f"step {k}: the streamed stage differs from the full render"


def test_a_step_clicked_while_playing_makes_the_next_patch_reopen_the_stream_there(open_page: OpenPage) -> None:
    """A patch made from step k arriving on a page that shows another step is not applied: the stream reopens
    at the patch's step, which comes whole, and the play ends on the last step exactly as rendered."""
    page: Page = open_page()
    streams: list[str] = []
    page.on("response", lambda r: streams.append(r.url) if "/stream" in r.url else None)
    page.goto(f"/?{urlencode(NETWORK_4883)}")
    steps = int(page.get_attribute("#run", "data-steps") or 0)
    run_id = page.get_attribute("#run", "data-run-id")
    page.evaluate(
        """() => {
          window.patches = [];
          document.addEventListener('stage-patch', (e) => window.patches.push(JSON.parse(e.detail.data).from), true);
        }"""
    )
    set_speed(page, 500)
    page.click("#btn-play")
    page.wait_for_function(
        "() => window.patches.length >= 1"
    )  # patches are being applied: the page is at step 2 or later
    page.click("#mark-0")  # the scrubber fetches step 1 into #stage while the stream plays on
    page.wait_for_function("() => document.getElementById('step-meta').dataset.step === '0'")
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "false", timeout=30_000)
    starts = [int(parse_qs(urlparse(url).query)["from"][0]) for url in streams]
    assert len(starts) == 2 and starts[0] == 1 and starts[1] >= 3  # reopened at the step of the refused patch
    expect(page.locator("#step-meta")).to_have_attribute("data-step", str(steps - 1))
    shown = page.evaluate(f"({NORMALISE})(document.getElementById('stage'))")
    full = page.evaluate(
        f"""async () => {{
          const answer = await fetch('/runs/{run_id}/steps/{steps - 1}', {{headers: {{'HX-Request': 'true'}}}});
          const box = document.createElement('div');
          box.innerHTML = await answer.text();
          return ({NORMALISE})(box);
        }}"""
    )
    assert shown == full
