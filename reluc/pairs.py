"""Rows in negated pairs: a layer whose row ``2k + 1`` is ``-(row 2k)`` (every hidden layer
of a comparator network on R, which passes each value ``z`` on as ``relu(z)`` and
``relu(-z)``). Such a layer is held as its even rows too, so that work done a row at a
time is done once a pair: the sparse ONNX layout stores and multiplies the even rows
alone, and the range bound multiplies by them. Negation is exact, so each odd row's
result is bit for bit what its own product would give."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp


# entries from which a matrix's index arrays must be int64 (scipy gives int32 below)
INT32_ENTRIES = 2**31


def in_negated_pairs(w: sp.csr_array) -> bool:
    """Whether row ``2k + 1`` of ``w`` is ``-(row 2k)`` for every ``k``, entry by entry."""
    lengths = np.diff(w.indptr)
    if w.shape[0] % 2 or not np.array_equal(lengths[0::2], lengths[1::2]):
        return False
    odd = np.repeat(np.arange(w.shape[0]) % 2 == 1, lengths)  # the odd rows' entries
    # (row by row, the odd rows' entries line up with the even rows': equal lengths)
    return bool(np.array_equal(w.indices[odd], w.indices[~odd])
                and np.array_equal(w.data[odd], -w.data[~odd]))


def interleave(even: np.ndarray, odd: np.ndarray) -> np.ndarray:
    """Rows ``even[k]`` and ``odd[k]`` as rows ``2k`` and ``2k + 1``."""
    out = np.empty((2 * len(even),) + even.shape[1:], dtype=np.result_type(even, odd))
    out[0::2], out[1::2] = even, odd
    return out


def canonical(w, copy: bool = False) -> sp.csr_array:
    """``w`` in the form :class:`reluc.net.Layer` keeps its weights (float64 CSR,
    duplicates summed, no zeros, columns rising); in place where it is already float64
    CSR and not ``copy``. (No -0.0 either: it equals 0, so it goes with the zeros.)"""
    import scipy.sparse as sp
    w = sp.csr_array(w, dtype=np.float64, copy=copy)
    w.sum_duplicates()
    w.eliminate_zeros()
    w.sort_indices()
    return w


def with_negations(even: sp.csr_array) -> sp.csr_array:
    """The matrix whose row ``2k`` is ``even``'s row ``k`` and row ``2k + 1`` its negation;
    canonical where ``even`` is. ``even`` and its negation stacked, then their rows taken
    in turn by scipy's row indexing (a copy a row in C: at sort n=65536 a third of the
    time of placing the entries with numpy's scattered assignments)."""
    import scipy.sparse as sp
    rows, nnz = even.shape[0], even.nnz
    ptr, idx = even.indptr, even.indices
    if 2 * nnz >= INT32_ENTRIES and ptr.dtype != np.int64:  # places past int32's range
        ptr, idx = ptr.astype(np.int64), idx.astype(np.int64)
    stacked = sp.csr_array((np.concatenate([even.data, -even.data]), np.concatenate([idx, idx]),
                            np.concatenate([ptr, ptr[1:] + nnz])),
                           shape=(2 * rows, even.shape[1]))
    return stacked[interleave(np.arange(rows), np.arange(rows, 2 * rows))]
