"""What a user installs: the wheel, built by pip, installed (not editable) into a fresh venv, served from elsewhere.

The wheel must add one top-level import name (``backprop_lens``) and carry the pages' static files and templates
inside it; ``backprop-lens serve``, started from an empty directory with no variables of ours, must answer the
page, the API docs, a static file and a step stream from the installed package alone. The venv gets the runtime
dependencies from the package index (pip's cache makes that quick after the suite's own install).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, stop_group, tail

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (found,) = out.glob("backprop_lens-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system site-packages) with the wheel installed; yields its bin/ folder."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    done = subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         str(wheel)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return env_dir / "bin"


def test_the_wheel_adds_one_import_name_with_the_pages_files_inside(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"backprop_lens", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    repo = {
        f"backprop_lens/{p}"
        for p in subprocess.run(
            ["git", "ls-files", "static", "templates"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    }
    assert repo and repo <= set(names), sorted(repo - set(names))[:5]
    assert "backprop_lens/engine/data/digits.csv.gz" in names
    assert "backprop_lens/app/main.py" in names and "backprop_lens/__init__.py" in names
    top_level = [n for n in names if n.endswith("top_level.txt")]
    assert all(zipfile.ZipFile(wheel).read(n).decode().split() == ["backprop_lens"] for n in top_level)


def test_importing_the_installed_package_starts_no_web_app(installed: Path, tmp_path: Path) -> None:
    script = (
        "import json, sys, backprop_lens\n"
        "from backprop_lens import Network, backprop\n"
        "g = backprop(Network([2, 2, 2], seed=0), [[0.05, 0.1]], [[0.01, 0.99]])\n"
        "heavy = [m for m in ('fastapi', 'starlette', 'uvicorn', 'jinja2', 'pydantic_settings') if m in sys.modules]\n"
        "print(json.dumps([backprop_lens.__file__, heavy, list(g.nabla_b[0].shape)]))\n"
    )
    done = subprocess.run(
        [str(installed / "python"), "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ["PATH"]}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    where, heavy, shape = json.loads(done.stdout)
    assert "site-packages" in where and str(ROOT) not in where
    assert heavy == []  # importing the package made no app and read no settings
    assert shape == [2]


@pytest.fixture(scope="module")
def served(installed: Path) -> Iterator[str]:
    """``backprop-lens serve`` of the venv, started in an empty directory with only PATH set."""
    port = free_port()
    with tempfile.TemporaryDirectory() as cwd, tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [str(installed / "backprop-lens"), "serve", "--port", str(port)],
            cwd=cwd, env={"PATH": os.environ["PATH"]}, stdout=subprocess.DEVNULL, stderr=log,
            start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"backprop-lens serve exited with code {proc.returncode}:\n{tail(log)}")
                try:
                    with urllib.request.urlopen(f"{url}/api/health", timeout=5):
                        break
                except OSError:
                    assert time.monotonic() < deadline, tail(log)
                    time.sleep(0.1)
            yield url
        finally:
            stop_group(proc)


def test_the_installed_server_answers_the_page_docs_static_files_and_a_stream(served: str) -> None:
    with httpx.Client(base_url=served, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200 and 'id="net"' in page.text
        assets = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text))
        assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
        for asset in sorted(assets):
            r = client.get(asset)
            assert r.status_code == 200 and r.content, asset
        docs = client.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        for path in re.findall(r'(?:src|href)="(/static/[^"]+)"', docs.text):
            assert client.get(path).status_code == 200, path
        assert client.get("/train").status_code == 200 and client.get("/join").status_code == 200
        stream_url = re.search(r'data-stream-url="([^"]+)"', page.text)
        assert stream_url is not None
        events: list[str] = []
        with client.stream("GET", stream_url.group(1), params={"interval_ms": 100}) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith("event:"):
                    events.append(line[6:].strip())
                    if events[-1] == "done":
                        break
        assert events[-1] == "done" and len(events) > 3
