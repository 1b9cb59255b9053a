"""Reads back the text of a QR code drawn as SVG, written from the QR code standard (ISO/IEC 18004), for tests.

An independent reference for the share panel's QR code: it shares no code with ``segno``, which draws it.
It reads the drawing module by module (segno's one ``<path>`` of horizontal dark runs), leaves out the function
patterns, reads the data modules in the standard's zigzag order, and, since it does not decode the format
information, tries each of the 8 masks and 4 error-correction levels: the text is the one reading that parses
as a byte-mode message with its terminator (every other reading is noise, which fails to parse). Versions 1
to 4 (up to 33 × 33 modules), no error correction: the drawing is exact, so a module read wrong is a failure.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# (version, level) → blocks of data codewords (ISO/IEC 18004 table 9), for versions 1 to 4.
BLOCKS: dict[tuple[int, str], list[int]] = {
    (1, "L"): [19], (1, "M"): [16], (1, "Q"): [13], (1, "H"): [9],
    (2, "L"): [34], (2, "M"): [28], (2, "Q"): [22], (2, "H"): [16],
    (3, "L"): [55], (3, "M"): [44], (3, "Q"): [17, 17], (3, "H"): [13, 13],
    (4, "L"): [80], (4, "M"): [32, 32], (4, "Q"): [24, 24], (4, "H"): [9, 9, 9, 9],
}  # fmt: skip

MASKS: list[Callable[[int, int], bool]] = [
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
]


def modules(svg: str) -> list[list[bool]]:
    """The dark modules of the drawing: rows of booleans, without the quiet zone."""
    view = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    path = re.search(r'<path[^>]*stroke="#000"[^>]*d="([^"]+)"', svg)
    assert view and path, "not a QR drawing with one stroked path"
    width = int(view.group(1))
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for op, args in re.findall(r"([MmHhVv])([^MmHhVv]*)", path.group(1)):
        numbers = [float(n) for n in args.replace(",", " ").split()]
        if op == "M":
            x, y = numbers
        elif op == "m":
            x, y = x + numbers[0], y + numbers[1]
        elif op == "h":
            for k in range(round(numbers[0])):
                dark.add((int(y), round(x) + k))  # a line at row r + 0.5 covers row r
            x += numbers[0]
        else:
            raise AssertionError(f"unexpected path command {op}")
    rows = [r for r, _ in dark]
    cols = [c for _, c in dark]
    border = min(min(rows), min(cols))  # the top-left finder pattern's corner is dark
    size = width - 2 * border
    return [[(r + border, c + border) in dark for c in range(size)] for r in range(size)]


def is_function(n: int, version: int, i: int, j: int) -> bool:
    """Finder patterns with separators and format areas, timing patterns, the alignment pattern (v ≥ 2)."""
    if (i <= 8 and j <= 8) or (i <= 8 and j >= n - 8) or (i >= n - 8 and j <= 8):
        return True
    if i == 6 or j == 6:
        return True
    return version >= 2 and n - 9 <= i <= n - 5 and n - 9 <= j <= n - 5


def data_bits(grid: list[list[bool]], version: int, mask: Callable[[int, int], bool]) -> list[int]:
    """The data modules in the zigzag order: column pairs from the right, up then down, unmasked."""
    n = len(grid)
    bits: list[int] = []
    upward = True
    col = n - 1
    while col > 0:
        if col == 6:
            col -= 1  # the vertical timing pattern is skipped as a whole column
        rows = range(n - 1, -1, -1) if upward else range(n)
        for i in rows:
            for j in (col, col - 1):
                if not is_function(n, version, i, j):
                    bits.append(int(grid[i][j]) ^ int(mask(i, j)))
        upward = not upward
        col -= 2
    return bits


def read(svg: str) -> str:
    """The text the QR code holds; AssertionError if no mask and level give a byte-mode message."""
    grid = modules(svg)
    n = len(grid)
    version = (n - 17) // 4
    assert n == 4 * version + 17 and 1 <= version <= 4, f"{n} modules: not a version 1 to 4 QR code"
    found = set()
    for level in "LMQH":
        blocks = BLOCKS[(version, level)]
        for mask in MASKS:
            bits = data_bits(grid, version, mask)
            codewords = [int("".join(map(str, bits[k : k + 8])), 2) for k in range(0, len(bits) - 7, 8)]
            # Data codewords are interleaved across the blocks (equal blocks here): block b's k-th is at k·B + b.
            data = [codewords[k * len(blocks) + b] for b in range(len(blocks)) for k in range(blocks[b])]
            text = byte_message(data)
            if text is not None:
                found.add(text)
    assert len(found) == 1, f"readings: {found}"
    return found.pop()


def byte_message(data: list[int]) -> str | None:
    """Mode 0100 (bytes), an 8-bit count, the bytes and the terminator 0000, as UTF-8; None otherwise."""
    bits = "".join(f"{c:08b}" for c in data)
    if bits[:4] != "0100":
        return None
    count = int(bits[4:12], 2)
    end = 12 + 8 * count
    if end + 4 > len(bits) or bits[end : end + 4] != "0000":
        return None
    message = bytes(int(bits[12 + 8 * k : 20 + 8 * k], 2) for k in range(count))
    # What follows the terminator is padding, which readers ignore (segno here writes a zero codeword before
    # the standard's 0xEC 0x11 …): not checked.
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError:
        return None
