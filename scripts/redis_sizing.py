"""How much Redis one run, one class session and one training take, measured: for docs/deploy.md's sizing.

    python scripts/redis_sizing.py --runs 50 --sessions 20 --trainings 3 --json sizing.json

Starts a throwaway ``redis-server`` (nothing on disk), one ``backprop-lens serve --redis`` and one
``backprop-lens worker`` on free loopback ports, and uses the app as a page does: R runs of the step-through
(``POST /runs``, each its own network), S class sessions (``POST /sessions``) and T trainings of the digits
(``POST /train/runs`` with the page's defaults but ``--epochs``, each read to its ``done`` event). Then it
reads every key the app wrote (``SCAN``) with ``MEMORY USAGE key SAMPLES 0`` (the whole value, with Redis's
own overhead) and ``PTTL``, groups them by what they hold, and reports the bytes per run, per session and per
training, each kind of key with whether it carries a time to live, and ``INFO memory``'s ``used_memory``
before and after. A group's bytes are divided by the number made (each session shared from a loopback
address of its own, 127.0.0.2 on, as separate lecturers); the shared keys (the indexes, the queue, the
workers' set) are reported on their own.

Left out: questions (not kept in Redis yet), the memory Redis itself needs beyond its data (fragmentation,
buffers of clients: ``mem_fragmentation_ratio`` in INFO), and persistence. Only 127.0.0.1 is contacted;
every process started is stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from load import Setup, free_port, wait_for  # scripts/load.py: the same processes, started alike

from backprop_lens.bench.client import HOST

# The app's keys under "backprop-lens:", by what they hold (app/core/state.py, app/classroom/redis_store.py,
# app/training/redis_store.py); anything else is reported as "other".
KINDS = (
    ("run", re.compile(r"run:(?!ready-probe)[^:]+$")),
    ("session", re.compile(r"session:[^:]+$")),
    ("training", re.compile(r"training:[^:]+:(\w+)$")),
)
FORM = {
    "sizes": "2, 3, 2", "activation": "sigmoid", "cost": "quadratic", "init": "standard", "x": "0.05, 0.10",
    "y": "0.01, 0.99", "eta": "0.5", "weights": "", "biases": "", "previous_sizes": "2, 2, 2",
}  # fmt: skip
HTMX = {"HX-Request": "true"}


@dataclass
class Sizing:
    redis_version: str = ""
    runs: int = 0
    sessions: int = 0
    trainings: int = 0
    training_form: dict[str, str] = field(default_factory=dict)
    bytes_per_run: int = 0
    bytes_per_session: int = 0
    bytes_per_training: int = 0
    training_bytes_by_key: dict[str, int] = field(default_factory=dict)
    shared_keys_bytes: dict[str, int] = field(default_factory=dict)
    keys_with_ttl: dict[str, bool] = field(default_factory=dict)
    used_memory_before: int = 0
    used_memory_after: int = 0
    errors: list[str] = field(default_factory=list)


def attribute(html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]+)"', html)
    if found is None:
        raise RuntimeError(f"no {name} in the answer")
    return found.group(1)


def make_runs(client: httpx.Client, count: int, sizing: Sizing) -> list[str]:
    ids = []
    for n in range(count):
        r = client.post("/runs", data={**FORM, "seed": str(n)}, headers=HTMX)
        r.raise_for_status()
        ids.append(attribute(r.text, "data-run-id"))
        sizing.runs += 1
    return ids


def make_sessions(base: str, run_ids: list[str], count: int, sizing: Sizing) -> None:
    """``count`` sessions, each shared from a loopback address of its own (127.0.0.2, …): a lecturer each, as
    the app's limit of sessions per client address expects."""
    for n in range(count):
        transport = httpx.HTTPTransport(local_address=f"127.0.0.{2 + n}")
        with httpx.Client(base_url=base, transport=transport, timeout=60.0, trust_env=False) as client:
            r = client.post("/sessions", data={"run_id": run_ids[n % len(run_ids)], "step": "0"})
        if r.status_code != 201:
            raise RuntimeError(f"share: {r.status_code} {r.text[:200]}")
        sizing.sessions += 1


def train(client: httpx.Client, form: dict[str, str], sizing: Sizing) -> None:
    r = client.post("/train/runs", data=form, headers=HTMX)
    if r.status_code != 200:
        raise RuntimeError(f"train: {r.status_code} {r.text[:200]}")
    with client.stream("GET", attribute(r.text, "data-stream"), timeout=httpx.Timeout(30.0, read=600.0)) as events:
        name = ""
        for line in events.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:") and name == "done":
                state = json.loads(line[5:]).get("state")
                if state != "finished":
                    raise RuntimeError(f"training ended {state}")
                sizing.trainings += 1
                return
    raise RuntimeError("the training's stream ended before its done event")


def measure(r: redis.Redis, sizing: Sizing) -> None:
    groups: dict[str, int] = defaultdict(int)
    by_key: dict[str, int] = defaultdict(int)
    for raw in r.scan_iter(match="backprop-lens:*", count=1000):
        key = raw.decode()
        name = key.removeprefix("backprop-lens:")
        size = int(r.memory_usage(key, samples=0) or 0)
        ttl = int(r.pttl(key)) >= 0
        kind = next((k for k, pattern in KINDS if pattern.match(name)), None)
        if kind == "training":
            part = name.rsplit(":", 1)[1]
            by_key[part] += size
            label = f"training:*:{part}"
        elif kind is not None:
            label = f"{kind}:*"
        else:
            label = name
            sizing.shared_keys_bytes[name] = size
        groups[kind or "shared"] += size
        # A kind of key has a time to live only if every key of it has one.
        sizing.keys_with_ttl[label] = sizing.keys_with_ttl.get(label, True) and ttl
    sizing.bytes_per_run = groups["run"] // max(1, sizing.runs)
    sizing.bytes_per_session = groups["session"] // max(1, sizing.sessions)
    sizing.bytes_per_training = groups["training"] // max(1, sizing.trainings)
    sizing.training_bytes_by_key = {k: v // max(1, sizing.trainings) for k, v in sorted(by_key.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="runs of the step-through to make (50)")
    parser.add_argument("--sessions", type=int, default=20, help="class sessions to share (20)")
    parser.add_argument("--trainings", type=int, default=3, help="trainings of the digits to run (3)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of each training (30)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if not (1 <= args.runs <= 500 and 0 <= args.sessions <= 60 and 0 <= args.trainings <= 20):
        parser.error("bounds: runs 1..500, sessions 0..60, trainings 0..20")
    if not 1 <= args.epochs <= 300:
        parser.error("bounds: epochs 1..300")
    form = {"dataset": "digits", "hidden": "30", "epochs": str(args.epochs), "batch": "10", "eta": "3.0"}
    sizing = Sizing(training_form=form)  # the counts: those made
    setup = Setup()
    try:
        redis_url = setup.redis()
        port = free_port()
        setup.web(port, redis_url)
        wait_for(port, setup.procs[-1], "/api/health")
        setup.start(sys.executable, "-m", "backprop_lens.app.cli", "worker", "--redis", redis_url)
        r = redis.Redis.from_url(redis_url)
        sizing.redis_version = str(r.info("server")["redis_version"])
        sizing.used_memory_before = int(r.info("memory")["used_memory"])
        base = f"http://{HOST}:{port}"
        with httpx.Client(base_url=base, timeout=60.0, trust_env=False) as client:
            try:
                run_ids = make_runs(client, args.runs, sizing)
                make_sessions(base, run_ids, args.sessions, sizing)
                for _ in range(args.trainings):
                    train(client, form, sizing)
            except (RuntimeError, httpx.HTTPError) as exc:
                sizing.errors.append(str(exc))
        time.sleep(0.2)  # the worker's last writes after its done event
        measure(r, sizing)
        sizing.used_memory_after = int(r.info("memory")["used_memory"])
        r.close()
    finally:
        setup.stop()
    data: dict[str, Any] = asdict(sizing)
    text = json.dumps(data, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 1 if sizing.errors else 0


if __name__ == "__main__":
    sys.exit(main())
