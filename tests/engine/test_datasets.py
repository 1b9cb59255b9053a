"""Data sets: shapes, seeds, targets, scaling, the shipped digits file and CSV errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from backprop_lens.engine import datasets
from backprop_lens.engine.datasets import DIGITS_FILE, digits, from_csv, generated, one_hot


@pytest.mark.parametrize("name", list(datasets.GENERATED))
def test_generated_shapes_seeds_and_labels(name: str) -> None:
    a = generated(name, n=50, noise=0.05, test_fraction=0.2, seed=3)
    b = generated(name, n=50, noise=0.05, test_fraction=0.2, seed=3)
    c = generated(name, n=50, noise=0.05, test_fraction=0.2, seed=4)
    assert a.x_train.shape == (40, 2) and a.x_test.shape == (10, 2)
    assert a.y_train.shape == (40, 1) and a.y_test.shape == (10, 1)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    labels = np.concatenate([a.y_train, a.y_test]).ravel()
    assert set(labels.tolist()) == {0.0, 1.0}
    assert abs(labels.sum() - 25) <= 1, "the two classes alternate, so they are balanced"
    x_min, x_max, y_min, y_max = a.bounds()
    every = np.vstack([a.x_train, a.x_test])
    assert x_min < every[:, 0].min() and every[:, 0].max() < x_max
    assert y_min < every[:, 1].min() and every[:, 1].max() < y_max


def test_xor_without_noise_is_the_truth_table() -> None:
    d = generated("xor", n=4, noise=0.0, test_fraction=0.0, seed=0)
    table = {tuple(x): y[0] for x, y in zip(d.x_train.tolist(), d.y_train.tolist(), strict=True)}
    assert table == {(0.0, 0.0): 0.0, (0.0, 1.0): 1.0, (1.0, 0.0): 1.0, (1.0, 1.0): 0.0}
    assert d.x_test.shape == (0, 2)


def test_circles_radii_and_moons_labels_by_geometry() -> None:
    d = generated("circles", n=40, noise=0.0, test_fraction=0.0, seed=1)
    r = np.hypot(d.x_train[:, 0], d.x_train[:, 1])
    np.testing.assert_allclose(r, np.where(d.y_train[:, 0] == 0, 1.0, 0.5), atol=1e-12)
    m = generated("moons", n=40, noise=0.0, test_fraction=0.0, seed=1)
    upper = m.x_train[m.y_train[:, 0] == 0]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-12)


def test_digits_scaled_one_hot_and_a_held_out_fifth() -> None:
    d = digits(test_fraction=0.2, seed=0)
    assert d.x_train.shape[0] + d.x_test.shape[0] == 1797
    assert d.x_test.shape == (359, 64) and d.y_train.shape == (1438, 10)
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert np.array_equal(d.y_train.sum(axis=1), np.ones(1438))
    assert d.image_shape == (8, 8)
    # an independent reading of the file: the first row's pixels and label, by plain text parsing
    with gzip.open(DIGITS_FILE, "rt", encoding="ascii") as f:
        first = [int(v) for v in f.readline().split(",")]
    rows = np.vstack([d.x_train, d.x_test]) * 16
    labels = np.concatenate([d.y_train, d.y_test]).argmax(axis=1)
    hit = np.flatnonzero(np.all(rows == np.array(first[:64]), axis=1))
    assert hit.size >= 1 and labels[hit[0]] == first[64]
    assert np.array_equal(digits(seed=0).x_test, d.x_test)
    assert not np.array_equal(digits(seed=1).x_test, d.x_test)


def test_one_hot() -> None:
    assert one_hot(np.array([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]


def test_csv_with_header_scaling_and_classes() -> None:
    text = "height,width,kind\n1,10,b\n3,10,a\n\n2,10,c\n5,10,a\n"
    d = from_csv(text, test_fraction=0.0, seed=0)
    assert d.classes == ("a", "b", "c")
    rows = {tuple(x): tuple(y) for x, y in zip(d.x_train.tolist(), d.y_train.tolist(), strict=True)}
    assert rows == {
        (0.0, 0.0): (0.0, 1.0, 0.0),
        (0.5, 0.0): (1.0, 0.0, 0.0),
        (0.25, 0.0): (0.0, 0.0, 1.0),
        (1.0, 0.0): (1.0, 0.0, 0.0),
    }


def test_csv_two_numeric_classes_give_one_output_in_numeric_order() -> None:
    d = from_csv("0.5,10\n0.25,2\n1,10\n", test_fraction=0.0)
    assert d.classes == ("2", "10")
    pairs = sorted(zip(d.x_train[:, 0].tolist(), d.y_train[:, 0].tolist(), strict=True))
    assert pairs == [(0.0, 0.0), (1 / 3, 1.0), (1.0, 1.0)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "csv: the file is empty"),
        ("1,a\n", "at least two data rows"),
        ("1,2,a\n1,b\n", "csv line 2: expected 3 columns"),
        ("1,a\nx,b\n", r"csv line 2, column 1: 'x' is not a finite number"),
        ("1,a\nnan,b\n", "csv line 2, column 1"),
        ("1,a\n2,\n", "csv line 2, column 2: the label is empty"),
        ("1,a\n2,a\n", "only one class"),
        ("1\n2\n", "expected at least one feature column"),
    ],
)
def test_csv_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_csv(text)


def test_csv_limits() -> None:
    with pytest.raises(ValueError, match="3 data rows; the limit is 2"):
        from_csv("1,a\n2,b\n3,a\n", max_rows=2)
    with pytest.raises(ValueError, match="3 feature columns; the limit is 2"):
        from_csv("1,2,3,a\n1,2,3,b\n", max_cols=2)
    with pytest.raises(ValueError, match="3 distinct labels; the limit is 2"):
        from_csv("1,a\n2,b\n3,c\n", max_classes=2)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown generated set"):
        generated("blobs")
    with pytest.raises(ValueError, match="noise"):
        generated("xor", noise=-1.0)
    with pytest.raises(ValueError, match="test_fraction"):
        generated("xor", n=4, test_fraction=1.0)
