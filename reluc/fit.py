"""The core of ``reluc fit`` (issue 16, in progress): globally optimal training of a
one-hidden-layer ReLU network by Arora, Basu, Mianjy and Mukherjee's enumeration
(ICLR 2018, section 4, Algorithm 1).

A network of width w is ``f(x) = c + sum_i s_i relu(a_i . x + b_i)`` with ``s_i`` in
{-1, +1} (positive homogeneity moves any output weight's size into ``a_i, b_i``). Each
unit is active on the data points of one side of a hyperplane: fix, for every unit, its
sign and that set, and f on the data is linear in (a, b, c), under linear constraints
(``a_i . x_j + b_i >= 0`` on the unit's set, ``<= 0`` off it); the loss is then a convex
program (a QP for squared error, an LP for absolute error). The best over all choices is
the global optimum.

The sets a hyperplane induces on the data are the full-dimensional cells of the central
arrangement ``{(a, b): a . x_j + b = 0}``, that is the activation regions of a one-layer
network with rows ``[x_j, 1]``, which :func:`reluc.analysis.polytopes.enumerate_regions`
enumerates (for points in general position there are 2 sum_{k<=n} C(D-1, k), Cover's
count). Units are interchangeable, so only multisets of units are tried, and a unit
active nowhere is the zero unit (a narrower network).

Not yet here (see the issue): reading data files, the command, the exact certificate,
workers and Dask, the n = 1 algorithm, pruning.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc.errors import RelucError
from reluc.net import Layer, Net

LOSSES = ("l2", "l1")


def partitions(x: np.ndarray) -> np.ndarray:
    """Every set of data points (rows of ``x``) a hyperplane can make active, each once,
    as a boolean matrix (sets x points); the empty set first."""
    from reluc.analysis.polytopes import enumerate_regions

    d, n = x.shape
    rows = np.hstack([x, np.ones((d, 1))])
    dual = Net([Layer(rows, np.zeros(d)), Layer(np.ones((1, d)), np.zeros(1))])
    found = enumerate_regions(dual, [-1] * (n + 1), [1] * (n + 1), 1 << 22)
    sets = {tuple(np.unpackbits(np.frombuffer(p, np.uint8))[:d].astype(bool))
            for p in found.patterns}
    return np.array(sorted(sets, key=lambda s: (sum(s), s)), bool).reshape(-1, d)


@dataclass
class Fit:
    net: Net
    loss: float
    programs: int  # convex programs solved
    units: tuple  # the chosen (sign, set index) per unit
    exact_loss: Fraction | None = None  # the certified optimum of the best program
    complete: bool = True  # every program solved (else stopped by --max-seconds)
    total: int = 0  # the programs there are


def fit(x: np.ndarray, y: np.ndarray, width: int, loss: str = "l2",
        workers: int | None = None, max_seconds: float | None = None,
        progress=None) -> Fit:
    """The width-``width`` one-hidden-layer network with the least ``loss`` on (x, y).
    The programs are dealt out in chunks to ``workers`` processes (default: every core);
    the answer does not depend on how many (ties go to the first program in order).
    Past ``max_seconds`` the chunks stop: the best network found so far, not proved
    optimal (:attr:`Fit.complete` False). ``progress(done, total)`` after each chunk."""
    import contextlib
    import os
    import time
    from concurrent.futures import ProcessPoolExecutor, as_completed

    if loss not in LOSSES:
        raise RelucError(f"unknown loss '{loss}'; choose from {', '.join(LOSSES)}")
    x, y = np.asarray(x, float), np.asarray(y, float)
    sets = partitions(x)
    units = [None] + [(s, k) for k in range(1, len(sets)) for s in (1, -1)]
    combos = list(itertools.combinations_with_replacement(units, width))
    workers = workers or os.cpu_count() or 1
    size = max(64, -(-len(combos) // (workers * 8)))
    deadline = None if max_seconds is None else time.time() + max_seconds
    jobs = [(x, y, sets, loss, start, combos[start:start + size], deadline)
            for start in range(0, len(combos), size)]
    results, done = [], 0
    with ProcessPoolExecutor(workers) if workers > 1 and len(jobs) > 1 else \
            contextlib.nullcontext() as pool:
        outcomes = map(_chunk, jobs) if pool is None else \
            (f.result() for f in as_completed([pool.submit(_chunk, job) for job in jobs]))
        for outcome in outcomes:
            results.append(outcome)
            done += outcome[1]
            if progress:
                progress(done, len(combos))
    found = [r[0] for r in results if r[0] is not None]
    if not found:
        raise RelucError("no convex program was solved before --max-seconds")
    value, _, theta, chosen = min(found, key=lambda r: (r[0], r[1]))
    exact = None
    if loss == "l2":
        m, g = _matrices(x, [(s, sets[k]) for s, k in chosen])
        from reluc.fit_certificate import certify_l2

        exact = certify_l2(m, g, y, theta)
    if exact is not None:
        theta = np.array([float(v) for v in exact[0]])
    return Fit(_network(x.shape[1], width, theta, chosen), value, done, chosen,
               None if exact is None else exact[1], done == len(combos), len(combos))


def _chunk(job):
    """The best (value, index, solution, units) of one chunk of unit choices (None if
    none was solved), and how many were solved (fewer past the deadline)."""
    import time

    x, y, sets, loss, start, combos, deadline = job
    best, solved = None, 0
    for i, combo in enumerate(combos, start):
        if deadline is not None and time.time() > deadline:
            break
        chosen = tuple(u for u in combo if u is not None)
        value, theta = _program(x, y, [(s, sets[k]) for s, k in chosen], loss)
        solved += 1
        if theta is not None and (best is None or value < best[0]):
            best = (value, i, theta, chosen)
    return best, solved


def _program(x, y, units, loss):
    """The convex program of fixed units (sign, active set): its optimal loss and
    solution ``(a_1, b_1, ..., a_k, b_k, c)``, or (inf, None) if infeasible."""
    m, g = _matrices(x, units)
    return _l1(m, g, y) if loss == "l1" else _l2(m, g, y)


def _matrices(x, units) -> tuple[np.ndarray, np.ndarray]:
    """M (predictions = M theta) and G (constraints G theta <= 0) of fixed units."""
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


_HIGHS = []  # one HiGHS instance, reused


def _highs():
    """HiGHS, silent: its banner (printed to file descriptor 1 when the first instance
    is made) goes to /dev/null, so that stdout keeps only reluc's output."""
    import os

    import highspy

    if not _HIGHS:
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        h.setOptionValue("output_flag", False)
        _HIGHS.append(h)
    h = _HIGHS[0]
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


def _l1(m, g, y):
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
    return float(np.sum(np.abs(m @ theta - y))), theta


def _network(n, width, theta, chosen) -> Net:
    """The fitted network: hidden rows (a_i, b_i), output weights s_i, bias c; units
    not chosen are zero rows."""
    w1, b1, w2 = np.zeros((width, n)), np.zeros(width), np.zeros((1, width))
    for i, (s, _) in enumerate(chosen):
        w1[i], b1[i], w2[0, i] = theta[i * (n + 1):i * (n + 1) + n], theta[i * (n + 1) + n], s
    return Net([Layer(w1, b1), Layer(w2, np.array([theta[-1]]))])


# -- a data file to a network file ----------------------------------------------------------
MAX_PROGRAMS = 10_000_000  # past this many convex programs, --force is needed


def programs_needed(d: int, n: int, width: int) -> int:
    """An upper bound on the convex programs for D points in R^n (Cover's count of the
    partitions a hyperplane induces, 2 sum_{k<=n} C(D-1, k), of which the empty one is
    the zero unit): multisets of ``width`` units."""
    from math import comb

    sets = 2 * sum(comb(d - 1, k) for k in range(n + 1))
    units = 2 * sets - 1
    return comb(units + width - 1, width)


def load(path: str, target: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Rows ``x_1 .. x_n, y`` of a data file, y the last column or ``target`` (a header
    name or a column number from 0); and the file's SHA-256."""
    import hashlib

    from reluc.errors import InputError
    from reluc.rows import read_table

    names, data = read_table(path)
    if data.shape[0] < 2:
        raise InputError(f"the data has {data.shape[0]} row{'s' if data.shape[0] != 1 else ''}"
                         "; fitting needs at least 2")
    if data.shape[1] < 2:
        raise InputError("the data needs at least two columns (inputs, then the target)")
    col = data.shape[1] - 1
    if target is not None:
        if names is not None and target in names:
            col = names.index(target)
        elif target.isdigit() and int(target) < data.shape[1]:
            col = int(target)
        else:
            raise InputError(f"--target '{target}' is not a column of the data"
                             + (f" ({', '.join(names)})" if names else
                                f" (0 to {data.shape[1] - 1})"))
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return np.delete(data, col, axis=1), data[:, col], digest


def fit_file(data: str, width: int, output: str, fmt: str, loss: str = "l2",
             target: str | None = None, dtype: str = "float64", force: bool = False,
             workers: int | None = None, max_seconds: float | None = None, progress=None):
    """``reluc fit``: the best network of ``width`` for the data, written to ``output``;
    the :class:`Fit` and the metadata written."""
    from types import SimpleNamespace

    from reluc import __version__, formats
    from reluc.errors import InputError
    from reluc.formats.metadata import FORMAT_VERSION, FileInfo

    if width < 1:
        raise InputError("--width must be at least 1")
    x, y, digest = load(data, target)
    need = programs_needed(len(x), x.shape[1], width)
    if need > MAX_PROGRAMS and not force:
        raise InputError(f"the enumeration needs up to {need:.3g} convex programs ({len(x)} "
                         f"rows, {x.shape[1]} inputs, width {width}); pass --force to run it")
    result = fit(x, y, width, loss, workers, max_seconds, progress)
    meta = {"data_sha256": digest, "rows": len(x), "inputs": x.shape[1], "width": width,
            "loss": loss, "value": repr(result.loss), "programs": result.programs,
            "certificate": "none: the float optimum of its convex program (l1 is not "
                           "certified yet)" if loss == "l1" else
                           "failed: the float solution's active set gives no exact KKT point"}
    if not result.complete:
        meta["certificate"] = (f"NOT optimal: stopped by --max-seconds after {result.programs} "
                               f"of {result.total} convex programs; the best found so far")
    elif result.exact_loss is not None:
        meta["value"] = repr(float(result.exact_loss))
        meta["value_exact"] = str(result.exact_loss)
        meta["certificate"] = ("exact: the best convex program's solution, solved in "
                               "rationals on its active constraints, is feasible and has "
                               "multipliers >= 0 (KKT), so the loss is that program's exact "
                               "optimum")
    info = FileInfo(dtype=dtype, version=__version__, format=FORMAT_VERSION, fit=meta)
    formats.write(SimpleNamespace(dtype=dtype, source=result.net), output, fmt, "dense",
                  info=info)
    return result, meta
