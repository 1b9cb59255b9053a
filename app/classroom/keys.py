"""Who may share with a class: the lecturer keys of ``BACKPROP_LENS_LECTURER_KEY``, and checking one.

The setting holds one key, several separated by commas (``key-a,key-b``), or ``@`` and the path of a file with
one key a line (blank lines and lines starting with ``#`` skipped), so that the keys stay out of the
environment of every process and out of ``ps``. Spaces around a key are not part of it. The keys are read
once, when the app is made, and kept only as their SHA-256; a key is checked against every one of them in
constant time (``LecturerKeys.admits``). A setting that names no key, or a file that cannot be read, stops the
app at start (``KeyFileError``): a server asked to require a key never runs open by mistake.

Left out: HTTP (``app.classroom.routes`` answers 401) and the page (``static/js/follow.js`` asks for the key).
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from pydantic import SecretStr

KEY_HEADER = "X-Lecturer-Key"


class KeyFileError(RuntimeError):
    """The setting names no key, or a file of keys that cannot be read."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def read_keys(setting: str) -> list[str]:
    """The keys the setting's text names (see the module's docstring); KeyFileError if there are none."""
    if setting.startswith("@"):
        path = Path(setting[1:].strip())
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise KeyFileError(f"BACKPROP_LENS_LECTURER_KEY: cannot read the file of keys {path}: {e}") from None
        keys = [line.strip() for line in text.splitlines()]
        keys = [k for k in keys if k and not k.startswith("#")]
        where = f"the file {path}"
    else:
        keys = [k.strip() for k in setting.split(",") if k.strip()]
        where = "the setting"
    if not keys:
        raise KeyFileError(f"BACKPROP_LENS_LECTURER_KEY: {where} names no key (unset it to let anyone share)")
    return keys


class LecturerKeys:
    """The keys that may share (none: anyone may, within the per-client limit)."""

    def __init__(self, setting: SecretStr | None) -> None:
        keys = [] if setting is None else read_keys(setting.get_secret_value())
        self._digests = [_digest(k) for k in keys]

    @property
    def required(self) -> bool:
        return bool(self._digests)

    def admits(self, given: str | None) -> bool:
        """Whether ``given`` is one of the keys: every digest compared, in constant time, however it ends."""
        digest = _digest(given or "")
        found = False
        for kept in self._digests:
            found |= hmac.compare_digest(kept, digest)
        return found and bool(given)
