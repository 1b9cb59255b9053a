"""``backprop-lens sessions list`` and ``backprop-lens sessions end CODE``: an operator sees and ends class sessions.

    backprop-lens sessions list --redis-file /etc/backprop-lens/redis-url
    backprop-lens sessions end PSC PPN        # the code as read aloud: any case, spaces or not

Sessions shared between processes live in Redis, which is where this command finds them: the URL comes from
``--redis URL``, ``--redis-file FILE`` (its first line; or ``$BACKPROP_LENS_REDIS_URL_FILE``) or
``$BACKPROP_LENS_REDIS_URL``, as for ``backprop-lens worker``. Ending a session needs no lecturer token: its
students hear ``ended`` on whichever process they follow, and their pages become their own.
Exit status: 0 done, 1 no such session or Redis unreachable, 2 bad input or no Redis named.

Left out: sessions of a server without Redis, which live in that process's memory and nothing outside it
can reach (the command says so).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TextIO

from backprop_lens.app.classroom.codes import read_code, spaced
from backprop_lens.app.classroom.redis_store import RedisSessions
from backprop_lens.app.classroom.store import SessionInfo
from backprop_lens.app.cli import REDIS_URL_VARIABLE, command, redis_from_file
from backprop_lens.app.core.settings import Settings
from backprop_lens.app.core.state import StateUnavailableError, redacted

NAME = "backprop-lens sessions"


def _redis_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--redis", metavar="URL", help=f"the Redis URL the web processes use (default: ${REDIS_URL_VARIABLE})"
    )
    p.add_argument(
        "--redis-file", metavar="FILE",
        help=f"read the Redis URL from FILE (its first line) (default: ${REDIS_URL_VARIABLE}_FILE)",
    )  # fmt: skip


def _args(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True, metavar="{list,end}")
    _redis_args(actions.add_parser("list", help="every open session: code, run, step, followers, client, idle"))
    end = actions.add_parser("end", help="end a session: its students' pages become their own")
    end.add_argument("code", nargs="+", help="the join code (ABC234, abc 234)")
    _redis_args(end)


def table(found: list[SessionInfo]) -> list[str]:
    """The listing's lines: a header, then one session a line, the most recently changed first."""
    lines = [f"{'code':<8} {'run':<24} {'step':>5} {'followers':>9} {'idle':>8}  client"]
    for s in found:
        lines.append(
            f"{spaced(s.code):<8} {s.run_id[:24]:<24} {s.step + 1:>5} {s.followers:>9} "
            f"{s.idle_seconds:>7.0f}s  {s.client or '-'}"
        )
    return lines


async def _run(args: argparse.Namespace, url: str, out: TextIO) -> int:
    settings = Settings()
    sessions = RedisSessions(url, settings.max_sessions, settings.session_ttl_seconds)
    try:
        if args.action == "list":
            found = await sessions.listing()
            print("\n".join(table(found)), file=out)
            print(f"{len(found)} of at most {settings.max_sessions} class sessions open", file=out)
            return 0
        code = read_code(" ".join(args.code))
        if code is None:
            print(f"{NAME}: {' '.join(args.code)!r} is not a join code (six letters and digits)", file=sys.stderr)
            return 2
        if not await sessions.close(code):
            print(f"{NAME}: no class session has the code {spaced(code)}; it may have ended", file=sys.stderr)
            return 1
        print(f"ended the class session {spaced(code)}", file=out)
        return 0
    finally:
        await sessions.aclose()


@command("sessions", "list the class sessions kept in Redis, or end one", _args)
def sessions(args: argparse.Namespace, out: TextIO | None = None) -> int:
    try:
        url = args.redis or redis_from_file(args.redis_file) or os.environ.get(REDIS_URL_VARIABLE)
    except OSError as e:
        print(f"{NAME}: cannot read the Redis URL from {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    if not url:
        print(
            f"{NAME}: no Redis named (--redis URL, --redis-file FILE or {REDIS_URL_VARIABLE}). Without Redis, "
            "class sessions live in the server's memory, and they cannot be listed or ended from outside it",
            file=sys.stderr,
        )
        return 2
    try:
        return asyncio.run(_run(args, url, out or sys.stdout))
    except (StateUnavailableError, ValueError) as e:
        print(f"{NAME}: Redis at {redacted(url)} is unreachable: {e}", file=sys.stderr)
        return 1
