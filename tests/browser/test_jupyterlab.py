"""The notebook in JupyterLab, as a student opens it: JupyterLab started here on a free port, Chromium opens
docs/notebooks/chapter2.ipynb and runs it; the test presses the widget's step control until BP2 and reads δ²
on screen (the diagram's numbers and the equation panel), compared with the independent NumPy reference of
Mazur's example (tests/notebooks/mazur.py). The screenshot is the README's docs/screenshots/notebook.png."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import ROOT, shot_path
from tests.notebooks.mazur import reference
from tests.processes import free_port, stop

pytestmark = [pytest.mark.browser, pytest.mark.slow]
NOTEBOOK = ROOT / "docs" / "notebooks" / "chapter2.ipynb"
BP2 = 4  # the step index of BP2 in the 2-2-2 example


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[str]:
    """JupyterLab serving a copy of the notebook from a temporary folder; yields its base URL."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    port = free_port()
    # JupyterLab would ask whether to fetch its news, in a toast over the screenshot: answered "no" beforehand
    news = tmp_path / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false"}', encoding="utf-8")
    env = {
        **os.environ,
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),  # no one's settings or workspaces but this test's
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", f"--port={port}",
         "--ServerApp.token=", f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # up to 30 s; it answers in a few
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with code {proc.returncode}")
            if _answers(f"{url}/api/status"):
                break
            time.sleep(0.05)
        else:
            pytest.fail("jupyter lab did not answer within 30 s")
        yield url
    finally:
        try:  # its kernels first, so that none outlives the server
            with urllib.request.urlopen(f"{url}/api/kernels", timeout=5) as r:
                kernels = json.load(r)
            for k in kernels:
                urllib.request.urlopen(urllib.request.Request(f"{url}/api/kernels/{k['id']}", method="DELETE"))
        except OSError:
            pass
        stop(proc)


def test_the_widget_steps_to_bp2_and_shows_mazurs_delta(chromium: Browser, jupyterlab: str) -> None:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        page.goto(f"{jupyterlab}/lab/tree/{NOTEBOOK.name}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for()
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()  # the kernel is up and connected
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

        widget = page.locator(".bpl-widget")
        widget.wait_for()
        forward = widget.locator("button.bpl-forward")
        for _ in range(BP2):
            forward.click()
        page.locator(f".bpl-widget[data-step='{BP2}']").wait_for()
        assert "Backpropagate the error: δ²" in widget.locator(".bpl-status").inner_text()

        delta2 = reference()["delta2"]
        equation = widget.locator(".bpl-eq").inner_text()
        for j in range(2):
            neuron = widget.locator(f"g[id$='n-2-{j + 1}']")
            assert neuron.locator("text.value").text_content() == f"{delta2[j]:.4g}"  # as printed on the diagram
            assert float(neuron.get_attribute("data-delta") or "nan") == pytest.approx(delta2[j], rel=1e-12)
            assert f"{delta2[j]:.4g}" in equation
        assert widget.locator(".pulse-back").count() == 4  # δ travels back along the four edges into layer 2
        # the page's styles, scoped: moving pulses, not the still arrows of reduced motion; one text per scale
        assert widget.locator(".pulse.cue").count() > 0 and not any(
            c.is_visible() for c in widget.locator(".pulse.cue").all()
        )
        skip = widget.locator(".skip").bounding_box()
        assert skip is not None and skip["x"] + skip["width"] < 0  # out of sight until the keyboard reaches it
        for scale in widget.locator(".legend .scale").all():
            assert [t.is_visible() for t in scale.locator(".scale-short, .scale-text").all()].count(True) == 1

        widget.scroll_into_view_if_needed()
        # a frame with the pulses on their way: half way along their edges (the picture, not the checks)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.bpl .pulse-back')].every("
            "p => p.getAnimations().some(a => a.currentTime % 1100 >= 500 && a.currentTime % 1100 <= 700))"
        )
        shot = shot_path("jupyterlab.png")
        page.screenshot(path=str(shot))
        shutil.copy(shot, ROOT / "docs" / "screenshots" / "notebook.png")
    except Exception:
        page.screenshot(path=str(shot_path("jupyterlab-failed.png")))
        raise
    finally:
        context.close()
