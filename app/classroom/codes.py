"""Join codes and the lecturer's token: what a student types to follow, and what a session keeps of the lecturer.

A code is six letters and digits that read aloud and type without doubt (``ALPHABET``), shown in two groups
(``spaced``) and read back whatever the case and spacing (``read_code``). The lecturer's token is random and
kept only as its hash.

Left out: whether a code is in use (the stores, ``app.classroom.store`` and ``app.classroom.redis_store``).
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""Letters and digits that are easy to read aloud and to type: no 0/O, 1/I/L (upper- or lowercase)."""
CODE_LENGTH = 6  # 31**6, about 887 million codes
MAX_CODE_DRAWS = 20  # a draw that hits a live code draws again; 20 misses in a row need a full code space


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def read_code(text: str) -> str | None:
    """A join code as typed (any case, spaces or dashes between groups) in its canonical form; None if it is none."""
    code = "".join(c for c in text.upper() if c not in " -\u2009\u00a0")
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def spaced(code: str) -> str:
    """``ABC234`` as ``ABC 234``: two groups are easier to read aloud and to copy from a projector."""
    half = len(code) // 2
    return f"{code[:half]} {code[half:]}"


def token_hash(token: str) -> str:
    """What a session keeps of the lecturer's token: its SHA-256 (a stolen store gives no token)."""
    return hashlib.sha256(token.encode()).hexdigest()
