"""The instruments of engine.insight against independent computations.

The reference here is a plain-Python forward pass (loops over neurons, its own σ
and costs) that knows nothing of δ or BP1–BP4; derivatives come from central
differences of it, paths from explicit enumeration with itertools.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from backprop_lens.bench.baseline import backprop_per_example
from backprop_lens.engine import Network, backprop
from backprop_lens.engine.insight import (
    compare_costs,
    compare_speed,
    demon,
    example_batch,
    inside_minibatch,
    linear_network,
    matrix_form,
    modified_neuron,
    path_sum,
    saturation,
    widen,
)

Array = NDArray[np.float64]
Fn = Callable[[float], float]

SIGMA: dict[str, Fn] = {
    "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z)),
    "tanh": math.tanh,
    "relu": lambda z: max(z, 0.0),
    "linear": lambda z: z,
}


def quadratic(a: Sequence[float], y: Sequence[float]) -> float:
    return 0.5 * sum((ai - yi) ** 2 for ai, yi in zip(a, y, strict=True))


def cross_entropy(a: Sequence[float], y: Sequence[float]) -> float:
    return -sum(yi * math.log(ai) + (1 - yi) * math.log(1 - ai) for ai, yi in zip(a, y, strict=True))


COST: dict[str, Callable[[Sequence[float], Sequence[float]], float]] = {
    "quadratic": quadratic,
    "cross_entropy": cross_entropy,
}


def forward(
    net: Network,
    x: Sequence[float],
    at: tuple[int, int] | None = None,
    dz: float = 0.0,
    f: Fn | None = None,
) -> tuple[list[list[float]], list[list[float]]]:
    """zs and activations (a^1 = x first) neuron by neuron; neuron ``at`` = (l, j) nudged or given f."""
    a = [float(v) for v in x]
    zs: list[list[float]] = []
    acts = [a]
    for i, (w, b, name) in enumerate(zip(net.weights, net.biases, net.activation_names, strict=True)):
        z = [sum(float(w[r, c]) * a[c] for c in range(len(a))) + float(b[r]) for r in range(len(b))]
        new = []
        for r, zr in enumerate(z):
            if at == (i + 2, r):
                z[r] = zr = zr + dz
                new.append(f(zr) if f is not None else SIGMA[name](zr))
            else:
                new.append(SIGMA[name](zr))
        a = new
        zs.append(z)
        acts.append(a)
    return zs, acts


def cost_x(net: Network, x: Sequence[float], y: Sequence[float], cost: str = "quadratic", **kw: object) -> float:
    return COST[cost](forward(net, x, **kw)[1][-1], y)  # type: ignore[arg-type]


def dcost_dz(
    net: Network,
    x: Sequence[float],
    y: Sequence[float],
    layer: int,
    j: int,
    cost: str = "quadratic",
    f: Fn | None = None,
    h: float = 1e-6,
) -> float:
    """∂C_x/∂z^l_j by central differences of the reference forward pass."""
    up = COST[cost](forward(net, x, (layer, j), h, f)[1][-1], y)
    down = COST[cost](forward(net, x, (layer, j), -h, f)[1][-1], y)
    return (up - down) / (2 * h)


def dcost_dparams(
    net: Network, X: Array, Y: Array, cost_of: Callable[[Network], float], h: float = 1e-6
) -> tuple[list[Array], list[Array]]:
    """Central differences of any cost of the network, every weight and bias."""
    out_w: list[Array] = []
    out_b: list[Array] = []
    for params, out in ((net.weights, out_w), (net.biases, out_b)):
        for p in params:
            g = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                saved = p[idx]
                p[idx] = saved + h
                up = cost_of(net)
                p[idx] = saved - h
                down = cost_of(net)
                p[idx] = saved
                g[idx] = (up - down) / (2 * h)
            out.append(g)
    return out_w, out_b


def random_case(sizes: list[int], seed: int, m: int = 1, activation: str = "sigmoid") -> tuple[Network, Array, Array]:
    rng = np.random.default_rng(seed)
    net = Network(sizes, activation=activation, seed=seed)
    return net, rng.uniform(-1, 1, (m, sizes[0])), rng.uniform(0, 1, (m, sizes[-1]))


# --- 1. why backpropagation is fast -------------------------------------------------


@pytest.mark.parametrize("sizes", [[2, 3, 2], [3, 4, 4, 2]])
def test_speed_counts_passes_and_agrees_with_reference_differences(sizes: list[int]) -> None:
    net, X, Y = random_case(sizes, seed=3, m=2)
    s = compare_speed(net, X, Y, "quadratic")
    P = sum(w.size for w in net.weights) + sum(b.size for b in net.biases)
    assert s.parameters == P
    assert (s.backprop_passes, s.numerical_passes) == (2, 2 * P + 1)

    def mean_cost(n: Network) -> float:
        return sum(cost_x(n, x, y) for x, y in zip(X, Y, strict=True)) / len(X)

    ref_w, ref_b = dcost_dparams(net, X, Y, mean_cost)
    for mine, theirs, ref in zip(
        s.backprop.nabla_w + s.backprop.nabla_b, s.numerical.nabla_w + s.numerical.nabla_b, ref_w + ref_b, strict=True
    ):
        np.testing.assert_allclose(mine, ref, atol=1e-8)
        np.testing.assert_allclose(theirs, ref, atol=1e-8)
    for err, bp, fd in zip(s.relative_error_w, s.backprop.nabla_w, s.numerical.nabla_w, strict=True):
        for idx in np.ndindex(bp.shape):
            g_bp, g_fd = float(bp[idx]), float(fd[idx])
            assert err[idx] == pytest.approx(abs(g_bp - g_fd) / max(abs(g_bp), abs(g_fd), 1e-8))
    assert s.max_relative_error < 1e-4
    diffs = [
        abs(float(a) - float(b))
        for bp, fd in zip(
            s.backprop.nabla_w + s.backprop.nabla_b, s.numerical.nabla_w + s.numerical.nabla_b, strict=True
        )
        for a, b in zip(bp.ravel(), fd.ravel(), strict=True)
    ]
    assert s.max_absolute_error == max(diffs)


def test_widen_keeps_ends_and_grows_parameters() -> None:
    net = Network([3, 2, 2, 1], activation=["tanh", "tanh", "sigmoid"], seed=0)
    wide = widen(net, 10)
    assert wide.sizes == [3, 10, 10, 1]
    assert wide.activation_names == ["tanh", "tanh", "sigmoid"]
    assert wide.num_parameters == 3 * 10 + 10 + 10 * 10 + 10 + 10 + 1
    assert widen(Network([2, 1]), 4).sizes == [2, 4, 1]
    with pytest.raises(ValueError, match="width"):
        widen(net, 0)


# --- 2. the demon --------------------------------------------------------------------


@pytest.mark.parametrize(("sizes", "layer", "j"), [([2, 3, 2], 2, 1), ([3, 4, 3, 2], 3, 2), ([2, 2, 2], 3, 0)])
def test_demon_actual_change_is_a_nudged_forward_pass(sizes: list[int], layer: int, j: int) -> None:
    net, X, Y = random_case(sizes, seed=7, m=3)
    d = demon(net, X, Y, "quadratic", layer, j, [-5.0, -0.5, 1e-5, 0.5, 5.0], example=1)
    x, y = X[1], Y[1]
    base = cost_x(net, x, y)
    assert d.cost == pytest.approx(base, abs=1e-14)
    assert d.delta == pytest.approx(dcost_dz(net, x, y, layer, j), rel=1e-6, abs=1e-10)
    for n in d.nudges:
        nudged = cost_x(net, x, y, at=(layer, j), dz=n.dz)
        assert n.actual == pytest.approx(nudged - base, abs=1e-13)
        assert n.predicted == pytest.approx(d.delta * n.dz, rel=1e-15)
        gap = abs((nudged - base) - d.delta * n.dz) / max(abs(nudged - base), abs(d.delta * n.dz))
        assert n.linear_error == pytest.approx(gap, rel=1e-6, abs=1e-9)
    small = d.nudges[2]
    assert small.ratio is not None and small.ratio == pytest.approx(1.0, abs=1e-3)
    big = d.nudges[-1]
    assert big.ratio is not None and abs(big.ratio - 1.0) > abs(small.ratio - 1.0)


def test_demon_rejects_a_neuron_outside_the_network() -> None:
    net, X, Y = random_case([2, 3, 2], seed=0)
    with pytest.raises(ValueError, match="layer"):
        demon(net, X, Y, "quadratic", 4, 0, [0.1])
    with pytest.raises(ValueError, match="neuron"):
        demon(net, X, Y, "quadratic", 2, 3, [0.1])
    with pytest.raises(ValueError, match="example"):
        demon(net, X, Y, "quadratic", 2, 0, [0.1], example=1)


# --- 3. saturation ---------------------------------------------------------------------


def test_saturation_flags_match_reference_sigma_prime_and_activations() -> None:
    rng = np.random.default_rng(11)
    sizes = [4, 5, 4, 3]
    weights = [rng.normal(0, 4, (n, m)) for m, n in itertools.pairwise(sizes)]
    biases = [rng.normal(0, 2, n) for n in sizes[1:]]
    net = Network(sizes, weights=weights, biases=biases)
    x = np.array([[0.0, 0.7, -0.3, 0.005]])
    y = np.array([[0.0, 1.0, 0.5]])
    thr_sp, thr_a = 0.02, 0.01
    s = saturation(net, x, y, "quadratic", sigma_prime_threshold=thr_sp, activation_threshold=thr_a, max_listed=500)

    zs, acts = forward(net, x[0])
    h = 1e-6
    sp_ref = [[(SIGMA["sigmoid"](z + h) - SIGMA["sigmoid"](z - h)) / (2 * h) for z in layer] for layer in zs]
    expected_sat = {(i + 2, j) for i, layer in enumerate(sp_ref) for j, sp in enumerate(layer) if sp < thr_sp}
    assert {(n.layer, n.j) for n in s.saturated} == expected_sat
    assert expected_sat, "the case should saturate some neurons"
    assert all(n.slows_learning for n in s.saturated)
    expected_quiet = {(i + 1, k) for i, a in enumerate(acts[:-1]) for k, v in enumerate(a) if abs(v) < thr_a}
    assert {(q.layer, q.k) for q in s.quiet} == expected_quiet
    assert (1, 0) in expected_quiet and (1, 3) in expected_quiet

    expected_slow = {
        (layer, j, k)
        for layer in range(2, len(sizes) + 1)
        for j in range(sizes[layer - 1])
        for k in range(sizes[layer - 2])
        if (layer, j) in expected_sat or (layer - 1, k) in expected_quiet
    }
    assert {(w.layer, w.j, w.k) for w in s.slow_weights} == expected_slow
    assert s.slow_weight_count == len(expected_slow)
    assert s.weight_count == sum(w.size for w in net.weights)
    ref_w, _ = dcost_dparams(net, x, y, lambda n: cost_x(n, x[0], y[0]))
    for w in s.slow_weights:
        assert w.nabla_w == pytest.approx(ref_w[w.layer - 2][w.j, w.k], abs=1e-8)
    assert [abs(w.nabla_w) for w in s.slow_weights] == sorted(abs(w.nabla_w) for w in s.slow_weights)


def test_cross_entropy_output_saturation_does_not_slow_learning() -> None:
    net = Network([1, 1], weights=[[[1.0]]], biases=[[8.0]])  # a^L ≈ 0.9997, target 0
    x, y = np.array([[1.0]]), np.array([[0.0]])
    quad = saturation(net, x, y, "quadratic", sigma_prime_threshold=0.01)
    ce = saturation(net, x, y, "cross_entropy", sigma_prime_threshold=0.01)
    assert [n.slows_learning for n in quad.saturated] == [True]
    assert [n.slows_learning for n in ce.saturated] == [False]
    assert ce.slow_weight_count == 0 and quad.slow_weight_count == 1
    # independent: the bias gradient is tiny for quadratic, a − y for cross-entropy
    _, gq = dcost_dparams(net, x, y, lambda n: cost_x(n, x[0], y[0], "quadratic"))
    _, gc = dcost_dparams(net, x, y, lambda n: cost_x(n, x[0], y[0], "cross_entropy"))
    assert abs(gq[0][0]) < 1e-3 < 0.99 < gc[0][0]


# --- 4. sum over paths --------------------------------------------------------------------


def enumerate_paths(
    net: Network, x: Sequence[float], y: Sequence[float], layer: int, j: int, k: int
) -> list[tuple[tuple[int, ...], float]]:
    """Every path of eq. 53 and its product, by itertools, from the reference forward pass."""
    zs, acts = forward(net, x)
    sp = [[SIGMA["sigmoid"](z) * (1 - SIGMA["sigmoid"](z)) for z in layer_z] for layer_z in zs]
    grad_a = [a - t for a, t in zip(acts[-1], y, strict=True)]
    out = []
    for rest in itertools.product(*(range(n) for n in net.sizes[layer:])):
        neurons = (j, *rest)
        prod = acts[layer - 2][k] * sp[layer - 2][j]
        for step, (p, q) in enumerate(itertools.pairwise(neurons)):
            m = layer + 1 + step
            prod *= float(net.weights[m - 2][q, p]) * sp[m - 2][q]
        out.append((neurons, prod * grad_a[neurons[-1]]))
    return out


@pytest.mark.parametrize(
    ("sizes", "layer", "j", "k", "top"),
    [
        ([2, 3, 2], 2, 1, 0, 3),
        ([3, 4, 3, 2], 2, 2, 1, 5),
        ([2, 3, 4, 3, 2], 2, 0, 1, 7),
        ([2, 3, 4, 3, 2], 4, 1, 3, 2),
        ([3, 2, 2], 3, 1, 1, 4),
        ([2, 5, 5, 5, 3], 3, 4, 2, 50),
    ],
)
def test_path_sum_equals_explicit_enumeration_and_bp4(sizes: list[int], layer: int, j: int, k: int, top: int) -> None:
    for seed in range(3):
        net, X, Y = random_case(sizes, seed=seed)
        p = path_sum(net, X, Y, "quadratic", layer, j, k, top=top)
        every = enumerate_paths(net, X[0], Y[0], layer, j, k)
        assert p.count == len(every)
        total = math.fsum(prod for _, prod in every)
        assert p.total == pytest.approx(total, abs=1e-12)
        x0, y0 = X[0], Y[0]
        ref_w, _ = dcost_dparams(net, X, Y, lambda n: cost_x(n, x0, y0))  # noqa: B023 - used at once
        assert p.total == pytest.approx(ref_w[layer - 2][j, k], abs=1e-8)
        strongest = sorted(every, key=lambda t: -abs(t[1]))[:top]
        assert [q.neurons for q in p.paths] == [n for n, _ in strongest]
        for q, (_, prod) in zip(p.paths, strongest, strict=True):
            assert q.product == pytest.approx(prod, rel=1e-12, abs=1e-15)
            assert len(q.factors) == 2 * (len(sizes) - layer) + 3
        listed = {q.neurons for q in p.paths}
        assert p.rest_sum == pytest.approx(math.fsum(v for n, v in every if n not in listed), abs=1e-12)
        assert p.listed_sum + p.rest_sum == pytest.approx(p.total, abs=1e-15)


def test_path_sum_rejects_bad_indices() -> None:
    net, X, Y = random_case([2, 3, 2], seed=0)
    with pytest.raises(ValueError, match="input"):
        path_sum(net, X, Y, "quadratic", 2, 0, 2)
    with pytest.raises(ValueError, match="top"):
        path_sum(net, X, Y, "quadratic", 2, 0, 0, top=0)


# --- 5. matrix form ------------------------------------------------------------------------


@pytest.mark.parametrize("layer", [2, 3, 4])
def test_matrix_form_is_the_product_of_the_actual_matrices(layer: int) -> None:
    net, X, Y = random_case([3, 4, 3, 2], seed=5, m=2)
    mf = matrix_form(net, X, Y, "quadratic", layer, example=1)
    x, y = X[1], Y[1]
    zs, acts = forward(net, x)
    expected_layers: list[tuple[str, int]] = [("sigma_prime", layer)]
    for m in range(layer + 1, 5):
        expected_layers += [("weights_T", m), ("sigma_prime", m)]
    assert [(f.kind, f.layer) for f in mf.factors] == expected_layers
    for f in mf.factors:
        if f.kind == "weights_T":
            np.testing.assert_array_equal(f.matrix, net.weights[f.layer - 2].T)
        else:
            sp = [SIGMA["sigmoid"](z) * (1 - SIGMA["sigmoid"](z)) for z in zs[f.layer - 2]]
            np.testing.assert_allclose(np.diag(f.matrix), sp, rtol=1e-12)
            assert np.count_nonzero(f.matrix - np.diag(np.diag(f.matrix))) == 0
    np.testing.assert_allclose(mf.nabla_a, np.array(acts[-1]) - y, rtol=1e-12)
    fd = [dcost_dz(net, x, y, layer, j) for j in range(net.sizes[layer - 1])]
    np.testing.assert_allclose(mf.delta, fd, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(mf.delta, mf.delta_layerwise, rtol=1e-12, atol=1e-15)


# --- 6. inside a mini-batch ----------------------------------------------------------------


def test_minibatch_per_example_gradients_and_their_mean() -> None:
    net, X, Y = random_case([3, 4, 2], seed=9, m=5)
    b = inside_minibatch(net, X, Y, "quadratic")
    flats = []
    for x in range(5):
        cost, nw, nb = backprop_per_example(net, X[x : x + 1], Y[x : x + 1])
        assert b.costs[x] == pytest.approx(cost)
        for i in range(2):
            np.testing.assert_allclose(b.nabla_w_x[i][x], nw[i], rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(b.nabla_b_x[i][x], nb[i], rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(b.deltas[i][x], nb[i], rtol=1e-12, atol=1e-15)
        flats.append(np.concatenate([a.ravel() for a in (*nw, *nb)]))
    g = backprop(net, X, Y)
    for mine, theirs in zip(b.nabla_w + b.nabla_b, g.nabla_w + g.nabla_b, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-15)
    mean = np.mean(flats, axis=0)
    for x, flat in enumerate(flats):
        cos = float(flat @ mean) / (math.sqrt(float(flat @ flat)) * math.sqrt(float(mean @ mean)))
        assert b.cosine[x] == pytest.approx(cos, rel=1e-10)
    for i in range(2):
        for idx in np.ndindex(b.nabla_w[i].shape):
            agree = sum(np.sign(b.nabla_w_x[i][x][idx]) == np.sign(b.nabla_w[i][idx]) for x in range(5)) / 5
            assert b.agreement_w[i][idx] == pytest.approx(agree)


# --- 7. exercises --------------------------------------------------------------------------------


@pytest.mark.parametrize(("layer", "j", "f"), [(2, 1, "tanh"), (3, 0, "linear"), (4, 1, "tanh"), (2, 2, "relu")])
def test_modified_neuron_gradients_agree_with_differences(layer: int, j: int, f: str) -> None:
    net, X, Y = random_case([3, 4, 3, 2], seed=2, m=3)
    mn = modified_neuron(net, X, Y, "quadratic", layer, j, f)

    def mean_cost(n: Network) -> float:
        return sum(cost_x(n, x, y, at=(layer, j), f=SIGMA[f]) for x, y in zip(X, Y, strict=True)) / 3

    assert mn.cost == pytest.approx(mean_cost(net), abs=1e-14)
    ref_w, ref_b = dcost_dparams(net, X, Y, mean_cost)
    for mine, ref in zip(mn.nabla_w + mn.nabla_b, ref_w + ref_b, strict=True):
        np.testing.assert_allclose(mine, ref, atol=1e-8)
    for x in range(3):
        z = forward(net, X[x], (layer, j), 0.0, SIGMA[f])[0][layer - 2][j]
        h = 1e-6
        assert mn.f_prime[x] == pytest.approx((SIGMA[f](z + h) - SIGMA[f](z - h)) / (2 * h), abs=1e-8)
        sp = SIGMA["sigmoid"](z) * (1 - SIGMA["sigmoid"](z))
        assert mn.sigma_prime[x] == pytest.approx(sp, rel=1e-12)
    # the unmodified network gives other gradients: the exercise changes something
    plain = backprop(net, X, Y)
    assert not np.allclose(plain.nabla_b[layer - 2], mn.nabla_b[layer - 2])


def test_linear_network_delta_is_a_product_of_transposed_weights() -> None:
    net, X, Y = random_case([3, 4, 3, 2], seed=4, m=2)
    ln = linear_network(net, X, Y, "quadratic", example=1)
    x, y = X[1], Y[1]
    linear = Network(net.sizes, weights=net.weights, biases=net.biases, activation="linear")
    _, acts = forward(linear, x)
    np.testing.assert_allclose(ln.nabla_a, np.array(acts[-1]) - y, rtol=1e-12)
    for i, layer in enumerate(range(2, 5)):
        explicit = np.eye(2)
        for m in range(4, layer, -1):
            explicit = net.weights[m - 2].T @ explicit
        np.testing.assert_allclose(ln.maps[i], explicit, rtol=1e-12)
        fd = [dcost_dz(linear, x, y, layer, j) for j in range(net.sizes[layer - 1])]
        np.testing.assert_allclose(ln.deltas[i], fd, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(ln.deltas_backprop[i], ln.deltas[i], rtol=1e-12, atol=1e-14)


def test_cross_entropy_drops_the_sigma_prime_factor() -> None:
    net = Network([2, 3, 2], seed=1)
    X = np.array([[0.4, -0.9]])
    Y = np.array([[1.0, 0.0]])
    c = compare_costs(net, X, Y)
    zs, acts = forward(net, X[0])
    a, z = np.array(acts[-1]), np.array(zs[-1])
    sp = a * (1 - a)
    np.testing.assert_allclose(c.a_minus_y, a - Y[0], rtol=1e-12)
    np.testing.assert_allclose(c.cross_entropy.delta, a - Y[0], rtol=1e-10)
    np.testing.assert_allclose(c.quadratic.delta, (a - Y[0]) * sp, rtol=1e-10)
    np.testing.assert_allclose(c.quadratic.sigma_prime, sp, rtol=1e-12)
    for name, side in (("quadratic", c.quadratic), ("cross_entropy", c.cross_entropy)):
        fd = [dcost_dz(net, X[0], Y[0], 3, j, name) for j in range(2)]
        np.testing.assert_allclose(side.delta, fd, rtol=1e-6)
    np.testing.assert_allclose(c.z, z, rtol=1e-12)
    with pytest.raises(ValueError, match="sigmoid"):
        compare_costs(Network([2, 2], activation="tanh"), X, Y)
    with pytest.raises(ValueError, match="between 0 and 1"):
        compare_costs(net, X, np.array([[2.0, 0.0]]))


def test_example_batch_keeps_the_example_first_and_is_seeded() -> None:
    x, y = np.array([0.05, 0.10]), np.array([0.01, 0.99])
    X, Y = example_batch(x, y, 4, seed=3)
    assert X.shape == (4, 2) and Y.shape == (4, 2)
    np.testing.assert_array_equal(X[0], x)
    np.testing.assert_array_equal(Y[0], y)
    assert np.all((X[1:] >= -1) & (X[1:] <= 1)) and np.all((Y[1:] >= 0) & (Y[1:] <= 1))
    X2, Y2 = example_batch(x, y, 4, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    assert not np.array_equal(X, example_batch(x, y, 4, seed=4)[0])


def test_linear_network_refuses_cross_entropy() -> None:
    net, X, Y = random_case([2, 3, 2], seed=0)
    with pytest.raises(ValueError, match="cross-entropy"):
        linear_network(net, X, Y, "cross_entropy")
