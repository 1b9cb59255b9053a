"""The ``backprop-lens`` console script.

    backprop-lens                      serve on 127.0.0.1:8000 (same as ``serve``)
    backprop-lens serve [--host H] [--port P]
    backprop-lens grad REQUEST.json    print the gradients of a request file, no server
    backprop-lens grad -               the same for a request read from standard input
"""

from __future__ import annotations

import argparse
import json
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


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")


@command("serve", "serve the app (the default)", _serve_args)
def serve(args: argparse.Namespace) -> int:
    import uvicorn

    print(f"backprop-lens: open http://{args.host}:{args.port}/ in a browser (Ctrl+C stops)", flush=True)
    uvicorn.run("app.main:app", host=args.host, port=args.port, log_level="warning")
    return 0


def _grad_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "request", help="a JSON file in the form POST /api/gradients accepts, or - to read it from standard input"
    )


@command("grad", "print the gradients of a request file (or of standard input: -)", _grad_args)
def grad(args: argparse.Namespace) -> int:
    from app.api.routes import gradients
    from app.core.errors import InputError
    from app.core.schemas import GradientRequest

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
        req = GradientRequest.model_validate_json(text)
        result = gradients(req)
    except ValidationError as exc:
        for err in exc.errors(include_input=False):
            where = ".".join(str(p) for p in err["loc"]) or "request"
            print(f"backprop-lens grad: {where}: {err['msg']}", file=sys.stderr)
        return 2
    except InputError as exc:
        print(f"backprop-lens grad: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.model_dump(exclude_none=True), indent=2))
    return 0


def _load_plugins() -> None:
    """Subcommands that live beside the app register themselves on import."""
    for module in ("app.training.cli", "bench.cli"):
        try:
            __import__(module)
        except ModuleNotFoundError as exc:
            if exc.name not in (module, module.split(".")[0]):
                raise  # the plugin exists but something it imports is missing


def main(argv: Sequence[str] | None = None) -> int:
    _load_plugins()
    parser = argparse.ArgumentParser(
        prog="backprop-lens",
        description="See backpropagation: a step-through page, exact gradients and a JSON API.",
    )
    sub = parser.add_subparsers(dest="command")
    for name, (help_text, configure, _) in COMMANDS.items():
        configure(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *(argv or [])])
    return COMMANDS[args.command][2](args)


if __name__ == "__main__":
    # `python -m app.cli`: run the app.cli module's main, where app.training.cli registers its command
    # (this file runs as __main__, a second copy of the module, whose registry stays without it).
    from app.cli import main as _main

    raise SystemExit(_main())
