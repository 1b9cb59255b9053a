"""``backprop-lens train`` in the terminal: huge costs in ×10ⁿ, one warning in words when η makes the cost grow,
and bounds of its own rather than the server's request limits (with messages for what is out of them).

The runs are seeded and small (a few dozen examples, a handful of epochs); nothing depends on the machine's speed.
"""

from __future__ import annotations

import re

import pytest

from backprop_lens.app.cli import main
from backprop_lens.app.training.cli import LOCAL_LIMITS, _line, grew, growth_warning
from backprop_lens.engine.training import EpochRecord

LINEAR = ["--sizes", "2,4,1", "--activation", "linear", "--output-activation", "linear", "--cost", "quadratic",
          "--batch", "200", "--test-fraction", "0"]  # fmt: skip
"""Full-batch gradient descent on a linear 2-4-1 network and XOR's 200 points: η decides alone whether C grows."""


def test_a_huge_cost_prints_in_powers_of_ten_not_in_300_digits() -> None:
    line = _line(EpochRecord(epoch=3, cost=2.909e304, train_accuracy=0.5, test_accuracy=None, seconds=0.0), 8)
    assert "cost 2.909×10³⁰⁴" in line and not re.search(r"\d{8}", line)
    assert "cost 0.012346" in _line(EpochRecord(3, 0.0123456, None, None, 0.0), 8)  # a usual cost: six decimals


def test_a_diverging_run_prints_its_growing_costs_in_powers_of_ten(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *LINEAR, "--eta", "1.6", "--epochs", "12"]) == 1
    captured = capsys.readouterr()
    costs = re.findall(r"  cost (\S+)", captured.out)
    assert len(costs) >= 5 and any("×10" in c for c in costs)
    assert max(len(c) for c in costs) < 20  # 2.90906×10³⁰⁴, where {:.6f} wrote 305 digits
    assert "Training diverged" in captured.err


def test_the_cost_growing_is_warned_of_once_naming_eta_and_the_epochs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *LINEAR, "--eta", "0.5", "--epochs", "30"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("backprop-lens train: the cost grew in epochs 2, 3, ")
    assert "η = 0.5" in err[0] and "--eta 0.05" in err[0]


def test_a_cost_that_falls_gives_no_warning(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *LINEAR, "--eta", "0.2", "--epochs", "30"]) == 0
    assert capsys.readouterr().err == ""


def test_growth_is_more_than_noise_between_finite_costs() -> None:
    costs = [(1, 1.0), (2, 1.005), (3, 1.2), (4, 1.1), (5, float("nan")), (6, 2.0), (7, float("inf"))]
    assert grew(costs) == [3]  # 0.5% is noise; NaN and ∞ are the divergence message's to report
    assert grew([]) == [] and grew([(1, 1.0)]) == []
    many = growth_warning(list(range(2, 30)), 3.0)
    assert "epochs 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, … (28 epochs in all) with η = 3" in many and "--eta 0.3" in many
    assert "in epoch 7 with η = 0.01" in growth_warning([7], 0.01)


def test_a_local_run_is_not_bound_by_the_servers_limits(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a server configured tightly (and its defaults: width 1024, 20 000 trained parameters) limits requests only
    monkeypatch.setenv("BACKPROP_LENS_MAX_EPOCHS", "100")
    argv = ["train", "--points", "8", "--test-fraction", "0", "--batch", "8", "--sizes", "2,2000,1", "--epochs", "200"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "training [2, 2000, 1]" in captured.out and "epoch 200/200" in captured.out
    assert "backprop-lens train: --" not in captured.err  # no option refused


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "10000000"], "--epochs: Input should be less than or equal to 1000000"),
        (["--epochs", "0"], "--epochs: Input should be greater than or equal to 1"),
        (["--sizes", "2,100000,100000,1"], "hidden: the network [2, 100000, 100000, 1] has"),
        (["--eta", "0"], "--eta: Input should be greater than 0"),
        (["--cost", "cross_entropy", "--output-activation", "relu"], "output_activation: the cross-entropy cost"),
    ],
)
def test_the_local_bounds_give_messages(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"backprop-lens train: {message}"), err
    assert "Value error" not in err and "Assertion failed" not in err


def test_the_help_states_the_local_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "not by the server's" in out
    assert f"epochs {LOCAL_LIMITS['max_epochs']:,.0f}" in out and f"width {LOCAL_LIMITS['max_width']:,.0f}" in out
