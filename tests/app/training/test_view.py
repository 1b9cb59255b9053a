"""What the training page shows, as the server writes it (app.training.view, app.core.charts).

The references are independent: positions, widths and colours worked by hand from the chart's plot area
(40 … 310 by 10 … 140 of a 320 × 174 drawing), the palette's hex stops, and the PNG format's own layout
(read back here with zlib, not with the writer's code).
"""

from __future__ import annotations

import base64
import math
import re
import struct
import zlib

import numpy as np
import pytest

from backprop_lens.app.core.charts import fit_left, label_width, linear_axis, log_axis, png_data_url
from backprop_lens.app.training.view import (
    accuracy_chart,
    cost_chart,
    duration,
    eta_history,
    network_view,
    picture,
    speed_chart,
    svg,
    texts,
)
from backprop_lens.engine.network import Network
from backprop_lens.engine.training import EpochRecord, Report


def record(epoch: int, cost: float, eta: float = 1.0, **kw: float | None) -> EpochRecord:
    acc = kw.get("train_accuracy", 0.5)
    return EpochRecord(epoch, cost, acc, kw.get("test_accuracy"), 0.0, kw.get("test_cost"), (0.1, 0.01), eta)


def points(line: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in line.split())]


def read_png(url: str) -> list[list[tuple[int, ...]]]:
    """RGBA rows of a PNG without filters (the kind png_data_url writes), read by the format's definition."""
    data = base64.b64decode(url.removeprefix("data:image/png;base64,"))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert data[24:26] == bytes([8, 6])  # 8 bits, RGBA
    idat, at = b"", 8
    while at < len(data):
        (n,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + n]
        assert struct.unpack(">I", data[at + 8 + n : at + 12 + n])[0] == zlib.crc32(kind + body)
        if kind == b"IDAT":
            idat += body
        at += 12 + n
    raw = zlib.decompress(idat)
    stride = 1 + 4 * width
    rows = []
    for r in range(height):
        line = raw[r * stride : (r + 1) * stride]
        assert line[0] == 0
        rows.append([tuple(line[1 + 4 * c : 5 + 4 * c]) for c in range(width)])
    return rows


def test_a_picture_is_coloured_on_the_palettes_diverging_ramp() -> None:
    # −1, 0, 1 are the ramp's ends and middle: #2166ac, #f7f7f7, #b35806; −0.5 is its second stop #92c5de
    rows = read_png(picture([[-1.0, 0.0], [1.0, -0.5]], lambda v: v, 200))
    assert rows == [
        [(0x21, 0x66, 0xAC, 200), (0xF7, 0xF7, 0xF7, 200)],
        [(0xB3, 0x58, 0x06, 200), (0x92, 0xC5, 0xDE, 200)],
    ]
    assert read_png(png_data_url([[(1, 2, 3, 4)]])) == [[(1, 2, 3, 4)]]


def test_the_cost_chart_places_each_epoch_on_a_log_axis() -> None:
    # costs 1, 0.1, 0.01 at epochs 1, 2, 3 of 3: whole decades 10⁻² … 1, so t = 1, 0.5, 0 of the height
    rows = [record(1, 1.0), record(2, 0.1), record(3, 0.01)]
    chart = cost_chart(rows, 3, "log")
    line = next(line for line in chart.lines if line.id == "train-cost-line")
    left = chart.left
    expected = [(left + (310 - left) / 3, 10.0), (left + 2 * (310 - left) / 3, 75.0), (310.0, 140.0)]
    flat = [v for point in points(line.points) for v in point]  # pytest.approx takes flat sequences only
    assert flat == pytest.approx([v for point in expected for v in point], abs=0.05)
    assert line.epochs == "1 2 3"
    assert [(t.at, t.text) for t in chart.ticks] == [(140.0, "10⁻²"), (75.0, "10⁻¹"), (10.0, "1")]
    # the widest label "10⁻²" (two digits and two superscripts) fits left of the axis
    assert left >= label_width("10⁻²") + 8 and left == 40.0
    drawn = svg(chart)
    assert 'id="train-cost-chart"' in drawn and 'data-scale="log"' in drawn
    assert re.findall(r'<text class="tick" text-anchor="end" x="36.0" y="([0-9.]+)"', drawn) == [
        "143.0",
        "78.0",
        "13.0",
    ]


def test_a_cost_of_zero_lies_on_the_bottom_and_infinity_is_left_out() -> None:
    chart = cost_chart([record(1, 0.0), record(2, float("inf")), record(3, 0.5)], 3, "log")
    line = next(line for line in chart.lines if line.id == "train-cost-line")
    assert line.epochs == "1 3" and points(line.points)[0][1] == 140.0


def test_the_linear_axis_ends_at_a_round_number_and_labels_with_the_apps_minus_sign() -> None:
    axis = linear_axis([0.3, 1.7, None])
    assert axis.ticks == [(0.0, "0"), (0.5, "1"), (1.0, "2")]  # 2 is the round number above 1.7
    assert axis.t(1.0) == 0.5
    assert linear_axis([3e299]).ticks[-1] == (1.0, "5×10²⁹⁹")


def test_a_narrow_band_gets_a_fitted_log_axis_with_round_ends() -> None:
    # what the page's script drew before the server did (train.js's logTicks, run under Node on these values):
    # round ends just outside a margin of 0.004 decades, and round values between
    axis = log_axis([0.1250, 0.1262])
    assert [(round(t, 4), text) for t, text in axis.ticks] == [
        (0.0, "0.1238"), (0.3365, "0.125"), (0.6145, "0.126"), (1.0, "0.1274")
    ]  # fmt: skip
    t = axis.t(0.1262)
    assert t is not None and round(t, 4) == 0.6698
    # and by hand: log10(0.125 / 0.1238) / log10(0.1274 / 0.1238) of the height
    assert axis.t(0.125) == pytest.approx(math.log10(0.125 / 0.1238) / math.log10(0.1274 / 0.1238))


def test_the_widest_label_moves_the_axis_right() -> None:
    assert fit_left(40.0, ["0.1"]) == 40.0
    assert fit_left(40.0, ["2.5×10²⁹⁹"]) == 61  # 6 × 6.6 + 3 × 4.4 = 52.8, rounded up, and 8 to the axis


def test_accuracy_and_speed_charts_draw_every_epoch() -> None:
    rows = [record(e, 1.0 / e, train_accuracy=e / 4, test_accuracy=None) for e in (1, 2, 3, 4)]
    acc = accuracy_chart(rows, 4, "training 100.0%")
    train = next(line for line in acc.lines if line.id == "train-acc-train")
    assert points(train.points) == [(107.5, 107.5), (175.0, 75.0), (242.5, 42.5), (310.0, 10.0)]
    assert next(line for line in acc.lines if line.id == "train-acc-test").points == ""
    assert "training 100.0%" in svg(acc)
    speed = speed_chart(rows, 4, 2)
    assert [(line.layer, line.epochs) for line in speed.lines] == [(2, "1 2 3 4"), (3, "1 2 3 4")]
    assert 'id="train-speed-lines"' in svg(speed)


def test_eta_marks_and_history_say_where_eta_changed() -> None:
    rows = [record(1, 1.0, eta=2.0), record(2, 0.5, eta=2.0), record(3, 0.4, eta=0.5)]
    chart = cost_chart(rows, 3, "linear")
    assert [(m.epoch, m.title) for m in chart.marks] == [(3, "η = 0.5 from epoch 3")]
    assert chart.marks[0].x == 310.0
    assert eta_history(rows) == "η in the history: 2 from epoch 1 → 0.5 from epoch 3"
    assert eta_history(rows[:2]) is None


def test_the_status_texts() -> None:
    net = Network([2, 1], seed=0)
    report = Report("running", 3, 2, 8, 10, 95.2, 3.4, net, None, 1)
    rows = [record(3, -0.0 + 0.012345678, test_cost=2.5e-7, train_accuracy=0.9375, test_accuracy=0.5)]
    said = texts(report, rows)
    assert said["progress"] == "23%"  # (3 − 1) × 8 + 2 = 18 of 10 × 8 mini-batches: 22.5%, rounded half up
    assert said["epoch"] == "epoch 3 / 10" and said["batch"] == "mini-batch 2 / 8"
    assert said["time"] == "about 3 s left"
    assert said["cost"] == "C = 0.01235, test 2.5×10⁻⁷"
    assert said["accuracy"] == "training 93.8%, test 50.0%"
    assert duration(0.4) == "under a second" and duration(89.5) == "90 s" and duration(95.2) == "1 min 35 s"


def test_each_edge_has_its_width_class_and_read_out() -> None:
    net = Network([2, 1], seed=0)
    net.weights[0][...] = np.array([[-2.0, 0.5]])
    net.biases[0][...] = -0.25
    view = network_view(net, [[[0.1, -0.4]]], None, None, "sigmoid", "7")
    edges = view["edges"]
    assert isinstance(edges, list)
    # widths 0.4 + 4.6 |w| / 2 and 0.4 + 4.6 |g| / 0.4
    assert edges[0][0][0][:4] == ["wneg", "5.00", "gpos", "1.55"]
    assert edges[0][0][1][:4] == ["wpos", "1.55", "gneg", "5.00"]
    assert edges[0][0][0][6] == "w²₁₁ = −2 · mean ∂C/∂w²₁₁ over epoch 7 = 0.1"
    nodes = view["nodes"]
    assert isinstance(nodes, list)
    assert nodes[0][1] == ["input x₂", None]
    assert nodes[1][0] == ["neuron 1 of layer 2: b = −0.25", None]
    assert view["legend"] == {"w": "width |w| up to 2, ", "grad": "width |∂C/∂w| up to 0.4 (epoch 7), "}


def test_a_stream_draws_its_charts_at_most_every_view_seconds_and_in_its_last_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dataclasses import replace

    from backprop_lens.app.training import store
    from backprop_lens.app.training.schemas import TrainConfig, TrainingView
    from backprop_lens.app.training.view import VIEW_SECONDS

    clock = [100.0]
    monkeypatch.setattr("backprop_lens.app.training.store.time.monotonic", lambda: clock[0])
    run = store.build_training("run", TrainConfig(epochs=3))
    running = replace(run.session.report(), state="running")

    def view(report: Report) -> TrainingView:
        v = store.progress_event(run, report, []).view
        assert v is not None
        return v

    first = view(running)
    assert first.charts is not None and first.network is not None
    clock[0] += VIEW_SECONDS / 2
    between = view(running)
    assert between.charts is None and between.network is None and between.weights is None
    assert between.texts == first.texts  # the read-outs go with every event
    clock[0] += VIEW_SECONDS / 2
    assert view(running).charts is not None
    clock[0] += VIEW_SECONDS / 10
    finished = replace(running, state="finished")
    assert finished.final and view(finished).charts is not None
