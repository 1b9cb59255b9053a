"""The stream's patches: applied to step k-1's HTML, each gives step k's, element by element.

The reference is independent of ``app.stepper.view.patch``: the HTML is read by the standard library's
``html.parser`` into a tree of this file's own, and the operations are applied here as the module's
docstring defines them (elements found by id in a map of the whole tree, kept up to date as
operations remove and insert elements). Attribute
names are compared in lower case, as ``html.parser`` gives them; their case (``pathLength``,
``viewBox``) is checked by the browser test, tests/browser/test_stream_patch.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.main import create_app
from backprop_lens.app.stepper.view.patch import stage_patch

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
NETWORKS = {
    "worked example": None,
    "4-8-8-3": {"sizes": "4, 8, 8, 3", "x": "0.1, 0.2, 0.3, 0.4", "y": "0, 1, 0"},
    "widths of one, saturated": {"sizes": "1, 1, 1", "x": "300", "y": "1", "activation": "sigmoid"},
}
COMMON = {"activation": "sigmoid", "cost": "quadratic", "init": "standard", "eta": "0.5", "seed": "1",
          "weights": "", "biases": ""}  # fmt: skip


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)


class Builder(HTMLParser):
    """A tree from html.parser's callbacks; adjacent texts joined."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        siblings = self.stack[-1].children
        if siblings and isinstance(siblings[-1], str):
            siblings[-1] += data
        else:
            siblings.append(data)


def read(html: str) -> Node:
    b = Builder()
    b.feed(html)
    b.close()
    assert b.stack == [b.root]
    return b.root


def elements(node: Node) -> list[Node]:
    return [c for c in node.children if isinstance(c, Node)]


class Ids:
    """(element, parent) by id, for the tree as it is now."""

    def __init__(self, root: Node) -> None:
        self.root = root
        self.map: dict[str, tuple[Node, Node]] | None = None

    def __call__(self, ident: str) -> tuple[Node, Node]:
        if self.map is None:
            self.map = {}
            self.add(self.root)
        assert ident in self.map, f"no element has id {ident!r}"
        return self.map[ident]

    def add(self, parent: Node, nodes: list[Node | str] | None = None) -> None:
        """The ids of ``nodes`` (children of ``parent``; all of them by default) and of their descendants."""
        assert self.map is not None
        for c in parent.children if nodes is None else nodes:
            if isinstance(c, Node):
                if "id" in c.attrs:
                    assert c.attrs["id"] not in self.map, f"two elements have id {c.attrs['id']!r}"
                    self.map[c.attrs["id"]] = (c, parent)
                self.add(c)

    def drop(self, nodes: list[Node | str]) -> None:
        if self.map is not None:
            for n in nodes:
                for d in walk(n) if isinstance(n, Node) else []:
                    self.map.pop(d.attrs.get("id", ""), None)


def walk(node: Node) -> Iterator[Node]:
    yield node
    for c in elements(node):
        yield from walk(c)


def locate(root: Node, by_id: Ids, ident: str, path: list[int]) -> tuple[Node, Node | None]:
    node, parent = (root, None) if ident == "" else by_id(ident)
    for i in path:
        node, parent = elements(node)[i], node
    return node, parent


def apply(html: str, patch: dict[str, Any]) -> Node:
    """Step k's tree: step k-1's HTML with the patch's operations applied in order."""
    root = read(html)
    by_id = Ids(root)
    for kind, *args in patch["ops"]:
        if kind == "a":
            ids, path, attrs = args
            for ident in [ids] if isinstance(ids, str) else ids:
                node, _ = locate(root, by_id, ident, path)
                for name, value in attrs.items():
                    if value is None:
                        del node.attrs[name.lower()]
                    else:
                        node.attrs[name.lower()] = value
        elif kind == "t":
            node, _ = locate(root, by_id, args[0], args[1])
            assert not elements(node), "text set on an element that has elements"
            node.children = [args[2]] if args[2] else []
        elif kind == "h":
            node, _ = locate(root, by_id, args[0], args[1])
            by_id.drop(node.children)
            node.children = read(args[2]).children
            by_id.add(node)
        elif kind == "o":
            node, parent = locate(root, by_id, args[0], args[1])
            assert parent is not None
            i = next(i for i, c in enumerate(parent.children) if c is node)
            by_id.drop([node])
            new = read(args[2]).children
            parent.children[i : i + 1] = new
            by_id.add(parent, new)
        elif kind == "r":
            for ident in args[0]:
                node, parent = by_id(ident)
                i = next(i for i, c in enumerate(parent.children) if c is node)
                start = i - 1 if i and isinstance(parent.children[i - 1], str) else i
                del parent.children[start : i + 1]
                by_id.drop([node])
        elif kind == "i":
            parent, _ = locate(root, by_id, args[0], args[1])
            new = read(args[3]).children
            for after, n in args[2]:  # the next n elements, with the text before each
                ends = [i + 1 for i, c in enumerate(new) if isinstance(c, Node)]
                run, new = new[: ends[n - 1]], new[ends[n - 1] :]
                at = 0 if after is None else next(i for i, c in enumerate(parent.children) if c is by_id(after)[0]) + 1
                parent.children[at:at] = run
                by_id.add(parent, run)
            assert new == [], "html left over after the runs"
        else:
            raise AssertionError(f"unknown operation {kind!r}")
    return root


def canonical(node: Node | str) -> Any:
    """A comparable value: adjacent texts joined, empty texts dropped."""
    if isinstance(node, str):
        return node
    children: list[Any] = []
    for c in node.children:
        if isinstance(c, str) and children and isinstance(children[-1], str):
            children[-1] += c
        elif c != "":
            children.append(canonical(c))
    return (node.tag, sorted(node.attrs.items()), children)


def stages(form: dict[str, str] | None) -> list[str]:
    """Every step's stage HTML, as ``/runs/{id}/steps/{k}`` gives it to htmx."""
    client = TestClient(create_app())
    page = client.get("/" if form is None else f"/?{urlencode({**COMMON, **form})}").text
    run_id = re.search(r'data-run-id="([^"]+)"', page)
    steps = re.search(r'data-steps="(\d+)"', page)
    assert run_id and steps
    return [
        client.get(f"/runs/{run_id.group(1)}/steps/{k}", headers={"HX-Request": "true"}).text
        for k in range(int(steps.group(1)))
    ]


@pytest.mark.parametrize("form", NETWORKS.values(), ids=NETWORKS.keys())
def test_each_patch_turns_the_step_before_into_the_step(form: dict[str, str] | None) -> None:
    pages = stages(form)
    patched, sent = 0, 0
    for k in range(1, len(pages)):
        text = stage_patch(pages[k - 1], pages[k], k - 1, k)
        if text is None:  # the step goes whole: allowed, but only where a patch would not be much smaller
            sent += len(pages[k])
            continue
        patched, sent = patched + 1, sent + len(text)
        patch = json.loads(text)
        assert (patch["from"], patch["to"]) == (k - 1, k)
        assert canonical(apply(pages[k - 1], patch)) == canonical(read(pages[k])), f"step {k}"
    assert patched >= len(pages) - 2
    assert sent < sum(map(len, pages[1:])) / 2


@pytest.mark.slow  # seconds: eight layers of 16 at every kind of step
def test_patches_of_eight_layers_of_16_at_each_kind_of_step() -> None:
    """The largest page (every step is in the browser test): forward, output error, BP2, BP3/BP4, update."""
    pages = stages({"sizes": ", ".join(["16"] * 8), "x": ", ".join(["0.5"] * 16), "y": ", ".join(["0"] * 16)})
    assert len(pages) == 23
    for k in [1, 8, 9, 15, 22]:
        text = stage_patch(pages[k - 1], pages[k], k - 1, k)
        assert text is not None
        assert canonical(apply(pages[k - 1], json.loads(text))) == canonical(read(pages[k])), f"step {k}"


def patch_of(old: str, new: str) -> dict[str, Any]:
    text = stage_patch(old, new, 0, 1)
    assert text is not None
    patch: dict[str, Any] = json.loads(text)
    assert canonical(apply(old, patch)) == canonical(read(new))
    return patch


FILLER = '<p class="filler">' + "words that stay the same " * 20 + "</p>"  # so that a patch is worth sending


def test_attributes_set_and_removed_text_set_escapes_kept() -> None:
    old = f'<div id="a" class="x" hidden><span>1 &lt; 2</span></div>{FILLER}'
    new = f'<div id="a" class="x &amp; y"><span>3 &gt; 2 &amp; “b”</span></div>{FILLER}'
    ops = patch_of(old, new)["ops"]
    assert ["a", "a", [], {"class": "x & y", "hidden": None}] in ops
    assert ["t", "a", [0], "3 > 2 & “b”"] in ops


def test_svg_attribute_names_keep_their_case() -> None:
    old = f'<svg id="s" viewBox="0 0 1 1"><line id="l" pathLength="100" x1="0"/></svg>{FILLER}'
    new = f'<svg id="s" viewBox="0 0 2 2"><line id="l" pathLength="50" x1="0"/></svg>{FILLER}'
    ops = patch_of(old, new)["ops"]
    assert ["a", "s", [], {"viewBox": "0 0 2 2"}] in ops and ["a", "l", [], {"pathLength": "50"}] in ops


def test_keyed_children_are_removed_and_inserted_in_place() -> None:
    def kids(ids: str) -> str:
        return "".join(f'\n  <line id="{i}" x1="{i}"/>' for i in ids)

    old = f'<g id="G">{kids("bcdf")}\n</g>{FILLER}'
    for new_ids in ["abcdf", "bcdfg", "bcxydf", "bf", "", "axbycz", "f"]:
        patch_of(old, f'<g id="G">{kids(new_ids)}\n</g>{FILLER}')
    ops = patch_of(old, f'<g id="G">{kids("bcxydf")}\n</g>{FILLER}')["ops"]
    assert ops == [["i", "G", [], [["c", 2]], '\n  <line id="x" x1="x"/>\n  <line id="y" x1="y"/>']]
    ops = patch_of(old, f'<g id="G">{kids("abxcdfz")}\n</g>{FILLER}')["ops"]
    assert ops == [["i", "G", [], [[None, 1], ["b", 1], ["f", 1]], "".join(kids("axz"))]]


def test_a_change_of_order_text_beside_elements_and_children_without_ids_replace_the_inside() -> None:
    old = '<g id="g"><i id="p">1</i><i id="q">2</i></g><h2 id="h"><b>B</b> one</h2><ul id="u"><li>a</li></ul>'
    new = '<g id="g"><i id="q">2</i><i id="p">1</i></g><h2 id="h"><b>B</b> two</h2><ul id="u"><li>a</li><li>b</li></ul>'
    old, new = old + FILLER, new + FILLER
    kinds = [op[0] for op in patch_of(old, new)["ops"]]
    assert kinds == ["h", "h", "h"]


def test_math_is_replaced_whole_and_a_changed_element_without_id_is_found_under_its_ancestor() -> None:
    old = f'<div id="eq"><p>x</p><math display="block"><mn>1</mn></math></div><div id="t"><p><b>1</b></p></div>{FILLER}'
    new = f'<div id="eq"><p>x</p><math display="block"><mn>2</mn></math></div><div id="t"><p><b>2</b></p></div>{FILLER}'
    ops = patch_of(old, new)["ops"]
    assert ops == [["o", "eq", [1], '<math display="block"><mn>2</mn></math>'], ["t", "t", [0, 0], "2"]]


def test_void_elements_and_comments() -> None:
    old = f'<p id="p">a<br>b<!-- c --></p><input id="i" value="1">{FILLER}'
    assert patch_of(old, f'<p id="p">a<br>c</p><input id="i" value="2">{FILLER}')["ops"] == [
        ["h", "p", [], "a<br>c"],
        ["a", "i", [], {"value": "2"}],
    ]


def test_no_patch_when_it_would_not_be_much_smaller_or_the_html_is_unbalanced() -> None:
    assert stage_patch("<p>one</p>", "<p>two</p>", 0, 1) is None  # as long as the step itself
    assert stage_patch(f"<div>{FILLER}", f"<div>{FILLER}</div>", 0, 1) is None
    assert stage_patch(f"{FILLER}</div>", f"{FILLER}", 0, 1) is None
