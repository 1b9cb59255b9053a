"""nginx for the tests, with the documented configuration (docs/nginx/backprop.conf) as it is but for its ports
and its certificate: a self-signed one made here with ``openssl``, for 127.0.0.1.

``Nginx`` writes a main configuration that runs one unprivileged nginx in the foreground with everything it
writes under a temporary folder, starts it and stops it by its PID. ``tests/browser/test_subpath.py`` and
``tests/cluster/test_nginx.py`` use it.

Left out: the main configuration's sizing (worker_connections and worker_rlimit_nofile, which docs/deploy.md
sizes for a class): a test holds a few tens of connections.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "docs/nginx/backprop.conf"
PREFIX = "/backprop"
START_WITHIN = 60.0  # a bound only: how long nginx and the servers may take to answer
UPSTREAM = "    server 127.0.0.1:8000 max_fails=0;\n"
CERTIFICATE = "/etc/ssl/backprop-lens/fullchain.pem"
KEY = "/etc/ssl/backprop-lens/privkey.pem"


def executable(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:
        pytest.fail(f"{name} is missing: apt-get install -y {'nginx-light' if name == 'nginx' else name}")
    return found


def site_config(http: int, https: int, upstreams: Sequence[int], certificate: Path, key: Path) -> str:
    """The documented configuration with the test's ports in place of 80, 443 and 8000, and its certificate."""
    text = CONFIG.read_text(encoding="utf-8")
    servers = "".join(UPSTREAM.replace(":8000", f":{port}") for port in upstreams)
    swaps = (
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        (UPSTREAM, servers),
        (CERTIFICATE, str(certificate)),
        (KEY, str(key)),
    )
    for old, new in swaps:
        assert text.count(old) == 1, f"{CONFIG} should have {old!r} once"
        text = text.replace(old, new)
    return text


def main_config(prefix: Path, site: Path) -> str:
    """An nginx that runs in the foreground and keeps everything it writes under ``prefix``."""
    lines = [
        *(["user root;"] if os.geteuid() == 0 else []),  # else, as root, the workers are nobody: locked out of prefix
        "daemon off;",
        "worker_processes 1;",
        f"pid {prefix}/nginx.pid;",
        f"error_log {prefix}/error.log;",
        "events { worker_connections 512; }",
        "http {",
        "    access_log off;",
        *(f"    {kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
        f"    include {site};",
        "}",
    ]
    return "\n".join(lines) + "\n"


def unverified() -> ssl.SSLContext:
    """A TLS context that accepts the test's self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Nginx:
    """nginx in front of the web processes on ``upstreams``; ``base`` is its HTTPS URL with the sub-path's host."""

    def __init__(self, prefix: Path, upstreams: Sequence[int]) -> None:
        from tests.processes import free_port  # the one free-port helper

        self.prefix = prefix
        self.http, self.https = free_port(), free_port()
        self.base = f"https://127.0.0.1:{self.https}"
        certificate, key = prefix / "cert.pem", prefix / "key.pem"
        subprocess.run(
            [executable("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        site = prefix / "backprop.conf"
        site.write_text(site_config(self.http, self.https, upstreams, certificate, key), encoding="utf-8")
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(main_config(prefix, site), encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [executable("nginx"), "-c", str(self.conf), "-p", str(self.prefix)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def wait_until_served(self, path: str) -> None:
        """Until ``path`` under the sub-path answers through nginx (any status from the app)."""
        deadline = time.monotonic() + START_WITHIN
        context = unverified()
        while True:
            assert self.proc is not None and self.proc.poll() is None, f"nginx exited: {self.error_log()}"
            try:
                with urllib.request.urlopen(f"{self.base}{PREFIX}{path}", timeout=5, context=context):
                    return
            except OSError:
                assert time.monotonic() < deadline, f"{path} did not answer within {START_WITHIN} s"
                time.sleep(0.05)

    def error_log(self) -> str:
        log = self.prefix / "error.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            from tests.processes import stop

            stop(self.proc)
