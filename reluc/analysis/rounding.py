"""The rounding bound of a network evaluated in floating point, per input row: per
layer ``|fl(W h + b) - (W h + b)| <= gamma_k (|W| |h| + |b|)`` with ``gamma_k = k u / (1 -
k u)``, ``k`` the nonzeros of a row plus one and ``u`` the unit roundoff (Higham's
dot-product bound), propagated through the layers (ReLU is 1-Lipschitz); and
``verify``'s float check, which holds the file's runtime to it."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from reluc.analysis.cores import cores, pool, rows_per_piece
from reluc.analysis.report import Check
from reluc.compiler import UNIT_ROUNDOFF
from reluc.net import Net

__all__ = ["UNIT_ROUNDOFF", "RoundingBound", "advance", "bound_terms", "per_row",
           "rounding_bound", "recorded_rounding_check", "runtime_outputs", "float_check"]


class RoundingBound:
    """The rounding bound of the module docstring for rows ``x``, a layer at a time:
    ``e' = |W| e + gamma (|W| (|h| + e) + |b|)``, ``gamma = k u / (1 - k u)``, with the
    activations kept transposed, (features, rows)."""

    def __init__(self, x: np.ndarray, dtype: str):
        self.u = UNIT_ROUNDOFF[dtype]
        self.h = np.array(x, dtype=np.float64).T.copy()
        self.e = None  # zero before the first layer

    def terms(self, layer) -> tuple:
        """:func:`bound_terms` of ``layer`` in this bound's dtype."""
        return bound_terms(layer, self.u)

    def step(self, layer, relu: bool, terms: tuple | None = None) -> None:
        """ReLU first when ``relu`` (every layer but the first), then ``layer``, whose
        :meth:`terms` are made here when not given."""
        h = np.maximum(self.h, 0, out=self.h) if relu else np.abs(self.h)
        terms = self.terms(layer) if terms is None else terms
        z = layer.weight @ self.h
        if terms[2] is not None:
            z += layer.bias[:, None]
        self.h, self.e = z, advance(terms, h, self.e)

    def bound(self) -> np.ndarray:
        """Per row (:func:`per_row`)."""
        return np.zeros(self.h.shape[1]) if self.e is None else per_row(self.e)

    @classmethod
    def parts(cls, x: np.ndarray, dtype: str, width: int = 1) -> list[RoundingBound]:
        """The rows of ``x`` split into one bound a core at least, and into more when a
        part's arrays (``width`` values a row, the widest layer) would pass a piece's
        bytes (:data:`reluc.analysis.cores.PIECE_BYTES`)."""
        x = np.asarray(x, dtype=np.float64)
        count = max(cores(len(x)), -(-len(x) // rows_per_piece(max(width, x.shape[1]))))
        rows = np.array_split(np.arange(len(x)), max(1, min(count, len(x))))
        return [cls(x[r], dtype) for r in rows]


def bound_terms(layer, u: float) -> tuple:
    """What the bound takes from ``layer`` for unit roundoff ``u``, made once for all
    the rows: ``gamma |W|`` and ``(1 + gamma) |W|`` (``e' = gamma |W| |h| + (1 + gamma)
    |W| e + gamma |b|``: no pass over the rows' arrays to add ``|h| + e`` or to scale by
    ``gamma``), and ``gamma |b|``, None when ``b = 0`` (every comparator network)."""
    w = layer.weight
    counts = np.diff(w.indptr)  # nonzeros a row
    k = counts + (layer.bias != 0) + 1
    gamma = k * u / (1 - k * u)
    per_entry = np.repeat(gamma, counts)  # each nonzero's row's gamma
    absw = np.abs(w.data)
    with np.errstate(over="ignore"):  # (a weight near the dtype's largest: an inf bound)
        scaled = [sp.csr_array((absw * f, w.indices, w.indptr), shape=w.shape)
                  for f in (per_entry, 1 + per_entry)]
    return (*scaled, (gamma * np.abs(layer.bias))[:, None] if layer.bias.any() else None)


def advance(terms: tuple, h: np.ndarray, e: np.ndarray | None) -> np.ndarray:
    """The bound on the error of a layer's output, ``e' = gamma |W| h + (1 + gamma) |W| e +
    gamma |b|``, from the layer's :func:`bound_terms`, the magnitudes ``h`` of its input
    (ReLU applied) and the bound ``e`` on that input's error (None before the first
    layer); arrays (features, rows)."""
    gamma_w, carry_w, gamma_b = terms
    s = gamma_w @ h
    if e is not None:
        s += carry_w @ e
    if gamma_b is not None:
        s += gamma_b
    return s


def per_row(e: np.ndarray) -> np.ndarray:
    """The bound of each row (column of ``e``): its largest entry, inflated by 1% to
    cover the bound's own rounding in float64."""
    return e.max(axis=0) * 1.01


def rounding_bound(net: Net, x: np.ndarray, dtype: str) -> np.ndarray:
    """Per-row bound on |float evaluation - exact evaluation| of ``net`` in ``dtype``
    (see the module docstring), computed in float64; rows are split over the cores."""
    parts = RoundingBound.parts(x, dtype, net.width)
    with pool() as workers:
        for i, layer in enumerate(net.layers):
            terms = parts[0].terms(layer)
            list(workers.map(lambda p: p.step(layer, i > 0, terms), parts))
    return np.concatenate([p.bound() for p in parts])


def recorded_rounding_check(own: dict | None, recorded: dict, dtype: str, measured: float):
    """The file's recorded runtime rounding figures against ``own``, those of its weights
    and domain (:func:`reluc.compiler.runtime_rounding`), and its sound bound against
    the rounding error the float check measured."""
    data = {"recorded": recorded, "recomputed": own, "measured": measured}
    if own != recorded:
        return Check("rounding", "fail", f"the recorded {dtype} rounding figures {recorded} "
                     f"are not the file's: {own}", data)
    most = own["at_most"]
    if most is not None and measured > most:
        return Check("rounding", "fail", f"{dtype} rounding error {measured:.3g} measured, "
                     f"over the file's rounding bound {most:.3g}", data)
    text = "unknown" if most is None else f"{most:.3g}"
    return Check("rounding", "pass", f"{dtype} rounding over the domain: at least "
                 f"{own['at_least']:.3g} somewhere, at most {text} (recomputed from the "
                 f"weights; measured {measured:.3g})", data)


def runtime_outputs(runner, x: np.ndarray) -> np.ndarray:
    """What the file's runtime (``runner``, :class:`reluc.analysis.evaluate.Runner`)
    gives for the rows ``x``, as float64."""
    runner.guard = False  # rows past the proved limit: what the runtime gives, inf or not
    with np.errstate(over="ignore", invalid="ignore"):
        return runner(x).astype(np.float64)


def float_check(y, x, exact_y, ref_y, bound, dtype) -> Check:
    """``verify``'s float check: the outputs ``y`` of the file's runtime in its dtype
    (:func:`runtime_outputs`) on the rows ``x``, whose exact outputs are ``exact_y``, the
    reference's ``ref_y`` and the rounding bounds ``bound``. It passes when every output
    is within its row's rounding bound of the file's exact output; the error reported is
    against the reference (what a user gets), at the output where it is largest."""
    if not len(x):
        return Check("float", "skip", f"no test input is exactly representable in {dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        rounding = np.abs(y - exact_y)
    ok = bool(np.all(rounding <= bound[:, None]))  # (inf and NaN are never within)
    finite = np.isfinite(y).all(axis=1)  # the figures below are of the rows that did not
    x_all = x  # overflow (JSON has no inf or NaN); those rows are counted apart
    if not finite.any():
        return Check("float", "fail", f"{dtype} runtime: outputs overflow to inf or NaN on "
                     f"all {len(x)} inputs", {"dtype": dtype, "inputs": len(x),
                                              "overflowed_inputs": len(x)})
    y, x, bound = y[finite], x[finite], bound[finite]
    exact_y, ref_y, rounding = exact_y[finite], ref_y[finite], rounding[finite]
    err = np.abs(y - ref_y)
    at = np.unravel_index(int(np.argmax(err)), err.shape)
    largest, value = float(err[at]), float(ref_y[at])
    ulp = float(np.spacing(np.dtype(dtype).type(abs(value))))
    nonzero = ref_y != 0
    data = {
        "dtype": dtype, "inputs": len(x_all), "max_abs_error": largest,
        "output_at_max_error": value, "ulps_at_max_error": largest / ulp,
        "max_rel_error": float((err[nonzero] / np.abs(ref_y[nonzero])).max(initial=0.0)),
        "bitwise_exact_fraction": float(np.mean(err == 0)),
        "max_rounding_error": float(rounding.max()), "max_bound": float(bound.max()),
        "overflowed_inputs": int((~finite).sum()),
    }  # fmt: skip
    if not finite.all():  # an overflow: say where, not "error nan"
        i = int(np.flatnonzero(~finite)[0])
        detail = (f"{dtype} runtime: outputs overflow to inf or NaN on {int((~finite).sum())} "
                  f"of {len(x_all)} inputs (first: |x| = {np.abs(x_all[i]).max():.3g})")
    elif largest == 0:
        detail = f"{dtype} runtime: no error on {len(x)} inputs"
    else:
        detail = (f"{dtype} runtime: largest error {largest:.3g} where the output is "
                  f"{value:.6g} ({largest / ulp:.3g} ulp of it)")
        if float(rounding.max()) != largest:  # an approximation: its own error is part of it
            detail += f"; rounding error {float(rounding.max()):.3g}"
    verdict = "within" if ok else "OVER"
    return Check("float", "pass" if ok else "fail",
                 f"{detail}, {verdict} the rounding bound", data)
