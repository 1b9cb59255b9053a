"""The numbers tables: z, a, σ′(z), δ, ∂C/∂b and ∂C/∂w of every layer, and every update before → after."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from backprop_lens.app.core.format import SIG_DETAIL, exact, fmt, sub, sup
from backprop_lens.app.stepper.view.model import Cell, RunView, Table, TableRow, drawn

Array = NDArray[np.float64]


def cell(value: float | None, quantity: str, current: bool, sig: int = SIG_DETAIL) -> Cell:
    if value is None:
        return Cell("—", "", quantity, False)
    return Cell(fmt(value, sig), exact(value), quantity, current)


def tables_at(r: RunView, k: int) -> list[Table]:
    tl = r.timeline
    tables: list[Table] = []
    for layer in range(1, r.L + 1):
        rows: list[TableRow] = []
        idx = drawn(r.sizes[layer - 1])
        if layer == 1:
            columns = ["a = x"]
            for j in idx:
                if j is None:
                    rows.append(TableRow("⋮", [Cell("⋮", "", "", False)]))
                    continue
                rows.append(TableRow(str(j + 1), [cell(float(r.a[1][j]), f"a-1-{j + 1}", k == 0)]))
            tables.append(Table("numbers-1", "Layer 1 (input)", columns, rows, k == 0))
            continue
        a_known, delta_known, grad_known = r.seen(tl.a, layer, k), r.seen(tl.delta, layer, k), r.seen(tl.grad, layer, k)
        a_now, delta_now, grad_now = tl.a.get(layer) == k, tl.delta.get(layer) == k, tl.grad.get(layer) == k
        columns = ["z", "a", "σ′(z)", "δ", "∂C/∂b"]
        for j in idx:
            if j is None:
                rows.append(TableRow("⋮", [Cell("⋮", "", "", False) for _ in columns]))
                continue
            rows.append(
                TableRow(
                    str(j + 1),
                    [
                        cell(float(r.z[layer][j]) if a_known else None, f"z-{layer}-{j + 1}", a_now),
                        cell(float(r.a[layer][j]) if a_known else None, f"a-{layer}-{j + 1}", a_now),
                        cell(float(r.sp[layer][j]) if delta_known else None, f"sigma_prime-{layer}-{j + 1}", delta_now),
                        cell(float(r.delta[layer][j]) if delta_known else None, f"delta-{layer}-{j + 1}", delta_now),
                        cell(float(r.nabla_b[layer][j]) if grad_known else None, f"nabla_b-{layer}-{j + 1}", grad_now),
                    ],
                )
            )
        role = "output" if layer == r.L else "hidden"
        now = a_now or delta_now or grad_now
        tables.append(Table(f"numbers-{layer}", f"Layer {layer} ({role})", columns, rows, now))
    for layer in range(2, r.L + 1):
        grad_known, grad_now = r.seen(tl.grad, layer, k), tl.grad.get(layer) == k
        cols = drawn(r.sizes[layer - 2])
        rows = []
        for j in drawn(r.sizes[layer - 1]):
            if j is None:
                rows.append(TableRow("⋮", [Cell("⋮", "", "", False) for _ in cols]))
                continue
            cells = [
                Cell("⋯", "", "", False)
                if i is None
                else cell(
                    float(r.nabla_w[layer][j, i]) if grad_known else None, f"nabla_w-{layer}-{j + 1}-{i + 1}", grad_now
                )
                for i in cols
            ]
            rows.append(TableRow(f"j = {j + 1}", cells))
        columns = ["⋯" if i is None else f"k = {i + 1}" for i in cols]
        tables.append(
            Table(f"gradient-{layer}", f"∂C/∂w{sup(layer)} (row j, column k)", columns, rows, grad_now, corner="∂C/∂w")
        )
    if k >= tl.update:
        tables += [_update_table(r, layer) for layer in range(2, r.L + 1)]
    return tables


UPDATE_OPEN = 24  # a layer with more updated parameters than this starts folded
UPDATE_WEIGHTS_LISTED = 256  # per layer; the trace JSON has them all
UPDATE_BIASES_LISTED = 64


def _update_table(r: RunView, layer: int) -> Table:
    """Eqs. 20–21 for every weight and bias of one layer: before, gradient, after."""
    rows_out, cols_in = r.w[layer].shape
    rows: list[TableRow] = []

    def row(head: str, q: str, before: float, grad: float, after: float) -> None:
        """q: "w-2-1-1" for the weight before, "w_new-2-1-1" after."""
        name, index = q.split("-", 1)
        rows.append(
            TableRow(
                head,
                [
                    cell(before, q, False, SIG_DETAIL),
                    cell(grad, "", False),
                    cell(after, f"{name}_new-{index}", True, SIG_DETAIL),
                ],
            )
        )

    def gap(n: int, what: str) -> None:
        rows.append(TableRow("⋮", [Cell(f"{n} more {what}", "", "", False), Cell("", "", "", False),
                                   Cell("", "", "", False)]))  # fmt: skip

    listed = 0
    for j in range(rows_out):
        for i in range(cols_in):
            if listed == UPDATE_WEIGHTS_LISTED:
                break
            row(f"w{sup(layer)}{sub(j + 1, i + 1)}", f"w-{layer}-{j + 1}-{i + 1}", float(r.w[layer][j, i]),
                float(r.nabla_w[layer][j, i]), float(r.w_new[layer][j, i]))  # fmt: skip
            listed += 1
    if rows_out * cols_in > listed:
        gap(rows_out * cols_in - listed, "weights")
    for j in range(min(rows_out, UPDATE_BIASES_LISTED)):
        row(f"b{sup(layer)}{sub(j + 1)}", f"b-{layer}-{j + 1}", float(r.b[layer][j]), float(r.nabla_b[layer][j]),
            float(r.b_new[layer][j]))  # fmt: skip
    if rows_out > UPDATE_BIASES_LISTED:
        gap(rows_out - UPDATE_BIASES_LISTED, "biases")
    count = rows_out * cols_in + rows_out
    shown = min(rows_out * cols_in, UPDATE_WEIGHTS_LISTED) + min(rows_out, UPDATE_BIASES_LISTED)
    return Table(
        f"update-{layer}",
        f"Layer {layer}: w{sup(layer)} → w{sup(layer)} − η ∂C/∂w{sup(layer)}, b{sup(layer)} → "
        f"b{sup(layer)} − η ∂C/∂b{sup(layer)} ({count} parameters, η = {fmt(r.t.eta, SIG_DETAIL)})",
        ["before", "∂C/∂w or ∂C/∂b", "after"],
        rows,
        True,
        corner="parameter",
        collapsed=count > UPDATE_OPEN,
        note=f"{shown} of {count} listed; the trace JSON has every one." if shown < count else "",
    )
