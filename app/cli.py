"""The ``backprop-lens`` console script.

backprop-lens                      serve on 127.0.0.1:8000 (same as ``serve``)
backprop-lens serve [--host H] [--port P] [--workers N] [--root-path PATH] [--forwarded-allow-ips IPS]
                    [--redis URL] [--graceful-timeout SECONDS]
backprop-lens grad REQUEST.json    print the gradients of a request file, no server
backprop-lens grad -               the same for a request read from standard input
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Command]] = {}


def command(
    name: str, help_text: str, configure: Callable[[argparse.ArgumentParser], None]
) -> Callable[[Command], Command]:
    """Register a subcommand; other modules add theirs the same way (train, bench)."""

    def register(fn: Command) -> Command:
        COMMANDS[name] = (help_text, configure, fn)
        return fn

    return register


LOG_FORMAT_VARIABLE = "BACKPROP_LENS_LOG_FORMAT"
REDIS_URL_VARIABLE = "BACKPROP_LENS_REDIS_URL"  # app.core.settings reads redis_url from it in every app process


def _at_least(least: float, kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"at least {least:g}, got {text}")
        return value

    return parse


def _root_path(text: str) -> str:
    path = text.rstrip("/")
    if path and not path.startswith("/"):
        raise argparse.ArgumentTypeError(f"a path that starts with /, such as /backprop; got {text}")
    return path


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--workers", type=_at_least(1, int), default=1,
        help="worker processes sharing the port (default 1); more than one needs --redis, so that they share runs",
    )  # fmt: skip
    p.add_argument(
        "--root-path", type=_root_path, default="",
        help="the path the app is served under behind a proxy that strips it, such as /backprop (default: none)",
    )  # fmt: skip
    p.add_argument(
        "--forwarded-allow-ips", metavar="IPS", default=None,
        help="comma-separated addresses of proxies whose X-Forwarded-For/-Proto headers are trusted, or * for any "
        "(default: $FORWARDED_ALLOW_IPS, else 127.0.0.1)",
    )  # fmt: skip
    p.add_argument(
        "--redis", metavar="URL", default=None,
        help=f"keep the shared state in Redis at URL, such as redis://localhost:6379/0 (sets {REDIS_URL_VARIABLE}; "
        "default: in this process's memory)",
    )  # fmt: skip
    p.add_argument(
        "--graceful-timeout", metavar="SECONDS", type=_at_least(0, float), default=5.0,
        help="on SIGTERM, open event streams end at once; other requests get this long to finish (default 5)",
    )  # fmt: skip
    operations_args(p)


def operations_args(p: argparse.ArgumentParser) -> None:
    """The options ``serve`` and ``worker`` share: where the Redis URL is kept, and the logs' format."""
    p.add_argument(
        "--redis-file", metavar="FILE", default=None,
        help=f"read the Redis URL from FILE (its first line), so that its password is not in ps (default: "
        f"${REDIS_URL_VARIABLE}_FILE)",
    )  # fmt: skip
    p.add_argument(
        "--log-format", choices=["text", "json"], default=os.environ.get(LOG_FORMAT_VARIABLE, "text"),
        help=f"log lines with timestamps and request ids as text or as JSON (default: ${LOG_FORMAT_VARIABLE}, "
        "else text)",
    )  # fmt: skip


def redis_from_file(path: str | None) -> str | None:
    """The URL in the file ``path`` (or ``$BACKPROP_LENS_REDIS_URL_FILE``), None without one; OSError as raised."""
    path = path or os.environ.get(f"{REDIS_URL_VARIABLE}_FILE")
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return f.readline().strip() or None


@command("serve", "serve the app (the default)", _serve_args)
def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from backprop_lens.app.core.logs import uvicorn_config
    from backprop_lens.app.core.settings import Settings
    from backprop_lens.app.core.state import make_state, redacted

    try:  # the logs are uvicorn's to configure, in each of its processes (log_config below)
        from_file = redis_from_file(args.redis_file)
    except OSError as e:
        print(f"backprop-lens serve: cannot read the Redis URL from {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    if from_file is not None and args.redis is None:
        args.redis = from_file
    if args.redis is not None:
        os.environ[REDIS_URL_VARIABLE] = args.redis  # inherited by the worker processes, read by their settings
    where = [f"{args.workers} worker processes" if args.workers > 1 else "one process"]
    redis = os.environ.get(REDIS_URL_VARIABLE)
    if args.workers > 1 and not redis:
        print(
            f"backprop-lens serve: without --redis each of the {args.workers} processes keeps its own runs and "
            "trainings, and a request answered by another process finds none of them",
            file=sys.stderr,
        )
    where.append(f"state in Redis at {redacted(redis)}" if redis else "state in memory")
    if redis:
        # Fail here, in one line, rather than in every worker process behind a traceback.
        try:
            make_state(Settings()).close()
        except RuntimeError as e:
            print(f"backprop-lens serve: {e}", file=sys.stderr)
            return 1
    print(
        f"backprop-lens: open http://{args.host}:{args.port}{args.root_path}/ in a browser "
        f"({', '.join(where)}; Ctrl+C stops)",
        flush=True,
    )
    uvicorn.run(
        "backprop_lens.app.main:create_app",  # an import string: each worker process makes the app itself
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        root_path=args.root_path,
        forwarded_allow_ips=args.forwarded_allow_ips,
        timeout_graceful_shutdown=args.graceful_timeout,
        log_config=uvicorn_config(args.log_format),
        access_log=False,  # the app writes one access line a request, with its request id
    )
    return 0


def _grad_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "request", help="a JSON file in the form POST /api/gradients accepts, or - to read it from standard input"
    )


# Pydantic starts the message of a validator's ValueError or assert with these words; a person needs neither.
PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def plain_message(msg: str) -> str:
    """A pydantic error message without the prefix pydantic puts before a validator's own words."""
    for prefix in PYDANTIC_PREFIXES:
        msg = msg.removeprefix(prefix)
    return msg


def error_lines(exc: ValidationError) -> list[str]:
    """One line per error: the field (``inputs[0][1]``, ``network.sizes``), then what was wrong; no input echoed.

    A cross-field message already starts with the field it is about (``network.biases: …``) and is kept whole.
    Pydantic names a union's members in the location (``literal['sigmoid', …]``); they are left out, and so is
    a member's "not of my type" where another member says what is wrong with the same field.
    """
    errors = exc.errors(include_input=False)
    fields: list[str] = []
    for err in errors:
        where = ""
        for part in err["loc"]:
            if isinstance(part, int):
                where += f"[{part}]"
            elif "[" not in part:
                where += f".{part}" if where else part
        fields.append(where)
    lines: list[str] = []
    for err, where in zip(errors, fields, strict=True):
        in_union = any(isinstance(p, str) and "[" in p for p in err["loc"])
        if in_union and err["type"].endswith("_type") and fields.count(where) > 1:
            continue
        msg = plain_message(str(err["msg"]))
        head, sep, _ = msg.partition(": ")
        named = sep and " " not in head and head.startswith(where.partition(".")[0].partition("[")[0])
        line = msg if named or not where else f"{where}: {msg}"
        if line not in lines:
            lines.append(line)
    return lines


@command("grad", "print the gradients of a request file (or of standard input: -)", _grad_args)
def grad(args: argparse.Namespace) -> int:
    # pydantic and the engine only: the web stack (FastAPI, Starlette, uvicorn, Jinja2) stays unloaded.
    from backprop_lens.app.core.gradients import gradient_response
    from backprop_lens.app.core.schemas import GradientRequest

    try:
        text = sys.stdin.read() if args.request == "-" else Path(args.request).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"backprop-lens grad: cannot read {args.request}: {exc.strerror}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:
        where = "standard input" if args.request == "-" else args.request
        print(f"backprop-lens grad: cannot read {where}: not UTF-8 ({exc.reason})", file=sys.stderr)
        return 2
    try:
        result = gradient_response(GradientRequest.model_validate_json(text))
    except ValidationError as exc:
        for line in error_lines(exc):
            print(f"backprop-lens grad: {line}", file=sys.stderr)
        return 2
    if result is None:
        # The API's words for it; they live beside its error handlers, so only this failure loads FastAPI.
        from backprop_lens.app.core.errors import OVERFLOW

        print(f"backprop-lens grad: network: {OVERFLOW}", file=sys.stderr)
        return 2
    print(json.dumps(result.model_dump(exclude_none=True), indent=2))
    return 0


PLUGINS: dict[str, tuple[str, str]] = {
    "train": (
        "backprop_lens.app.training.cli",
        "train a network with mini-batch SGD and print cost and accuracy per epoch",
    ),
    "worker": ("backprop_lens.app.training.worker", "train the runs the web processes queue in Redis (run several)"),
    "bench": ("backprop_lens.bench.cli", "measure the engine, the API and the page against baselines"),
    "sessions": ("backprop_lens.app.classroom.cli", "list the class sessions kept in Redis, or end one"),
}
"""Subcommands that live beside the app: name, the module that registers it on import, and its help line.

A module is imported only when its command runs, so ``grad`` does not load FastAPI or Redis for ``train``'s
or ``worker``'s sake; ``--help`` lists them by the help line here (a test checks it is each module's own).
"""


def load_plugin(name: str) -> bool:
    """Import the module of the subcommand ``name`` (it registers itself); False where it is not installed."""
    module = PLUGINS[name][0]
    try:
        __import__(module)
    except ModuleNotFoundError as exc:
        if exc.name not in (module, module.split(".")[0]):
            raise  # the plugin exists but something it imports is missing
        return False
    return name in COMMANDS


def _load_plugins() -> None:
    """Register every subcommand that lives beside the app (for what reads the whole registry, as the docs' test)."""
    for name in PLUGINS:
        load_plugin(name)


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: its first word that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = _chosen(argv)
    if chosen in PLUGINS and chosen not in COMMANDS and not load_plugin(chosen):
        print(f"backprop-lens: the {chosen} command is not installed with this copy", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(
        prog="backprop-lens",
        description="See backpropagation: a step-through page, exact gradients and a JSON API.",
    )
    sub = parser.add_subparsers(dest="command")
    for name in [*COMMANDS, *(n for n in PLUGINS if n not in COMMANDS)]:
        if name in COMMANDS:
            help_text, configure, _ = COMMANDS[name]
            configure(sub.add_parser(name, help=help_text, description=help_text))
        else:  # listed, not loaded: this run does not use it
            sub.add_parser(name, help=PLUGINS[name][1])
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *argv])
    return COMMANDS[args.command][2](args)


if __name__ == "__main__":
    # `python -m app.cli`: run the app.cli module's main, where app.training.cli registers its command
    # (this file runs as __main__, a second copy of the module, whose registry stays without it).
    from backprop_lens.app.cli import main as _main

    raise SystemExit(_main())
