"""Replies of at least ``compress_min_bytes`` go out as br or gzip when the client accepts it, and decode to the
bytes the identity reply carries; small replies, clients that accept neither, and event streams go as they are
(the page's own compressed stream is checked not to be compressed twice in tests/app/stepper/
test_stream_compression.py, which runs on the same app)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable

import brotli  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.middleware import accepted_encoding
from backprop_lens.app.core.schemas import WORKED_EXAMPLE
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app

MNIST = {  # a 784-30-10 network from its seed, one example: a reply of about half a megabyte
    "network": {"sizes": [784, 30, 10], "seed": 3},
    "inputs": [[(k % 17) / 16 for k in range(784)]],
    "targets": [[1.0 if j == 7 else 0.0 for j in range(10)]],
}
GUNZIP: Callable[[bytes], bytes] = lambda b: zlib.decompress(b, 31)  # noqa: E731


def raw(client: TestClient, body: object, accept: str) -> tuple[dict[str, str], bytes]:
    """The reply's headers and its body as it came off the wire (not decoded)."""
    with client.stream("POST", "/api/gradients", json=body, headers={"Accept-Encoding": accept}) as r:
        assert r.status_code == 200
        return dict(r.headers), b"".join(r.iter_raw())


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


@pytest.mark.parametrize(
    ("accept", "encoding", "decode"),
    [
        ("gzip, deflate, br", "br", brotli.decompress),
        ("gzip", "gzip", GUNZIP),
        ("br;q=1, gzip;q=0.5", "br", brotli.decompress),
    ],
)
def test_a_large_reply_is_compressed_and_decodes_to_the_identity_reply(
    client: TestClient, accept: str, encoding: str, decode: Callable[[bytes], bytes]
) -> None:
    headers, plain = raw(client, MNIST, "identity")
    assert "content-encoding" not in headers
    assert int(headers["content-length"]) == len(plain) > 400_000
    reply = json.loads(plain)
    assert len(reply["nabla_w"][0]) == 30 and len(reply["nabla_w"][0][0]) == 784
    headers, packed = raw(client, MNIST, accept)
    assert headers["content-encoding"] == encoding
    assert "Accept-Encoding" in headers["vary"]
    assert int(headers["content-length"]) == len(packed) < len(plain) / 2
    assert decode(packed) == plain


def test_without_accept_encoding_or_when_refused_the_reply_is_identity(client: TestClient) -> None:
    for accept in ("", "identity", "br;q=0, gzip;q=0", "zstd"):
        headers, body = raw(client, MNIST, accept)
        assert "content-encoding" not in headers, accept
        assert json.loads(body)["cost"] > 0


def test_a_reply_below_the_threshold_is_not_compressed() -> None:
    small = TestClient(create_app())
    headers, body = raw(small, WORKED_EXAMPLE, "br, gzip")
    assert len(body) < Settings().compress_min_bytes and "content-encoding" not in headers
    everything = TestClient(create_app(Settings(compress_min_bytes=0)))
    headers, packed = raw(everything, WORKED_EXAMPLE, "br, gzip")
    assert headers["content-encoding"] == "br" and brotli.decompress(packed) == body


def test_an_event_stream_passes_through_uncompressed(client: TestClient) -> None:
    with client.stream("POST", "/api/trace/stream", json=MNIST, headers={"Accept-Encoding": "br, gzip"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in r.headers
        text = b"".join(r.iter_raw()).decode()
    assert text.count("event: step") > 5 and text.rstrip().splitlines()[-2] == "event: done"


def test_the_choice_of_encoding() -> None:
    assert accepted_encoding("gzip, br") == "br"
    assert accepted_encoding("gzip") == "gzip"
    assert accepted_encoding("br;q=0, gzip") == "gzip"
    assert accepted_encoding("deflate") is None
