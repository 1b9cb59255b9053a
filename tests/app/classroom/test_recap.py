"""A recap that lasts: every session keeps its outline (each step the lecturer showed, as a link that carries
the configuration, iteration and step); after *Stop sharing*, /join/{code} shows it for ``session_ttl_seconds``
instead of a 404, and a student may download it. In process here; through Redis and a restart in
test_redis.py."""

from __future__ import annotations

import asyncio
import re
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.classroom import store
from backprop_lens.app.classroom.store import MemorySessions
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from tests.app.classroom.test_routes import drive, end, new_run, share

LINK = re.compile(r'<li><a href="([^"]+)">step (\d+) · ([^<]+)</a>')


def recap_links(html: str) -> list[tuple[str, int, str]]:
    return [(unescape(href), int(step), unescape(title)) for href, step, title in LINK.findall(html)]


def lecture(client: TestClient) -> tuple[dict[str, Any], str, str]:
    """A session that showed steps 1, 3 and 4 of one run (step 3 on two lines) and step 1 of another; ended."""
    first, second = new_run(client), new_run(client, eta="0.5")
    s = share(client, first, 0)
    for step, line in [(2, 0), (2, 1), (2, 2), (3, 0)]:
        assert drive(client, s, first, step, line=line).status_code == 200
    assert drive(client, s, second, 0).status_code == 200
    end(client, s)
    return s, first, second


def test_after_stop_sharing_the_join_link_shows_what_the_session_showed() -> None:
    with TestClient(create_app(Settings())) as c:
        s, _, _ = lecture(c)
        page = c.get(f"/join/{s['code']}")
        assert page.status_code == 200 and f"What session {s['code'][:3]} {s['code'][3:]} showed" in page.text
        links = recap_links(page.text)
        # each step once, in the order shown (a new line of a step is not a new entry), numbered as the page does
        assert [step for _, step, _ in links] == [1, 3, 4, 1]
        for (href, step, title), eta in zip(links, ["0.25", "0.25", "0.25", "0.5"], strict=True):
            opened = c.get(href)  # the permalink: the configuration, the iteration and the step, titled as shown
            assert opened.status_code == 200 and f'data-step="{step - 1}"' in opened.text
            assert f'name="eta" value="{eta}"' in opened.text and title in unescape(opened.text)
        assert 'id="recap-download"' in page.text


def test_the_recap_downloads_as_one_page_with_absolute_links() -> None:
    with TestClient(create_app(Settings())) as c:
        s, _, _ = lecture(c)
        got = c.get(f"/join/{s['code']}/recap.html")
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/html")
        assert got.headers["content-disposition"] == f'attachment; filename="backprop-lens-recap-{s["code"]}.html"'
        links = recap_links(got.text)
        assert len(links) == 4 and all(href.startswith("http://testserver/?") for href, _, _ in links)
        assert "<script" not in got.text and "stylesheet" not in got.text and "recap-download" not in got.text
        assert c.get("/join/ABCDEF/recap.html").status_code == 404


def test_a_recap_lasts_the_session_time_to_live_and_keeps_its_code() -> None:
    now = [1000.0]
    sessions = MemorySessions(4, 600, clock=lambda: now[0])

    async def run() -> None:
        state, token = await sessions.create("run", 0, "", entry='{"query": "", "step": 0}')
        await sessions.end(state.code, token)
        recap = await sessions.recap(state.code)
        assert recap is not None and recap.entries == ['{"query": "", "step": 0}']
        codes = iter([state.code, "ZZZZZZ"])
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(store, "new_code", lambda: next(codes))
            again, _ = await sessions.create("run", 0, "")
        assert again.code == "ZZZZZZ"  # the ended session's code stays its own while its recap lasts
        now[0] += 599.0
        assert await sessions.recap(state.code) is not None
        now[0] += 1.0
        assert await sessions.recap(state.code) is None

    asyncio.run(run())
