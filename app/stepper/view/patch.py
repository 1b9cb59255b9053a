"""What changes on the page from one step to the next: a patch of ``#stage`` matched by element id.

The stream sends the whole stage once, then for every further step only what differs between the
rendered HTML of step k-1 and step k (``stage_patch``), which ``static/js/lens.js`` applies. Both
renders are the templates' own output, so the patch is computed on their text, not on the views:
whatever a template shows, the patch carries.

An operation finds its element by the id of the element or of its nearest ancestor that has one
(``""`` is ``#stage`` itself), then by element-child indices (text nodes are not counted, so
the browser's text nodes never shift a path). The operations, as JSON arrays:

- ``["a", id, path, {name: value or null}]``: set (or remove, null) attributes;
- ``["t", id, path, text]``: the element's text, when it holds nothing but text;
- ``["h", id, path, html]``: the element's inner HTML (its children changed in a way no finer
  operation says as briefly, or text changed beside child elements);
- ``["o", id, path, html]``: the element replaced by ``html`` (when that is shorter than its
  changes, and always for ``<math>``, whose parsing this module leaves to the browser);
- ``["r", [id, ...]]``: elements removed, each with the text node just before it;
- ``["i", id, path, [[after, n], ...], html]``: elements inserted into the element, parsed
  at once from ``html`` (the text before each element included), in runs: the next ``n`` elements
  (with their texts) after its child of id ``after``, or at its start when ``after`` is null.

Removals and insertions happen where every element child of both renders has an id (the edges, the
pulses, the neurons). A structure this module cannot parse
(an unbalanced tag) or a patch not much smaller than the step itself gives ``None``: the stream
then sends the whole step, which is always correct.

Left out: the browser's HTML parser. Templates write every end tag and quote every attribute, so
the element tree read here is the one the browser builds; ``tests/browser/test_stream_patch.py``
compares the two at every step.
"""

from __future__ import annotations

import functools
import html
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

VOID = frozenset(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"])
ATOMIC = frozenset({"math"})  # replaced whole when they differ; never walked into
WORTH = 0.8  # a patch at least this fraction of the step's HTML is not worth it: the whole step goes
TOKEN = re.compile(
    r"<!--.*?-->|<(/?)([A-Za-z][^\s/>]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>",
    re.DOTALL,
)
ATTR = re.compile(r"([^\s=/\"']+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'))?")

Op = list[Any]


@dataclass
class Element:
    """An element as written in the source: tag, attributes (unescaped), children, where it lies."""

    tag: str
    attrs: dict[str, str]
    start: int  # offset of "<" of its start tag
    inner: int = 0  # offset just after its start tag
    inner_end: int = 0  # offset of its end tag (= end for void and self-closed elements)
    end: int = 0  # offset just after its end tag
    children: list[Element | Text] = field(default_factory=list)

    @property
    def id(self) -> str | None:
        return self.attrs.get("id")

    def elements(self) -> list[Element]:
        return [c for c in self.children if isinstance(c, Element)]


@dataclass
class Text:
    """A text node: its unescaped text and where its source begins."""

    text: str
    start: int


class UnbalancedError(ValueError):
    """An end tag that closes no open element, or an element never closed."""


def _unescape(text: str) -> str:
    return html.unescape(text) if "&" in text else text


@functools.lru_cache(maxsize=2)  # step k's tree serves the patch to k and the patch from k (8×16: ~7 MB each)
def parse(source: str) -> Element:
    """The element tree of an HTML fragment, under a root element named ``""`` (not to be changed)."""
    root = Element("", {}, 0, 0, len(source), len(source))
    stack = [root]
    pos = 0

    def text(upto: int) -> None:
        if upto > pos:
            raw = _unescape(source[pos:upto])
            siblings = stack[-1].children
            if siblings and isinstance(siblings[-1], Text):  # a comment between two texts
                siblings[-1].text += raw
            else:
                siblings.append(Text(raw, pos))

    for m in TOKEN.finditer(source):
        text(m.start())
        pos = m.end()
        closing, tag, rest = m.group(1), m.group(2), m.group(3)
        if tag is None:  # a comment
            continue
        if closing:
            if len(stack) < 2 or stack[-1].tag.lower() != tag.lower():
                raise UnbalancedError(f"</{tag}> at {m.start()} closes <{stack[-1].tag}>")
            done = stack.pop()
            done.inner_end, done.end = m.start(), m.end()
            continue
        attrs = {name: _unescape(dq or sq) for name, dq, sq in ATTR.findall(rest.rstrip().removesuffix("/"))}
        el = Element(tag, attrs, m.start(), m.end())
        stack[-1].children.append(el)
        if tag.lower() in VOID or rest.rstrip().endswith("/"):
            el.inner_end = el.end = m.end()
        else:
            stack.append(el)
    text(len(source))
    if len(stack) != 1:
        raise UnbalancedError(f"<{stack[-1].tag}> is never closed")
    return root


def _texts(el: Element) -> str:
    return "".join(c.text for c in el.children if isinstance(c, Text))


def _shape(el: Element) -> list[tuple[str, str | None] | None]:
    """Children as kinds: None for text, (tag, id) for elements."""
    return [None if isinstance(c, Text) else (c.tag, c.id) for c in el.children]


Key = tuple[str, str, str]  # id, tag, the text before
Units = tuple[list[Key], list[tuple[int, Element]], str]


def _units(el: Element) -> Units | None:
    """Element children with the text just before each, keyed by (id, tag, that text), and the text after the last.

    None when an element child has no id, or two share one.
    """
    keys: list[Key] = []
    units: list[tuple[int, Element]] = []
    before, start = "", -1
    for c in el.children:
        if isinstance(c, Text):
            before, start = c.text, c.start
            continue
        if c.id is None:
            return None
        keys.append((c.id, c.tag, before))
        units.append((start if before else c.start, c))
        before, start = "", -1
    if len({k[0] for k in keys}) != len(keys):
        return None
    return keys, units, before


class Differ:
    """The operations that turn the old render into the new one (the new render's source is ``new``)."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new
        self.ops: list[Op] = []
        self.sizes: list[int] = []  # each op's length as JSON

    def emit(self, *op: Any) -> None:
        self.ops.append(list(op))
        self.sizes.append(len(_encode(op)))

    def outer(self, el: Element) -> str:
        return self.new[el.start : el.end]

    def inner(self, el: Element) -> str:
        return self.new[el.inner : el.inner_end]

    def element(self, a: Element, b: Element, anchor: str, path: list[int]) -> None:
        """Ops for element ``b`` over ``a`` (same tag, same id), located by ``anchor`` and ``path``."""
        if self.old[a.start : a.end] == self.new[b.start : b.end]:
            return  # the same source: nothing below changed (most of a step's tables)
        if b.id is not None:
            anchor, path = b.id, []
        if b.tag.lower() in ATOMIC:
            self.emit("o", anchor, path, self.outer(b))
            return
        changed: dict[str, str | None] = {k: v for k, v in b.attrs.items() if a.attrs.get(k) != v}
        changed.update({k: None for k in a.attrs if k not in b.attrs})
        if changed:
            self.emit("a", anchor, path, changed)
        self.children(a, b, anchor, path)

    def children(self, a: Element, b: Element, anchor: str, path: list[int]) -> None:
        if not a.elements() and not b.elements():
            if _texts(a) != _texts(b):
                self.emit("t", anchor, path, _texts(b))
            return
        if _shape(a) == _shape(b):
            if any(
                isinstance(x, Text) and isinstance(y, Text) and x.text != y.text
                for x, y in zip(a.children, b.children, strict=True)
            ):
                self.emit("h", anchor, path, self.inner(b))  # text beside elements changed
                return
            for i, (x, y) in enumerate(zip(a.elements(), b.elements(), strict=True)):
                self.child(x, y, anchor, [*path, i])
            return
        old, new = _units(a), _units(b)
        if old is None or new is None or old[2] != new[2]:
            self.emit("h", anchor, path, self.inner(b))
            return
        self.reconcile(old, new, b, anchor, path)

    def child(self, a: Element, b: Element, anchor: str, path: list[int]) -> None:
        """Ops for a child, or its replacement when that says the same in fewer characters."""
        mark = len(self.ops)
        self.element(a, b, anchor, path)
        if len(self.ops) > mark:
            whole = self.outer(b)
            if sum(self.sizes[mark:]) > len(whole) + len(anchor) + 16:
                del self.ops[mark:], self.sizes[mark:]
                self.emit("o", b.id or anchor, [] if b.id else path, whole)

    def reconcile(self, old: Units, new: Units, parent: Element, anchor: str, path: list[int]) -> None:
        """Keyed children: remove what went, insert what came (in runs), then walk those kept.

        Elements kept must keep their order (they do on this page: edges, pulses and neurons are
        written in one fixed order); otherwise the parent's inner HTML is sent.
        """
        (old_keys, old_units, _), (new_keys, new_units, _) = old, new
        old_at = {key: i for i, key in enumerate(old_keys)}
        kept = [(old_at[key], j) for j, key in enumerate(new_keys) if key in old_at]
        if any(a[0] >= b[0] for a, b in itertools.pairwise(kept)):
            self.emit("h", anchor, path, self.inner(parent))
            return
        new_set = set(new_keys)
        gone = [key[0] for key in old_keys if key not in new_set]
        if gone:
            self.emit("r", gone)
        runs: list[tuple[str | None, int]] = []
        pieces: list[str] = []
        j = 0
        while j < len(new_keys):
            if new_keys[j] in old_at:
                j += 1
                continue
            j1 = j
            while j < len(new_keys) and new_keys[j] not in old_at:
                j += 1
            runs.append((new_keys[j1 - 1][0] if j1 else None, j - j1))
            pieces.append(self.new[new_units[j1][0] : new_units[j - 1][1].end])
        if runs:
            self.emit("i", anchor, path, runs, "".join(pieces))
        for i, j in kept:
            self.child(old_units[i][1], new_units[j][1], anchor, path)


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def diff(old: str, new: str) -> list[Op]:
    """The operations that turn the fragment ``old`` into ``new`` (raises ``UnbalancedError`` on a bad tree).

    Attribute changes of elements found by their own id come last, one op for all the elements
    that change alike (``["a", [id, ...], [], {...}]``: the edges that light up at a step): such an
    element is neither inserted nor removed by the patch, so it can be set at the end.
    """
    differ = Differ(old, new)
    differ.children(parse(old), parse(new), "", [])
    ops: list[Op] = []
    alike: dict[str, list[str]] = {}
    for op in differ.ops:
        if op[0] == "a" and not op[2]:
            alike.setdefault(_encode(op[3]), []).append(op[1])
        else:
            ops.append(op)
    for changes, ids in alike.items():
        ops.append(["a", ids if len(ids) > 1 else ids[0], [], json.loads(changes)])
    return ops


def stage_patch(old: str, new: str, base: int, step: int) -> str | None:
    """The patch from step ``base``'s stage to step ``step``'s as JSON, or None when the whole step is better."""
    try:
        ops = diff(old, new)
    except UnbalancedError:
        return None
    text = _encode({"from": base, "to": step, "ops": ops})
    return text if len(text) < WORTH * len(new) else None
