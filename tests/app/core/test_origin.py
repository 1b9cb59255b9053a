"""Cross-site requests that would change state are refused in words; same-site pages and API clients pass."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.settings import Settings
from backprop_lens.app.main import create_app

WORKED = {
    "network": {"sizes": [2, 2, 2], "seed": 0},
    "inputs": [[0.05, 0.1]],
    "targets": [[0.01, 0.99]],
}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(
        create_app(Settings(trusted_origins=("https://course.example.edu",))), base_url="http://lens.test"
    )


def test_an_api_client_without_origin_passes(client: TestClient) -> None:
    assert client.post("/api/gradients", json=WORKED).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://lens.test"},
        {"Origin": "https://lens.test"},  # TLS ended at the proxy: the scheme is not compared
        {"Referer": "http://lens.test/runs/abc?step=3"},
        {"Origin": "https://course.example.edu"},  # trusted by the settings
    ],
)
def test_this_sites_pages_and_trusted_origins_pass(client: TestClient, headers: dict[str, str]) -> None:
    assert client.post("/api/gradients", json=WORKED, headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"Origin": "https://evil.example"}, "origin: a request from another site (Origin 'https://evil.example')"),
        ({"Origin": "null"}, "Origin 'null'"),
        ({"Origin": "http://lens.test.evil.example"}, "lens.test.evil.example"),
        ({"Origin": "http://lens.test:8080"}, "lens.test:8080"),  # another port is another origin
        ({"Referer": "https://evil.example/page"}, "referer: a request from another site (Referer"),
        ({"Origin": "https://evil.example", "Referer": "http://lens.test/"}, "Origin 'https://evil.example'"),
    ],
)
def test_another_sites_page_gets_a_403_that_names_it(client: TestClient, headers: dict[str, str], named: str) -> None:
    for method, url in (("POST", "/api/gradients"), ("POST", "/sessions"), ("POST", "/train/runs")):
        r = client.request(method, url, json=WORKED, headers=headers)
        assert r.status_code == 403, (url, r.text)
        assert named in r.json()["message"] and "lens.test" in r.json()["message"]
        assert r.headers["content-security-policy"]  # the app's own headers on the refusal too


def test_reading_is_never_refused(client: TestClient) -> None:
    assert client.get("/api/health", headers={"Origin": "https://evil.example"}).status_code == 200
    assert client.get("/", headers={"Referer": "https://evil.example/"}).status_code == 200


def test_the_trusted_origins_come_from_the_environment_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKPROP_LENS_TRUSTED_ORIGINS", "https://a.example, https://b.example:8443")
    assert Settings().trusted_origins == ("https://a.example", "https://b.example:8443")
