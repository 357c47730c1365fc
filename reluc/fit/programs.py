"""The convex program of one choice of units (:mod:`reluc.fit`), and the bound that
spares most of them.

A unit is a sign ``s`` (its output weight, +-1 by positive homogeneity) and the set of
data points on which it is active. With every unit fixed, the predictions are linear in
the parameters theta = (a_1, b_1, ..., a_k, b_k, c): ``M theta``, under the constraints
``G theta <= 0`` (``a . x_j + b >= 0`` on the unit's set, ``<= 0`` off it). Squared error
is then a QP, absolute error an LP."""

from __future__ import annotations

import threading

import numpy as np
import scipy.sparse as sp

from reluc.net import Layer, Net


def matrices(x, units) -> tuple[np.ndarray, np.ndarray]:
    """M (predictions = M theta) and G (constraints G theta <= 0) of units (sign, set)."""
    d, n = x.shape
    k = len(units)
    xb = np.hstack([x, np.ones((d, 1))])
    m = np.zeros((d, k * (n + 1) + 1))
    g = np.zeros((d * k, k * (n + 1) + 1))
    for i, (s, on) in enumerate(units):
        cols = slice(i * (n + 1), (i + 1) * (n + 1))
        m[on, cols] = s * xb[on]
        g[i * d:(i + 1) * d, cols] = np.where(on[:, None], -xb, xb)
    m[:, -1] = 1.0
    return m, g


def solve(x, y, units, loss):
    """The optimal loss and solution theta of the program of ``units``, or (inf, None)
    if it has none."""
    m, g = matrices(x, units)
    return l1_program(m, g, y) if loss == "l1" else _l2(m, g, y)


def lower_bounds(x, y, sets, groups, loss, batch: int = 4096) -> np.ndarray:
    """For each row of ``groups`` (one set index per unit), a lower bound on the optimal
    loss of every program whose units are active on those sets, whatever their signs:
    the least squares with the sign constraints dropped (a relaxation), ``|y|^2`` minus
    the squared projection of y on the columns of M, from a batched SVD (a direction is
    dropped only at a singular value below 1e-13 of the largest, which can only lower
    the bound). For l1, its square root (``|r|_1 >= |r|_2``)."""
    d, n = x.shape
    xb = np.hstack([x, np.ones((d, 1))])
    k = groups.shape[1]
    out = np.empty(len(groups))
    for start in range(0, len(groups), batch):
        g = groups[start:start + batch]
        m = np.empty((len(g), d, k * (n + 1) + 1))
        for i in range(k):
            m[:, :, i * (n + 1):(i + 1) * (n + 1)] = sets[g[:, i]][:, :, None] * xb
        m[:, :, -1] = 1.0
        u, s, _ = np.linalg.svd(m, full_matrices=False)
        proj = np.einsum("bdk,d->bk", u, y) * (s > 1e-13 * s[:, :1])
        out[start:start + len(g)] = np.maximum(y @ y - np.sum(proj ** 2, axis=1), 0.0)
    return np.sqrt(out) if loss == "l1" else out


_HIGHS = threading.local()  # one HiGHS instance per thread (Dask workers run threads)


def _highs():
    """This thread's HiGHS, silent: its banner (printed to file descriptor 1 when the
    first instance is made) goes to /dev/null, so that stdout keeps only reluc's output."""
    import os

    import highspy

    if not hasattr(_HIGHS, "h"):
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        h.setOptionValue("output_flag", False)
        _HIGHS.h = h
    h = _HIGHS.h
    h.clearModel()
    return h, highspy


def _l2(m, g, y):
    h, highspy = _highs()
    v, r = m.shape[1], g.shape[0]
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = v, r
    lp.col_cost_ = -2.0 * (m.T @ y)
    lp.col_lower_, lp.col_upper_ = np.full(v, -inf), np.full(v, inf)
    lp.row_lower_, lp.row_upper_ = np.full(r, -inf), np.zeros(r)
    a = sp.csc_array(g)  # HiGHS takes matrices column-wise
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    h.passModel(lp)
    q = sp.csc_array(np.tril(2.0 * (m.T @ m)))  # the Hessian's lower triangle
    hess = highspy.HighsHessian()
    hess.dim_, hess.format_ = v, highspy.HessianFormat.kTriangular
    hess.start_, hess.index_, hess.value_ = q.indptr, q.indices, q.data
    h.passHessian(hess)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return np.inf, None
    theta = np.array(h.getSolution().col_value)
    return float(np.sum((m @ theta - y) ** 2)), theta


def l1_program(m, g, y, duals: bool = False):
    """The LP of absolute error; with ``duals``, also the multipliers u (one per point,
    |u| <= 1) and mu >= 0 (one per constraint) of its dual."""
    from scipy.optimize import linprog

    d, v = m.shape
    # variables (theta, t): min sum t, -t <= m theta - y <= t, g theta <= 0
    c = np.r_[np.zeros(v), np.ones(d)]
    eye = np.eye(d)
    a_ub = np.vstack([np.hstack([m, -eye]), np.hstack([-m, -eye]),
                      np.hstack([g, np.zeros((g.shape[0], d))])])
    b_ub = np.r_[y, -y, np.zeros(g.shape[0])]
    r = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * v + [(0, None)] * d,
                method="highs")
    if r.status != 0:
        return np.inf, None
    theta = r.x[:v]
    value = float(np.sum(np.abs(m @ theta - y)))
    if duals:
        lam = -r.ineqlin.marginals  # scipy's marginals are d(objective)/d(b_ub) <= 0
        return value, theta, lam[:d] - lam[d:2 * d], lam[2 * d:]
    return value, theta


def network(n, width, theta, chosen) -> Net:
    """The fitted network: hidden rows (a_i, b_i), output weights s_i, bias c; units
    not chosen are zero rows."""
    w1, b1, w2 = np.zeros((width, n)), np.zeros(width), np.zeros((1, width))
    for i, (s, _) in enumerate(chosen):
        w1[i], b1[i], w2[0, i] = theta[i * (n + 1):i * (n + 1) + n], theta[i * (n + 1) + n], s
    return Net([Layer(w1, b1), Layer(w2, np.array([theta[-1]]))])
