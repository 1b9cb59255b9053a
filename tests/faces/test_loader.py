"""``backprop_lens.loader``: the shipped digits in the book's ``mnist_loader`` form.

The reference is the data file read here with ``gzip`` and ``csv``, not through the engine.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np

from backprop_lens import loader

DIGITS = Path(loader.__file__).resolve().parent / "engine" / "data" / "digits.csv.gz"


def file_rows() -> tuple[list[list[float]], list[int]]:
    with gzip.open(DIGITS, "rt", encoding="ascii") as f:
        rows = [[int(v) for v in row] for row in csv.reader(f)]
    return [[v / 16 for v in row[:64]] for row in rows], [row[64] for row in rows]


def test_load_data_splits_the_file_in_order_into_1297_250_250() -> None:
    pixels, labels = file_rows()
    parts = loader.load_data()
    assert [p[0].shape for p in parts] == [(1297, 64), (250, 64), (250, 64)]
    assert [p[1].shape for p in parts] == [(1297,), (250,), (250,)]
    assert np.array_equal(np.vstack([p[0] for p in parts]), np.array(pixels))
    assert np.concatenate([p[1] for p in parts]).tolist() == labels
    for images, digits in parts:
        assert images.dtype == np.float64 and images.min() >= 0.0 and images.max() <= 1.0
        assert np.issubdtype(digits.dtype, np.integer)
        assert np.bincount(digits, minlength=10).min() >= 22  # every digit in every part


def test_load_data_wrapper_gives_the_books_forms() -> None:
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = loader.load_data()
    training_data, validation_data, test_data = loader.load_data_wrapper()
    assert (len(training_data), len(validation_data), len(test_data)) == (1297, 250, 250)
    for i in (0, 1, 1296):
        x, y = training_data[i]
        assert x.shape == (64, 1) and np.array_equal(x[:, 0], train_x[i])
        assert y.shape == (10, 1) and y.sum() == 1.0 and y[train_y[i], 0] == 1.0
    for data, xs, ys in [(validation_data, valid_x, valid_y), (test_data, test_x, test_y)]:
        for i in (0, 249):
            x, label = data[i]
            assert x.shape == (64, 1) and np.array_equal(x[:, 0], xs[i])
            assert type(label) is int and label == ys[i]


def test_each_call_gives_arrays_of_its_own() -> None:
    first = loader.load_data()
    first[0][0][0, 0] = 99.0
    first[0][1][0] = 7
    again = loader.load_data()
    assert again[0][0][0, 0] != 99.0 and again[0][1][0] == file_rows()[1][0]


def test_vectorized_result_is_a_one_hot_column() -> None:
    e = loader.vectorized_result(np.int64(3))
    assert e.shape == (10, 1)
    assert e[:, 0].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
