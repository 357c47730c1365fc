"""The core of ``reluc fit`` (issue 16, in progress): the data partitions a hyperplane
induces, against brute force; and global optimality where the answer is known (data from
a network of the fitted width has loss 0)."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest
from scipy.optimize import linprog

from reluc.errors import RelucError
from reluc.fit import fit, partitions


def separable(x: np.ndarray, on: np.ndarray) -> bool:
    """Whether a hyperplane has the points ``on`` strictly on one side and the rest
    strictly on the other (an LP with margin 1, which scales to any positive margin)."""
    d, n = x.shape
    xb = np.hstack([x, np.ones((d, 1))])
    sign = np.where(on, -1.0, 1.0)[:, None]  # -(a.x + b) <= -1 on, (a.x + b) <= -1 off
    r = linprog(np.zeros(n + 1), A_ub=sign * xb, b_ub=-np.ones(d),
                bounds=[(None, None)] * (n + 1), method="highs")
    return r.status == 0


@pytest.mark.parametrize("n,d", [(1, 9), (2, 7), (2, 8)])
def test_the_partitions_are_every_separable_set_and_only_those(n, d):
    x = np.random.default_rng(n * 10 + d).normal(size=(d, n))
    sets = partitions(x)
    got = {tuple(s) for s in sets}
    assert len(got) == len(sets) == 2 * sum(comb(d - 1, k) for k in range(n + 1))  # Cover
    brute = {s for s in itertools.product([False, True], repeat=d)
             if separable(x, np.array(s))}
    assert got == brute


def test_collinear_and_repeated_points_give_fewer_partitions():
    x = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [1.0, 1.0], [0.0, 1.0]])
    sets = partitions(x)
    brute = {s for s in itertools.product([False, True], repeat=5)
             if separable(x, np.array(s))}
    assert {tuple(s) for s in sets} == brute


@pytest.mark.parametrize("loss", ["l2", "l1"])
def test_data_from_a_width_two_network_is_fitted_with_zero_loss(loss):
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, size=(10, 1))
    y = np.maximum(x[:, 0] - 0.3, 0) - 2 * np.maximum(0.1 - x[:, 0], 0) + 0.5
    r = fit(x, y, 2, loss)
    assert r.loss < 1e-10
    assert np.abs(r.net.evaluate(x)[:, 0] - y).max() < 1e-6
    one = fit(x, y, 1, loss)  # one unit cannot make two kinks
    assert one.loss > 1e-3


def test_two_inputs_from_a_width_two_network_are_fitted_with_zero_loss():
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, size=(7, 2))
    y = np.maximum(x @ [1.0, -1.0] + 0.2, 0) - np.maximum(x @ [0.5, 1.0] - 0.1, 0)
    r = fit(x, y, 2)
    units = 2 * len(partitions(x)) - 1  # a sign and a nonempty set, or the zero unit
    assert r.loss < 1e-10 and r.programs == comb(units + 1, 2)  # pairs, with repetition


def test_an_unknown_loss_is_refused():
    with pytest.raises(RelucError, match="unknown loss"):
        fit(np.zeros((2, 1)), np.zeros(2), 1, "huber")
