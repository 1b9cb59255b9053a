"""``backprop-lens train``: train on a data set in the terminal, with a progress bar and a line per epoch.

    backprop-lens train --dataset digits --sizes 64,30,10 --epochs 30 --eta 1.0 --batch 10 --save net.json
    backprop-lens train --dataset moons --sizes 2,30,1 --lmbda 5    # L2: w → (1 − ηλ/n) w − η ∂C₀/∂w

The options are validated by the page's ``TrainConfig``, within this command's own
``LOCAL_LIMITS`` rather than the server's ``Settings`` (a run on one's own machine is
bounded by its memory and patience, not by what a shared server allows one request).
``--save`` writes the trained network as JSON in the form ``/api/gradients`` and
``/api/trace`` accept. When the cost grows from one epoch to the next, the command says
so once, on standard error, with the epochs and a smaller η to try.
Exit status: 0 trained, 1 diverged (the last finite weights are still saved), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from backprop_lens.app.cli import command, plain_message
from backprop_lens.app.core.format import detail
from backprop_lens.app.core.settings import Settings, using
from backprop_lens.app.training.schemas import DEFAULT_ETA, TrainConfig, hidden_from_sizes
from backprop_lens.engine.training import EpochRecord, TrainingSession

BAR = 24


EPOCHS = 30  # a terminal run is short by default (the page's 300 epochs are there to be watched)

LOCAL_LIMITS: dict[str, float] = {
    "max_epochs": 1_000_000,
    "max_layers": 64,
    "max_width": 100_000,
    "max_training_parameters": 10_000_000,  # 80 MB of float64 weights, a few times that while training
    "max_training_examples": 1_000_000,
    "max_batch": 1_000_000,
    "max_eta": 1e6,
    "max_lmbda": 1e6,
    "max_csv_bytes": 1 << 30,
    "max_csv_rows": 10_000_000,
    "max_csv_cols": 100_000,
}
"""The bounds of a local run, in place of the server's ``Settings`` limits of the same names (which bound what
one request may ask of a shared server): generous, yet a typo such as ``--epochs 10000000`` still gets a message."""

FIXED_UP_TO = 1e6
"""Costs below this print with six decimals, aligned; larger ones (a diverging run's) as 1.23457×10³⁰⁰."""

GROWTH = 0.01
"""The cost "grew" in an epoch when it ends more than 1% above the epoch before: less is mini-batch noise."""

SHOWN_EPOCHS = 10


def local_settings() -> Settings:
    """The app's settings (and the environment's overrides), with ``LOCAL_LIMITS`` for a run in this terminal."""
    return Settings(**LOCAL_LIMITS)  # type: ignore[arg-type]


def _limits_help() -> str:
    words = {"max_eta": "η", "max_lmbda": "λ"}
    shown = ", ".join(
        f"{words.get(name, name.removeprefix('max_').replace('_', ' '))} {value:,.0f}"
        for name, value in LOCAL_LIMITS.items()
    )
    return (
        "A run in the terminal is bounded by these limits, not by the server's (BACKPROP_LENS_MAX_* settings "
        f"bound requests to a server): at most {shown}."
    )


def _args(p: argparse.ArgumentParser) -> None:
    # The defaults are the page's (TrainConfig's), so a run means the same in both; only the epochs differ.
    d = TrainConfig()
    p.epilog = _limits_help()
    widths = ",".join(str(n) for n in d.hidden)
    add = p.add_argument
    add("--dataset", default=d.dataset, help="xor, moons, circles, spirals, digits or csv (default %(default)s)")
    add("--csv", type=Path, help="a CSV file: features, then a label; implies --dataset csv")
    add("--sizes", help=f"layer sizes n_1,...,n_L, e.g. 64,30,10 (default: the data set's, {widths} hidden)")
    add("--epochs", type=int, default=EPOCHS, help="passes of SGD over the training set (default %(default)s)")
    add("--batch", type=int, default=d.batch, help="mini-batch size m (default %(default)s)")
    add("--eta", type=float, default=DEFAULT_ETA, help="learning rate η (default %(default)s, as on /train)")
    add("--lmbda", type=float, default=d.lmbda, help="L2 λ: w → (1 − ηλ/n) w − η ∂C/∂w (default %(default)s)")
    add("--cost", default=d.cost, help="cross_entropy or quadratic (default %(default)s)")
    add("--activation", default=d.activation, help="σ of the hidden layers (default %(default)s)")
    add("--output-activation", default=d.output_activation, help="σ of the output layer (default %(default)s)")
    add("--init", default=d.init, help="scaled: N(0, 1/n_in); standard: N(0, 1) (default %(default)s)")
    add("--seed", type=int, default=d.seed, help="draws the data, weights and mini-batches (default %(default)s)")
    add("--points", type=int, default=d.points, help="points of a generated data set (default %(default)s)")
    add("--noise", type=float, default=d.noise, help="σ of a generated data set's noise (default %(default)s)")
    add("--test-fraction", type=float, default=d.test_fraction, help="share held out (default %(default)s)")
    add("--save", type=Path, help="write the trained network to this JSON file")


def _percent(v: float | None) -> str:
    return "   –  " if v is None else f"{100 * v:5.1f}%"


def _number(v: float) -> str:
    """A cost: six decimals while it is of a sensible size; the app's formatter (×10ⁿ) once it is huge or not finite."""
    return f"{v:.6f}" if math.isfinite(v) and abs(v) < FIXED_UP_TO else detail(v)


def _cost(v: float | None) -> str:
    return "    –   " if v is None else _number(v)


def _line(r: EpochRecord, epochs: int) -> str:
    done = round(BAR * r.epoch / epochs)
    return (
        f"[{'#' * done}{'.' * (BAR - done)}] epoch {r.epoch:>{len(str(epochs))}}/{epochs}  "
        f"cost {_number(r.cost)}  test cost {_cost(r.test_cost)}  train {_percent(r.train_accuracy)}  "
        f"test {_percent(r.test_accuracy)}  {r.seconds:6.2f} s"
    )


def grew(costs: Sequence[tuple[int, float]]) -> list[int]:
    """The epochs whose cost ended more than ``GROWTH`` above the epoch before's (finite costs only)."""
    return [
        epoch
        for (_, before), (epoch, after) in pairwise(costs)
        if math.isfinite(before) and math.isfinite(after) and after > before * (1 + GROWTH)
    ]


def growth_warning(epochs: Sequence[int], eta: float) -> str:
    """The words for a cost that grew: when, with which η, and which η to try instead."""
    listed = ", ".join(str(e) for e in epochs[:SHOWN_EPOCHS])
    if len(epochs) > SHOWN_EPOCHS:
        listed += f", … ({len(epochs)} epochs in all)"
    which = f"epoch {listed}" if len(epochs) == 1 else f"epochs {listed}"
    return (
        f"the cost grew in {which} with η = {eta:g}: a step that large can overshoot the minimum it descends to. "
        f"Try a smaller η, such as --eta {eta / 10:g}."
    )


def _fail(message: str) -> int:
    print(f"backprop-lens train: {message}", file=sys.stderr)
    return 2


@command("train", "train a network with mini-batch SGD and print cost and accuracy per epoch", _args)
def train(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    fields: dict[str, object] = {
        "dataset": "csv" if args.csv else args.dataset,
        "points": args.points,
        "noise": args.noise,
        "test_fraction": args.test_fraction,
        "activation": args.activation,
        "output_activation": args.output_activation,
        "cost": args.cost,
        "init": args.init,
        "epochs": args.epochs,
        "batch": args.batch,
        "eta": args.eta,
        "lmbda": args.lmbda,
        "seed": args.seed,
    }
    try:
        if args.csv:
            fields["csv"] = args.csv.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(f"--csv: cannot read {args.csv}: {exc}")
    try:
        with using(local_settings()):
            config = TrainConfig.model_validate(fields)
            data = config.build_dataset()
            if args.sizes:
                sizes = [int(s) for s in args.sizes.split(",")]
                config = TrainConfig.model_validate({**fields, "hidden": hidden_from_sizes(sizes, data)})
            net = config.build_network(data)
        session = TrainingSession(
            net, data, config.epochs, config.batch, config.eta, config.cost, config.seed, lmbda=config.lmbda
        )
    except ValidationError as exc:
        err = exc.errors(include_input=False)[0]
        where = ".".join(str(p) for p in err["loc"] if not isinstance(p, int))
        message = plain_message(str(err["msg"]))
        return _fail(message if not where else f"--{where.replace('_', '-')}: {message}")
    except ValueError as exc:
        return _fail(str(exc).replace("invalid literal for int() with base 10", "--sizes: not a whole number"))

    every = max(1, config.epochs // 100)  # at most about a hundred lines
    print(
        f"training {net.sizes} on {data.name}: {data.x_train.shape[0]} examples, {data.x_test.shape[0]} held out; "
        f"η = {config.eta}, λ = {config.lmbda}, m = {config.batch}, {config.epochs} epochs, {config.cost} cost, "
        f"{config.init} init",
        file=out,
        flush=True,
    )

    costs: list[tuple[int, float]] = []

    def on_epoch(r: EpochRecord) -> None:
        costs.append((r.epoch, r.cost))
        if r.epoch % every == 0 or r.epoch == config.epochs:
            print(_line(r, config.epochs), file=out, flush=True)

    report = session.run(on_epoch=on_epoch)
    growing = grew(costs)
    if growing:
        print(f"backprop-lens train: {growth_warning(growing, config.eta)}", file=sys.stderr)
    if args.save:
        args.save.write_text(json.dumps(report.network.to_dict()) + "\n", encoding="utf-8")
        print(f"saved the network to {args.save}", file=out)
    if report.state == "diverged":
        print(f"backprop-lens train: {report.message}", file=sys.stderr)
        return 1
    print(f"trained in {report.seconds:.2f} s", file=out)
    return 0
