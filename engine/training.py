"""A training session: SGD over a data set that reports as it goes and can be paused, resumed and stopped.

``TrainingSession.run`` trains with ``engine.sgd.mini_batches`` (call it in a
thread; the web app does). After every epoch it measures the cost C₀ (without
the L2 term) on the training and test sets, the accuracy on both, each layer's
speed of learning over the epoch (the mean |∂C/∂b^l| of its mini-batches) and
the η in force; at most every
``report_interval`` seconds (and at the end) it publishes a ``Report``: where
training is, the time left, and a copy of the current weights. A reader polls
``report()`` and ``history_since()`` from another thread.

Divergence is not hidden: when the cost or a weight becomes NaN or infinite,
training stops, the report says in which epoch and why, and the session keeps
the weights from the end of the last epoch whose cost was finite.

η may change during a run (``set_eta``), and a paused session can take exactly one
mini-batch (``step``). After every finished epoch the session holds a ``Checkpoint`` (the weights,
the epoch, the state of the shuffling generator, the η in force, the time trained and the history):
a new session on the same configuration that is ``restore``d from it trains on to the same final
weights as one that never stopped, bit for bit (a worker process that dies hands its training on so).
For two-dimensional inputs, ``decision_grid`` and ``neuron_grids``
give the output and every hidden neuron's activation over a grid of the plane.

Left out: early stopping on the test set, learning-rate schedules, and where checkpoints are kept
(the caller stores ``Checkpoint.to_dict()``; the web app keeps it in Redis). A checkpoint is taken only
at the end of an epoch: a session restored from it repeats the mini-batches after it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.backprop import feedforward, output_cost
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.datasets import Dataset
from backprop_lens.engine.network import Network
from backprop_lens.engine.sgd import EpochGradients, mini_batches

Array = NDArray[np.float64]
State = Literal["ready", "running", "paused", "finished", "stopped", "diverged"]
FINAL_STATES: frozenset[str] = frozenset({"finished", "stopped", "diverged"})


def classify(a: Array) -> NDArray[np.int64]:
    """The class a network's output stands for: a ≥ ½ for one output neuron, else the largest output."""
    if a.shape[1] == 1:
        return (a[:, 0] >= 0.5).astype(np.int64)
    return np.asarray(np.argmax(a, axis=1), dtype=np.int64)


def accuracy(net: Network, x: Array, y: Array) -> float | None:
    """The fraction of examples whose output's class is the target's class; None without examples."""
    if x.shape[0] == 0:
        return None
    return float(np.mean(classify(feedforward(net, x).activations[-1]) == classify(y)))


def grid_points(bounds: tuple[float, float, float, float], n: int) -> Array:
    """The n² centres of an n × n grid over (x_min, x_max, y_min, y_max), row by row.

    Row 0 is the top of the picture (largest x₂), column 0 the left (smallest x₁).
    """
    x_min, x_max, y_min, y_max = bounds
    xs = x_min + (np.arange(n) + 0.5) * (x_max - x_min) / n
    ys = y_max - (np.arange(n) + 0.5) * (y_max - y_min) / n
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()])


def decision_grid(net: Network, bounds: tuple[float, float, float, float], n: int) -> Array:
    """The first output a^L_1 at the centres of an n × n grid (``grid_points``)."""
    return feedforward(net, grid_points(bounds, n)).activations[-1][:, 0].reshape(n, n)


def neuron_grids(net: Network, bounds: tuple[float, float, float, float], n: int) -> list[Array]:
    """Eq. 25 at the centres of an n × n grid: each hidden layer's a^l as an array (n_l, n, n).

    ``[l][j]`` is hidden neuron j of layer l + 2 over the plane, laid out as ``decision_grid``.
    """
    hidden = feedforward(net, grid_points(bounds, n)).activations[1:-1]
    return [a.T.reshape(a.shape[1], n, n) for a in hidden]


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch achieved, measured after its last mini-batch."""

    epoch: int
    cost: float
    train_accuracy: float | None
    test_accuracy: float | None
    seconds: float
    test_cost: float | None = None
    speeds: tuple[float, ...] = ()  # layers 2 … L: the mean over the epoch's mini-batches of mean_j |∂C/∂b^l_j|
    eta: float = 0.0  # η in force at the end of the epoch


@dataclass(frozen=True)
class Report:
    """Where a session is; ``network`` is a copy of the latest finite weights."""

    state: State
    epoch: int
    batch: int
    batches_per_epoch: int
    epochs: int
    seconds: float
    seconds_left: float | None
    network: Network
    message: str | None
    version: int
    mean_nabla_w: tuple[Array, ...] | None = None  # the last completed epoch's mean ∂C₀/∂w per layer

    @property
    def fraction(self) -> float:
        """Mini-batches done over mini-batches in all epochs."""
        done = max(self.epoch - 1, 0) * self.batches_per_epoch + self.batch
        return min(done / (self.epochs * self.batches_per_epoch), 1.0)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class Checkpoint:
    """Everything a session needs to go on after epoch ``epoch`` as if it had never stopped.

    ``rng_state`` is the shuffling generator's (``numpy.random.Generator.bit_generator.state``) after it
    drew epoch ``epoch``'s order; ``seconds`` is the training time so far; ``history`` the records of
    epochs 1 … ``epoch``; ``mean_nabla_w`` the last epoch's mean ∂C₀/∂w per layer.
    """

    epoch: int
    network: Network
    rng_state: dict[str, Any]
    eta: float
    seconds: float
    history: tuple[EpochRecord, ...]
    mean_nabla_w: tuple[Array, ...] | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (floats as Python writes them, so ``json`` gives them back bit for bit)."""
        return {
            "epoch": self.epoch,
            "weights": [w.tolist() for w in self.network.weights],
            "biases": [b.tolist() for b in self.network.biases],
            "rng_state": self.rng_state,
            "eta": self.eta,
            "seconds": self.seconds,
            "history": [asdict(h) for h in self.history],
            "mean_nabla_w": None if self.mean_nabla_w is None else [g.tolist() for g in self.mean_nabla_w],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], like: Network) -> Checkpoint:
        """The checkpoint ``to_dict`` wrote, for a network with the sizes and activations of ``like``."""
        weights = [np.asarray(w, dtype=np.float64) for w in d["weights"]]
        biases = [np.asarray(b, dtype=np.float64) for b in d["biases"]]
        grads = d["mean_nabla_w"]
        return cls(
            epoch=int(d["epoch"]),
            network=like.with_parameters(weights, biases),
            rng_state=dict(d["rng_state"]),
            eta=float(d["eta"]),
            seconds=float(d["seconds"]),
            history=tuple(EpochRecord(**{**h, "speeds": tuple(h["speeds"])}) for h in d["history"]),
            mean_nabla_w=None if grads is None else tuple(np.asarray(g, dtype=np.float64) for g in grads),
        )


def _finite(net: Network) -> bool:
    return all(bool(np.isfinite(p).all()) for p in (*net.weights, *net.biases))


def divergence_message(epoch: int, cost: float, eta: float) -> str:
    """Why training stopped, in words, with the likely cause."""
    what = "not a number (NaN)" if math.isnan(cost) else "infinite"
    kept = "the initial ones" if epoch == 1 else f"those after epoch {epoch - 1}"
    return (
        f"Training diverged in epoch {epoch}: the cost became {what}. The likely cause is a learning rate "
        f"η = {eta:g} that is too large (each step overshoots and the weights blow up); try η = {eta / 10:g}. "
        f"The last finite weights are kept: {kept}."
    )


class TrainingSession:
    """Mini-batch SGD on ``data`` from ``net`` (which is copied, never changed)."""

    def __init__(
        self,
        net: Network,
        data: Dataset,
        epochs: int,
        mini_batch_size: int,
        eta: float,
        cost: str | Cost = "quadratic",
        seed: int | None = 0,
        report_interval: float = 0.1,
        epoch_delay: float = 0.0,
        lmbda: float = 0.0,
    ) -> None:
        if epochs < 1:
            raise ValueError(f"epochs: expected at least 1, got {epochs}")
        if mini_batch_size < 1:
            raise ValueError(f"mini_batch_size: expected at least 1, got {mini_batch_size}")
        if net.sizes[0] != data.n_inputs or net.sizes[-1] != data.n_outputs:
            raise ValueError(
                f"sizes: the data set has {data.n_inputs} inputs and {data.n_outputs} outputs, "
                f"the network {net.sizes[0]} and {net.sizes[-1]}"
            )
        self.data = data
        self.epochs = epochs
        self.mini_batch_size = mini_batch_size
        self.eta = eta
        self.lmbda = lmbda
        self.cost = get_cost(cost)
        self.seed = seed
        self.report_interval = report_interval
        self.epoch_delay = epoch_delay
        self.initial = net.copy()
        self._net = net.copy()
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._stop_reason = "stopped"
        self._single = False  # one mini-batch was asked for while paused: pause again after it
        self._sums = EpochGradients()
        self._mean_nabla_w: tuple[Array, ...] | None = None
        self._history: list[EpochRecord] = []
        self._thread: threading.Thread | None = None
        self._rng = np.random.default_rng(seed)
        self._resumed: Checkpoint | None = None
        self._checkpoint: Checkpoint | None = None
        n = data.x_train.shape[0]
        self._report = Report(
            "ready", 0, 0, (n + mini_batch_size - 1) // mini_batch_size, epochs, 0.0, None, net.copy(), None, 0
        )

    # --- controls, safe from any thread ---------------------------------------------

    def start(self) -> None:
        """Run in a daemon thread (once; later calls do nothing)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self.run, name="backprop-lens-training", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._single = False
        self._running.set()

    def step(self) -> bool:
        """Train exactly one mini-batch, then pause again; only while paused (returns whether it will)."""
        if not self.paused or self._stop.is_set():
            return False
        self._single = True
        self._running.set()
        return True

    def set_eta(self, eta: float) -> None:
        """The learning rate from the next mini-batch on; each epoch's record says the η it ended with."""
        if not (math.isfinite(eta) and eta > 0):
            raise ValueError(f"eta: expected a positive finite number, got {eta}")
        self.eta = eta

    def stop(self, reason: str = "stopped") -> None:
        """Stop after the current mini-batch; ``reason`` ends up in the final report's message."""
        self._stop_reason = reason
        self._stop.set()
        self._running.set()

    def restore(self, checkpoint: Checkpoint) -> None:
        """Go on from ``checkpoint`` (taken by a session on the same configuration); before ``run`` only."""
        with self._lock:
            if self._thread is not None or self._report.state != "ready":
                raise RuntimeError("restore: the session has started already")
            self._net = checkpoint.network.copy()
            self._rng.bit_generator.state = checkpoint.rng_state
            self.eta = checkpoint.eta
            self._history = list(checkpoint.history)
            self._mean_nabla_w = checkpoint.mean_nabla_w
            self._resumed = self._checkpoint = checkpoint
            old = self._report
            self._report = Report(
                "ready", checkpoint.epoch, old.batches_per_epoch, old.batches_per_epoch, self.epochs,
                checkpoint.seconds, None, checkpoint.network.copy(), None, old.version, checkpoint.mean_nabla_w,
            )  # fmt: skip

    def checkpoint(self) -> Checkpoint | None:
        """The latest finished epoch's checkpoint (None before the first)."""
        with self._lock:
            return self._checkpoint

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopping(self) -> bool:
        """Whether it was told to stop (it may not have started, or not yet reached the end of a mini-batch)."""
        return self._stop.is_set()

    def report(self) -> Report:
        with self._lock:
            return self._report

    def history_since(self, k: int) -> list[EpochRecord]:
        with self._lock:
            return self._history[k:]

    def network(self) -> Network:
        """The latest finite weights (a copy)."""
        return self.report().network.copy()

    # --- the training loop -----------------------------------------------------------

    def _publish(
        self, state: State, epoch: int, batch: int, busy: float, net: Network, message: str | None, paced: float = 0.0
    ) -> None:
        """Make a new report current; the time left extrapolates training and pacing time so far."""
        with self._lock:
            old = self._report
            report = Report(state, epoch, batch, old.batches_per_epoch, self.epochs, busy, None, net, message, 0)
            f = report.fraction
            left = (busy + paced) * (1.0 - f) / f if f > 0 and state not in FINAL_STATES else None
            self._report = Report(
                state, epoch, batch, old.batches_per_epoch, self.epochs, busy, left, net, message, old.version + 1,
                self._mean_nabla_w,
            )  # fmt: skip

    def _evaluate(self, epoch: int, busy: float) -> EpochRecord:
        d = self.data
        test_cost = None
        if len(d.x_test):
            test_cost = output_cost(self._net, self.cost, feedforward(self._net, d.x_test), d.y_test)
        return EpochRecord(
            epoch=epoch,
            cost=output_cost(self._net, self.cost, feedforward(self._net, d.x_train), d.y_train),
            train_accuracy=accuracy(self._net, d.x_train, d.y_train),
            test_accuracy=accuracy(self._net, d.x_test, d.y_test),
            seconds=busy,
            test_cost=test_cost,
            speeds=tuple(self._sums.speeds()),
            eta=self.eta,
        )

    @np.errstate(all="ignore")  # overflow is expected when η is too large; divergence is reported instead
    def run(self, on_epoch: Callable[[EpochRecord], None] | None = None) -> Report:
        """Train to the end (or until stopped or diverged) in this thread; returns the final report."""
        d = self.data
        last_finite = self._net.copy()
        resumed = self._resumed
        t0 = time.perf_counter() - (resumed.seconds if resumed else 0.0)  # a resumed session counts its past time
        waited = 0.0  # seconds paused: not training time, and not in the time-left estimate
        paced = 0.0  # seconds slowed down on purpose (epoch_delay): not training time, but they recur
        last_publish = -math.inf
        epoch = resumed.epoch if resumed else 0
        batch = self._report.batches_per_epoch if resumed else 0
        self._publish("running", epoch, batch, time.perf_counter() - t0, last_finite.copy(), None)
        steps = mini_batches(
            self._net, d.x_train, d.y_train, self.epochs, self.mini_batch_size, lambda: self.eta, self.cost, self.seed,
            self.lmbda, self._sums, self._rng, epoch + 1,
        )  # fmt: skip
        for progress in steps:
            epoch, batch, batches = progress.epoch, progress.batch, progress.batches_per_epoch
            if batch == batches:
                record = self._evaluate(epoch, time.perf_counter() - t0 - waited - paced)
                if not (math.isfinite(record.cost) and _finite(self._net)):
                    message = divergence_message(epoch, record.cost, self.eta)
                    self._publish("diverged", epoch - 1, batches, record.seconds, last_finite, message)
                    return self.report()
                last_finite = self._net.copy()
                with self._lock:
                    self._history.append(record)
                    self._mean_nabla_w = tuple(self._sums.mean_nabla_w())
                    self._checkpoint = Checkpoint(
                        epoch, last_finite, dict(self._rng.bit_generator.state), self.eta, record.seconds,
                        tuple(self._history), self._mean_nabla_w,
                    )  # fmt: skip
                if on_epoch is not None:
                    on_epoch(record)
            if self._stop.is_set():
                break
            now = time.perf_counter()
            if now - last_publish >= self.report_interval and _finite(self._net):
                self._publish("running", epoch, batch, now - t0 - waited - paced, self._net.copy(), None, paced)
                last_publish = now
            if batch == batches and self.epoch_delay > 0:
                pace_start = time.perf_counter()
                self._stop.wait(self.epoch_delay)
                paced += time.perf_counter() - pace_start
            if self._single:  # the one mini-batch asked for is done
                self._single = False
                self._running.clear()
            if not self._running.is_set():
                pause_start = time.perf_counter()
                self._publish("paused", epoch, batch, pause_start - t0 - waited - paced, self._net.copy(), None, paced)
                self._running.wait()
                waited += time.perf_counter() - pause_start
                last_publish = -math.inf
        busy = time.perf_counter() - t0 - waited - paced
        if self._stop.is_set():
            message = f"Training {self._stop_reason} in epoch {epoch} after mini-batch {batch}."
            net = self._net.copy() if _finite(self._net) else last_finite
            self._publish("stopped", epoch, batch, busy, net, message)
        else:
            self._publish("finished", epoch, batch, busy, last_finite, None)
        return self.report()
