"""docs/deploy.md lists every environment variable the app reads, with its default, so the table cannot drift.

The table is written from ``app.core.settings.Settings``; this test reads it back: one row per field, naming
``BACKPROP_LENS_`` + the field's name in capitals and its default (the directories by their folder's name).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from backprop_lens.app.cli import COMMANDS, _load_plugins
from backprop_lens.app.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def rows() -> dict[str, str]:
    """The environment-variable table: variable → its row."""
    table = DEPLOY.split("## Every environment variable", 1)[1]
    return {m.group(1): line for line in table.splitlines() if (m := re.match(r"\| `(BACKPROP_LENS_\w+)` \|", line))}


def test_every_setting_has_its_row_with_its_default() -> None:
    table = rows()
    for name, field in Settings.model_fields.items():
        variable = f"BACKPROP_LENS_{name.upper()}"
        assert variable in table, f"docs/deploy.md lacks {variable}"
        default = field.default
        cells = [cell.strip() for cell in table[variable].split("|")[1:-1]]
        if isinstance(default, Path):
            assert f"`{default.name}/`" in cells[1], table[variable]
        elif default is None or default == ():
            assert cells[1].startswith("none"), table[variable]
        else:
            assert cells[1] == str(default), table[variable]
        assert cells[2], f"{variable} has no description"


def command_lines() -> list[str]:
    """The ``backprop-lens serve`` and ``worker`` commands of the page's bash blocks, continuation lines joined."""
    blocks = re.findall(r"```bash\n(.*?)```", DEPLOY, flags=re.S)
    joined = "\n".join(block.replace("\\\n", " ") for block in blocks)
    return [line for line in joined.splitlines() if re.search(r"backprop-lens (serve|worker)", line)]


def test_every_option_its_commands_use_is_an_option_of_the_command() -> None:
    _load_plugins()
    lines = command_lines()
    assert {"serve", "worker"} <= {m.group(1) for line in lines if (m := re.search(r"backprop-lens (\w+)", line))}
    for line in lines:
        name = re.search(r"backprop-lens (\w+)", line)
        assert name is not None
        parser = argparse.ArgumentParser()
        COMMANDS[name.group(1)][1](parser)
        words = line.split("backprop-lens", 1)[1].split()[1:]
        for word in words:
            if word.startswith("--"):
                assert word in parser._option_string_actions, f"{line}: {word}"
    used = " ".join(lines)
    for option in ("--redis", "--workers", "--root-path", "--forwarded-allow-ips"):
        assert option in used


def test_the_nginx_settings_it_explains_are_those_of_the_configuration_file() -> None:
    conf = (ROOT / "docs" / "nginx" / "backprop.conf").read_text(encoding="utf-8")
    for directive in ("proxy_buffering off;", "proxy_read_timeout 60s;", "proxy_pass http://backprop_lens/;"):
        assert directive in conf and directive.rstrip(";") in DEPLOY


def unit(name: str) -> dict[str, str]:
    """A systemd unit of docs/systemd as key → value (continuation lines joined; the last of a repeated key)."""
    text = (ROOT / "docs" / "systemd" / name).read_text(encoding="utf-8").replace("\\\n", " ")
    return dict(
        (key.strip(), value.strip())
        for line in text.splitlines()
        if "=" in line and not line.startswith("#")
        for key, value in [line.split("=", 1)]
    )


def test_the_systemd_units_stop_after_the_graceful_timeout_as_an_unprivileged_user() -> None:
    _load_plugins()
    for name, command in (("backprop-lens-web.service", "serve"), ("backprop-lens-worker@.service", "worker")):
        keys = unit(name)
        assert keys["Restart"] == "on-failure" and keys["User"] not in ("", "root"), name
        assert keys["EnvironmentFile"] == "/etc/backprop-lens/env", name
        parser = argparse.ArgumentParser()
        COMMANDS[command][1](parser)
        words = keys["ExecStart"].split()
        assert words[0].endswith("/backprop-lens") and words[1] == command, name
        args = parser.parse_args(words[2:])
        assert "--redis" not in words, f"{name}: the Redis URL belongs in the environment file's file, not in ps"
        graceful = getattr(args, "graceful_timeout", 0.0)
        assert float(keys["TimeoutStopSec"]) > graceful + 5, name
    env = (ROOT / "docs" / "systemd" / "env.example").read_text(encoding="utf-8")
    assert "BACKPROP_LENS_REDIS_URL_FILE=" in env
