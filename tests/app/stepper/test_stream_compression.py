"""The page's stream compressed as one stream, flushed per event, and each step rendered once per run."""

from __future__ import annotations

import threading
import zlib

import brotli  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.middleware import accepted_encoding, compressor
from backprop_lens.app.main import create_app
from backprop_lens.app.stepper.stage_cache import StageCache
from tests.app.stepper.test_stream import STEPS, new_run, parse

FORM = {"sizes": "4, 8, 8, 3", "x": "0.1, 0.2, 0.3, 0.4", "y": "0, 1, 0", "weights": "", "biases": ""}


def raw_stream(client: TestClient, url: str, accept: str) -> tuple[str | None, list[bytes]]:
    """(Content-Encoding, the chunks as they came off the wire, not decoded)."""
    with client.stream("GET", url, headers={"Accept-Encoding": accept}) as r:
        assert r.status_code == 200
        assert "Accept-Encoding" in r.headers["vary"]
        return r.headers.get("content-encoding"), list(r.iter_raw())


def test_br_gzip_and_identity_carry_the_same_events() -> None:
    client = TestClient(create_app())
    url = f"/runs/{new_run(client)}/stream?interval_ms=100"
    encoding, plain = raw_stream(client, url, "identity")
    assert encoding is None
    expected = parse(iter(b"".join(plain).decode().splitlines()))
    assert len(expected) == STEPS + 1
    for accept, name, make in [
        ("gzip, deflate, br, zstd", "br", brotli.Decompressor),
        ("gzip, deflate", "gzip", lambda: zlib.decompressobj(31)),
    ]:
        encoding, chunks = raw_stream(client, url, accept)
        assert encoding == name
        decoder = make()
        data = b"".join(chunks)
        text = (decoder.process(data) if name == "br" else decoder.decompress(data)).decode()
        assert parse(iter(text.splitlines())) == expected
        assert sum(map(len, chunks)) < sum(map(len, plain)) / 4


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_each_event_decodes_whole_as_soon_as_it_is_sent(encoding: str) -> None:
    compress, finish = compressor(encoding)
    decode = brotli.Decompressor().process if encoding == "br" else zlib.decompressobj(31).decompress
    events = [f"id: {k}\ndata: <p>step {k}</p>\n\n".encode() * 50 for k in range(5)]
    for event in events:
        assert decode(compress(event)) == event  # flushed: nothing is held back for the next event
    assert decode(finish()) == b""


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip, deflate", "gzip"),
        ("br;q=0, gzip;q=0.5", "gzip"),
        ("BR", "br"),
        ("identity", None),
        (None, None),
        ("", None),
    ],
)
def test_the_encoding_is_the_best_the_client_accepts(header: str | None, expected: str | None) -> None:
    assert accepted_encoding(header) == expected


@pytest.mark.slow  # seconds: a class of streams played through
def test_a_class_playing_one_run_costs_one_render_per_step() -> None:
    client = TestClient(create_app())
    r = client.post("/runs", data=FORM, follow_redirects=False)
    run_id = client.get(r.headers["location"]).text.split('data-run-id="')[1].split('"')[0]  # a new 4-8-8-3 run
    first = client.get(f"/runs/{run_id}/stream?interval_ms=100").text
    steps = first.count("id: ")
    cache: StageCache = client.app.state.stage_cache  # type: ignore[attr-defined]
    assert cache.renders == steps + (steps - 1)  # every step, and every patch from the step before
    for _ in range(3):
        assert client.get(f"/runs/{run_id}/stream?interval_ms=100").text == first
        assert client.get(f"/runs/{run_id}/steps/2", headers={"HX-Request": "true"}).status_code == 200
        assert client.get(f"/runs/{run_id}/stream?from=4&interval_ms=100").status_code == 200
    assert cache.renders == steps + (steps - 1)


def test_the_cache_is_bounded_by_characters_least_recently_used_out_first() -> None:
    cache = StageCache(max_chars=10)
    for k in range(3):
        text = str(k) * 4
        assert cache.get(("r", "", k), text.__str__) == text
    assert len(cache) == 2 and cache.renders == 3  # 12 characters do not fit in 10: step 0 went
    assert cache.get(("r", "", 2), lambda: "other") == "2222"
    assert cache.get(("r", "", 0), lambda: "0000") == "0000" and cache.renders == 4
    assert cache.get(("r", "", 9), lambda: "x" * 11) == "x" * 11 and len(cache) == 2  # too large to keep
    assert len(StageCache(max_chars=0).get(("r", "", 0), lambda: "abc")) == 3


def test_requests_arriving_while_a_step_renders_wait_for_that_render() -> None:
    cache = StageCache(max_chars=1000)
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(10)
        return "stage"

    results: list[str] = []

    def ask() -> None:
        results.append(cache.get(("r", "", 0), slow))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    threads[0].start()
    started.wait(10)
    for t in threads[1:]:
        t.start()
    release.set()
    for t in threads:
        t.join(10)
    assert results == ["stage"] * 8 and cache.renders == 1


def test_a_failed_render_is_not_kept_and_a_waiting_request_renders_again() -> None:
    cache = StageCache(max_chars=1000)

    def fail() -> str:
        raise ValueError("boom")

    with pytest.raises(ValueError):
        cache.get(("r", "", 0), fail)
    assert cache.get(("r", "", 0), lambda: "ok") == "ok" and cache.renders == 1
