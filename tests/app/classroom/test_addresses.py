"""The join URL when the lecturer opened the page at this computer's own address (127.0.0.1, localhost).

Against real servers (``backprop-lens serve``): on the default ``--host 127.0.0.1`` the share panel says in
words that students cannot open the address; on ``--host 0.0.0.0`` the join URL and its QR code use this
machine's address on the network, which answers. The machine's addresses come from ``hostname -I``.
"""

from __future__ import annotations

import html as htmllib
import re
import subprocess
import urllib.request
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.classroom.addresses import is_loopback
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app
from tests.app.classroom import qr_reader
from tests.processes import free_port, serving

WARNING = (
    "This address is this computer's own: students cannot open it. Start the server with --host 0.0.0.0 and open "
    "the page at this machine's address on the network, e.g. "
)


def machine_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback, as Debian's ``hostname -I`` lists them."""
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True).stdout.split()
    return [a for a in out if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", a) and not a.startswith(("127.", "169.254."))]


def example_id(client: httpx.Client | TestClient) -> str:
    m = re.search(r'data-run-id="([^"]+)"', client.get("/").text)
    assert m
    return m.group(1)


def share_panel(client: httpx.Client | TestClient) -> str:
    r = client.post("/sessions", data={"run_id": example_id(client), "step": "0"}, headers={"HX-Request": "true"})
    assert r.status_code == 201, r.text
    return r.text


def join_href(panel: str) -> str:
    m = re.search(r'id="join-url" href="([^"]+)"', panel)
    assert m
    return m.group(1)


def qr_text(panel: str) -> str:
    svg = re.search(r'<svg viewBox="0 0 \d+ \d+" class="qr-code">.*?</svg>', panel, flags=re.S)
    assert svg
    return qr_reader.read(svg.group(0))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("localhost", True), ("LOCALHOST.", True), ("app.localhost", True),
     ("[::1]", True), ("::1", True), ("192.168.1.20", False), ("10.0.0.1", False), ("lens.example.org", False),
     ("localhost.example.org", False), ("testserver", False), ("[fd00::2]", False), ("", False)],
)  # fmt: skip
def test_loopback_names(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.fixture(scope="module")
def at_localhost() -> Iterator[TestClient]:
    with TestClient(create_app(Settings()), base_url=f"http://localhost:{free_port()}") as c:
        yield c


def test_a_page_opened_at_localhost_with_nothing_on_the_network_says_students_cannot_open_it(
    at_localhost: TestClient,
) -> None:
    panel = share_panel(at_localhost)
    url = join_href(panel)
    assert url.startswith("http://localhost:")  # nothing answers elsewhere: the URL stays, the panel warns
    assert qr_text(panel) == url
    m = re.search(r'<p class="share-warning" id="share-warning" role="alert">([^<]+)</p>', panel)
    assert m
    text = htmllib.unescape(m.group(1))
    assert text.startswith(WARNING)
    example = text[len(WARNING) :]
    port = url.split(":")[2].split("/")[0]
    addresses = machine_addresses()
    assert example in ([f"http://{a}:{port}/" for a in addresses] or [f"http://192.168.…:{port}/"])


@pytest.mark.slow
def test_the_default_host_warns_and_all_interfaces_give_the_network_address() -> None:
    addresses = machine_addresses()
    with serving() as (_, url, _log), httpx.Client(base_url=url) as client:  # --host 127.0.0.1
        panel = share_panel(client)
        assert join_href(panel).startswith(f"{url}/join/")
        assert "share-warning" in panel and "share-note" not in panel
        r = client.post("/sessions", data={"run_id": example_id(client), "step": "0"})
        assert r.json()["join_warning"].startswith(WARNING)
    if not addresses:
        pytest.skip("this machine has no address on a network")
    with serving("--host", "0.0.0.0") as (_, url, _log), httpx.Client(base_url=url) as client:
        port = url.rsplit(":", 1)[1]
        panel = share_panel(client)
        joined = join_href(panel)
        m = re.fullmatch(rf"http://([\d.]+):{port}/join/([A-Z2-9]{{6}})", joined)
        assert m and m.group(1) in addresses, joined
        assert qr_text(panel) == joined
        assert "share-warning" not in panel
        note = "You opened this page at 127.0.0.1, this computer&#39;s own address; the join URL uses its address"
        assert f"{note} on the network, {m.group(1)}." in panel
        lead = re.search(r'id="lead-link" href="([^"]+)"', panel)
        assert lead and lead.group(1) == f"{url}/lead/{m.group(2)}"  # the lecturer's own address
        with urllib.request.urlopen(joined, timeout=10) as answer:  # students reach it: the student's page
            assert answer.status == 200 and f"follow={m.group(2)}" in answer.url
        r = client.post("/sessions", data={"run_id": example_id(client), "step": "0"})
        assert r.json()["join_warning"] is None and r.json()["join_url"].startswith(f"http://{m.group(1)}:{port}/")
