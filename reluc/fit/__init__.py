"""``reluc fit`` (issue 16): globally optimal training of a one-hidden-layer ReLU
network by Arora, Basu, Mianjy and Mukherjee's enumeration (ICLR 2018, section 4,
Algorithm 1), with an exact certificate.

A network of width w is ``f(x) = c + sum_i s_i relu(a_i . x + b_i)`` with ``s_i`` in
{-1, +1} (positive homogeneity moves any output weight's size into ``a_i, b_i``; the
output bias c is ours, the paper has none). Each unit is active on the data points of
one side of a hyperplane: fix, for every unit, its sign and that set, and the loss is a
convex program (:mod:`reluc.fit.programs`); the best over all choices is the global
optimum. The sets are :mod:`reluc.fit.partitions`; the search, its order and pruning,
local processes and Dask, :mod:`reluc.fit.search`; the exact check of the winner,
:mod:`reluc.fit.certificate`. This module reads the data and writes the file.
"""

from __future__ import annotations

import numpy as np

from reluc.fit.partitions import partitions
from reluc.fit.search import LOSSES, Fit, fit

__all__ = ["LOSSES", "Fit", "fit", "fit_file", "load", "partitions", "programs_needed"]


# -- a data file to a network file ----------------------------------------------------------
MAX_PROGRAMS = 10_000_000  # past this many convex programs, --force is needed


def programs_needed(d: int, n: int, width: int) -> int:
    """An upper bound on the convex programs for D points in R^n (Cover's count of the
    partitions a hyperplane induces, 2 sum_{k<=n} C(D-1, k), of which the empty one is
    the zero unit): multisets of ``width`` units."""
    from math import comb

    sets = 2 * sum(comb(d - 1, k) for k in range(n + 1))
    units = 2 * (sets - 1)
    return comb(units, min(width, units))


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
             workers: int | None = None, max_seconds: float | None = None, progress=None,
             scheduler: str | None = None):
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
    result = fit(x, y, width, loss, workers, max_seconds, progress, scheduler)
    meta = {"data_sha256": digest, "rows": len(x), "inputs": x.shape[1], "width": width,
            "loss": loss, "value": repr(result.loss), "programs": result.total,
            "ruled_out_by_bound": result.pruned,
            "units": [{"sign": s, "active_rows": rows} for s, rows in result.partition],
            "certificate": "failed: no exact optimality proof was found near the float "
                           "solution of the best convex program"}
    if not result.complete:
        meta["solved"] = result.programs
        meta["certificate"] = (f"NOT optimal: stopped by --max-seconds after {result.programs} "
                               f"of {result.total} convex programs; the best found so far")
    elif result.exact_loss is not None:
        meta["value"] = repr(float(result.exact_loss))
        meta["value_exact"] = str(result.exact_loss)
        meta["certificate"] = "exact: " + (
            "the best convex program's solution, solved in rationals on its active "
            "constraints, is feasible and has multipliers >= 0 (KKT)" if loss == "l2" else
            "the best convex program's solution, solved in rationals at its vertex, is "
            "feasible, and an exact feasible point of the dual LP has the same objective")
        meta["certificate"] += (", so value_exact is that program's exact optimum; the "
                                f"{result.ties} program(s) within 1e-7 of the best were "
                                "ranked by their exact optima, the rest in floating point")
    # what the file computes (weights and inputs in its dtype), against the exact optimum
    err = result.net.evaluate(x, dtype=dtype)[:, 0].astype(float) - y
    meta["value_of_file"] = repr(float(err @ err if loss == "l2" else np.abs(err).sum()))
    info = FileInfo(dtype=dtype, version=__version__, format=FORMAT_VERSION, fit=meta)
    formats.write(SimpleNamespace(dtype=dtype, source=result.net), output, fmt, "dense",
                  info=info)
    return result, meta
