"""Form bodies of the pages: the content type and the number of fields are checked for every form route."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.forms import MAX_FORM_FIELDS

FORM_ROUTES = ["/runs", "/train/runs"]


@pytest.mark.parametrize("path", FORM_ROUTES)
def test_too_many_fields_is_a_422_not_a_500(client: TestClient, path: str) -> None:
    body = "&".join(f"f{i}=1" for i in range(MAX_FORM_FIELDS + 1))
    r = client.post(path, content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422
    assert r.json()["message"] == f"body: more than {MAX_FORM_FIELDS} form fields"


@pytest.mark.parametrize("path", FORM_ROUTES)
@pytest.mark.parametrize("ctype", ["application/json", "multipart/form-data; boundary=x", None])
def test_a_body_that_is_not_a_form_is_415(client: TestClient, path: str, ctype: str | None) -> None:
    headers = {"content-type": ctype} if ctype else {}
    r = client.post(path, content=b'{"sizes": "2,2"}', headers=headers)
    assert r.status_code == 415
    assert r.json()["message"].startswith("body: expected a form (application/x-www-form-urlencoded)")


def test_an_instrument_setting_takes_the_pages_minus_sign(client: TestClient) -> None:
    """A scalar setting (the speed tab's ε) typed with U+2212 reaches the model as a number, and is then judged."""
    page = client.get("/")
    run_id = re.search(r'data-run-id="([^"]+)"', page.text)
    assert run_id is not None
    r = client.get(f"/instruments/{run_id.group(1)}/speed", params={"epsilon": "\u22121e-6"})
    assert r.status_code == 422 and "epsilon: Input should be greater than or equal to" in r.text
    r = client.get(f"/instruments/{run_id.group(1)}/saturation", params={"sigma_prime_threshold": "\u22120.5"})
    assert r.status_code == 422 and "sigma_prime_threshold: Input should be greater than 0" in r.text
