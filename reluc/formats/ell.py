"""reluc's sparse layout's tables (ELLPACK): per row of a weight matrix, the column
indices and values of its nonzeros, padded with (0, 0.0) to the longest row. From a CSR
matrix (:func:`ell`, row by row; the writer, :mod:`.onnxwrite`, lays them out slot by
slot), back to one from tables laid out slot by slot (the reader, :mod:`.onnxsparse`),
and how many nonzeros they hold when their nonzero values are the matrix's (``reluc
stats``); and the nonzeros of a dense array, found a block at a time (:func:`nonzeros`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

# scipy.sparse is imported where a matrix is made (reluc.net's note)
if TYPE_CHECKING:
    import scipy.sparse as sp

BLOCK = 1 << 18  # elements compared at a time: the mask stays in the cache


def blocks_of(a: np.ndarray, block: int = BLOCK) -> Iterator[np.ndarray]:
    """An array's entries in row-major order, in flat blocks of ``block``."""
    flat = a.reshape(-1)
    for start in range(0, flat.size, block):
        yield flat[start : start + block]


def nonzeros(blocks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The places (in row-major order) and values of the nonzero entries of an array given
    as consecutive flat blocks of at most :data:`BLOCK` entries (a block may be a buffer
    that the next one overwrites). A block at a time, a large array that is mostly zeros
    (a dense weight matrix of reluc's) is searched ten times faster than in one go, whose
    mask, or the scan of a float array, runs through memory."""
    mask, places, values, start, dtype = np.empty(BLOCK, dtype=bool), [], [], 0, np.float64
    for seg in blocks:
        dtype = seg.dtype
        m = mask[: seg.size]
        np.not_equal(seg, 0, out=m)
        at = np.flatnonzero(m)
        if at.size:
            values.append(seg[at])
            places.append(at + start)
        start += seg.size
    if not places:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=dtype)
    return np.concatenate(places), np.concatenate(values)


def csr_of_nonzeros(shape: tuple[int, int], places: np.ndarray, values: np.ndarray,
                    transpose: bool = False) -> sp.csr_array:
    """The CSR matrix (or its transpose) with float64 values of a dense matrix of
    ``shape`` whose nonzeros are at ``places`` (row-major, rising) with ``values`` (in the
    tensor's own dtype: widened only now)."""
    import scipy.sparse as sp
    counts = np.bincount(places // max(shape[1], 1), minlength=shape[0])
    indptr, index = _row_starts(counts, len(places), shape[1])
    m = sp.csr_array((values.astype(np.float64), (places % max(shape[1], 1)).astype(index),
                      indptr), shape=shape)
    return m.T.tocsr() if transpose else m


def _row_starts(counts: np.ndarray, nnz: int, width: int) -> tuple[np.ndarray, type]:
    """CSR row pointers of rows of ``counts`` nonzeros (``nnz`` in all), and the index
    dtype for a matrix ``width`` wide."""
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    index = np.int32 if max(width, nnz) < 2**31 else np.int64
    return indptr.astype(index), index


def ell_width(weight: sp.csr_array) -> int:
    """K of the ELLPACK form: the most nonzeros in a row (at least 1)."""
    import scipy.sparse as sp
    counts = np.diff(sp.csr_array(weight).indptr)
    return max(1, int(counts.max()) if counts.size else 1)


def ell(weight: sp.csr_array, idx_dtype=np.int64, val_dtype=np.float64
        ) -> tuple[np.ndarray, np.ndarray]:
    """The ELLPACK form of a sparse matrix: per row, the column indices and values of its
    nonzeros, padded with (0, 0.0) to the longest row: arrays of shape (rows, K)."""
    import scipy.sparse as sp
    w = sp.csr_array(weight)
    w.sum_duplicates()
    rows, k = w.shape[0], ell_width(w)
    counts = np.diff(w.indptr)
    idx = np.zeros((rows, k), dtype=idx_dtype)
    val = np.zeros((rows, k), dtype=val_dtype)
    if w.nnz == rows * k:  # no padding: the CSR arrays are the table
        idx.ravel()[:] = w.indices
        val.ravel()[:] = w.data
        return idx, val
    # row r's entries fill its first counts[r] slots, in order (row-major mask order)
    used = np.arange(k, dtype=counts.dtype) < counts[:, None]
    idx[used] = w.indices
    val[used] = w.data
    return idx, val


def counted_nonzeros(idx: np.ndarray, val: np.ndarray) -> int | None:
    """The number of nonzero weights of ELL tables laid out slot by slot (``[K, rows]``:
    row r's k-th entry at ``[k, r]``) when every row has its nonzeros first, in rising
    columns (as reluc writes them): then the nonzero values are the matrix's nonzeros,
    one each; None when not. Each nonzero in a slot but the first follows a nonzero of a
    lower column in the slot before: checked row by row in memory, each entry against
    the one before it but for a row's first (the transposed views of row-major tables,
    as this version writes them, are read as they are; tables laid out slot by slot, as
    the previous version wrote them, are copied row by row first)."""
    nz = val != 0
    k = len(idx)
    if k > 1 and idx.shape[1]:
        places, flags = idx.T.reshape(-1), nz.T.reshape(-1)
        ok = np.greater(places[1:], places[:-1])
        ok &= flags[:-1]
        ok[k - 1::k] = True  # (the entry after it starts a row)
        if np.greater(flags[1:], ok, out=ok).any():  # a nonzero without its lower neighbour
            return None
    return int(np.count_nonzero(nz))


def nonzero_count(a: np.ndarray) -> int:
    """``np.count_nonzero(a)``, four times faster on a float array: numpy compares one
    with 0 and counts the results faster than it counts its nonzeros."""
    return int(a.size - np.count_nonzero(a == 0))


def ell_to_csr(idx: np.ndarray, val: np.ndarray, width: int) -> sp.csr_array:
    """The matrix of ELLPACK tables laid out slot by slot (``[K, rows]``; zero values are
    padding). Made row by row (a transposed copy: 4 ms a layer of 131072 rows and 6 slots,
    where sorting the nonzeros found slot by slot into rows took 7.5; none when the tables
    are the transposed views of row-major ones, as this version writes them), the
    nonzeros in row order are the CSR arrays; each row's count is a sum over the slots (K adds of a
    row of flags: 0.45-0.7 ms there, where counting the places row by row took 2-3).
    Their columns rise in each row as reluc writes them; a table with unordered or
    repeated columns is summed and sorted when the layer is made
    (:class:`~reluc.net.Layer`)."""
    import scipy.sparse as sp
    counts = np.add.reduce(val != 0, axis=0, dtype=np.int64)
    idx, val = np.ascontiguousarray(idx.T), np.ascontiguousarray(val.T)  # [rows, K]
    at, nz = nonzeros(blocks_of(val))  # the nonzeros' places in the row-major table
    indptr, index = _row_starts(counts, len(at), width)
    return sp.csr_array((nz.astype(np.float64), idx.ravel()[at].astype(index, copy=False),
                         indptr), shape=(idx.shape[0], width))
