"""``backprop-lens train``: train on a data set in the terminal, with a progress bar and a line per epoch.

    backprop-lens train --dataset digits --sizes 64,30,10 --epochs 30 --eta 1.0 --batch 10 --save net.json
    backprop-lens train --dataset moons --sizes 2,30,1 --lmbda 5    # L2: w → (1 − ηλ/n) w − η ∂C₀/∂w

The options are validated by the page's ``TrainConfig``; ``--save`` writes the
trained network as JSON in the form ``/api/gradients`` and ``/api/trace`` accept.
Exit status: 0 trained, 1 diverged (the last finite weights are still saved), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from backprop_lens.app.cli import command
from backprop_lens.app.training.schemas import DEFAULT_ETA, TrainConfig, hidden_from_sizes
from backprop_lens.engine.training import EpochRecord, TrainingSession

BAR = 24


EPOCHS = 30  # a terminal run is short by default (the page's 300 epochs are there to be watched)


def _args(p: argparse.ArgumentParser) -> None:
    # The defaults are the page's (TrainConfig's), so a run means the same in both; only the epochs differ.
    d = TrainConfig()
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


def _cost(v: float | None) -> str:
    return "    –   " if v is None else f"{v:.6f}"


def _line(r: EpochRecord, epochs: int) -> str:
    done = round(BAR * r.epoch / epochs)
    return (
        f"[{'#' * done}{'.' * (BAR - done)}] epoch {r.epoch:>{len(str(epochs))}}/{epochs}  "
        f"cost {r.cost:.6f}  test cost {_cost(r.test_cost)}  train {_percent(r.train_accuracy)}  "
        f"test {_percent(r.test_accuracy)}  {r.seconds:6.2f} s"
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
        message = str(err["msg"]).removeprefix("Value error, ")
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

    def on_epoch(r: EpochRecord) -> None:
        if r.epoch % every == 0 or r.epoch == config.epochs:
            print(_line(r, config.epochs), file=out, flush=True)

    report = session.run(on_epoch=on_epoch)
    if args.save:
        args.save.write_text(json.dumps(report.network.to_dict()) + "\n", encoding="utf-8")
        print(f"saved the network to {args.save}", file=out)
    if report.state == "diverged":
        print(f"backprop-lens train: {report.message}", file=sys.stderr)
        return 1
    print(f"trained in {report.seconds:.2f} s", file=out)
    return 0
