"""Optimisation passes on the IR. Each pass maps a Net to an equivalent, no larger Net
without arithmetic on weights (only rows and columns are removed), so exactness is kept.

- :func:`prune_dead`: remove hidden neurons that cannot influence the output (all their
  outgoing weights are zero) and neurons that are always zero (zero incoming weights and
  bias <= 0). Removing one can make others dead, so it sweeps back to front until stable.
  It looks only at where weights are nonzero and which biases are positive, so the
  sweeps run on the layers' sparsity patterns (:func:`prune_dead_stream`: one pass over
  a stream, keeping index arrays only), then the pruned layers are made.
"""

from __future__ import annotations

import numpy as np

from reluc.net import Layer, LayerStream, Net


def prune_dead(net: Net) -> Net:
    """Dead neurons removed (see the module docstring); the sweeps of
    :func:`prune_dead_stream`, on a network in memory."""
    return prune_dead_stream(_stream(net)).materialise()


def _stream(source: Net | LayerStream) -> LayerStream:
    if isinstance(source, LayerStream):
        return source
    return LayerStream(source.n_in, source.widths_out, source.iter_layers,
                       zero_bias=source.zero_biases())


def prune_dead_stream(stream: LayerStream) -> LayerStream:
    """:func:`prune_dead` for a stream: the same neurons removed, the layers still made
    one at a time (the patterns of all layers are held meanwhile: column indices, 4 bytes
    a nonzero, instead of the whole network)."""
    row_idx = kept_rows(stream)
    col_idx = [np.arange(stream.n_in)] + row_idx[:-1]
    whole = [r.size == w for r, w in zip(row_idx, stream.widths_out)]

    def make():
        for k, layer in enumerate(stream.iter_layers()):
            w, b = layer.weight, layer.bias
            if not whole[k]:
                w, b = w[row_idx[k]], b[row_idx[k]]
            if k and not whole[k - 1]:
                w = w[:, col_idx[k]]
            yield layer if w is layer.weight else Layer(w, b, owned=True)

    # rows in negated pairs stay so if taken out a pair at a time (columns taken out leave
    # them: both rows of a pair lose the same)
    pairs = [p and (w or _in_pairs(r)) for p, w, r in zip(stream.negated_pairs(), whole, row_idx)]
    return LayerStream(stream.n_in, [r.size for r in row_idx], make, stream.values,
                       stream.zero_biases(), pairs)


def _in_pairs(rows: np.ndarray) -> bool:
    """Whether rising row numbers are whole pairs ``2k, 2k + 1``."""
    return rows.size % 2 == 0 and not np.any(rows[0::2] % 2) and \
        np.array_equal(rows[1::2], rows[0::2] + 1)


def kept_rows(source: Net | LayerStream) -> list[np.ndarray]:
    """The neurons :func:`prune_dead` keeps: per layer, their row numbers."""
    stream = _stream(source)
    pats = []  # per layer: row pointers, column indices, positive-bias rows, columns
    for layer in stream.iter_layers():
        w = layer.weight
        pats.append((w.indptr.copy(), w.indices.astype(np.int32), layer.bias > 0, w.shape[1]))
    m = len(pats)
    rows = [np.ones(p[0].size - 1, dtype=bool) for p in pats]  # kept rows of each layer
    cols = [np.ones(p[3], dtype=bool) for p in pats]  # kept columns (previous layer's rows)
    changed = True
    while changed:  # prune_dead's sweeps, on patterns
        changed = False
        for k in range(m - 1, 0, -1):
            ip, ix, _, n_cols = pats[k]
            entry_row = np.repeat(rows[k], np.diff(ip))
            used = np.zeros(n_cols, dtype=bool)
            used[ix[entry_row & cols[k][ix]]] = True
            pip, pix, pos, _ = pats[k - 1]
            alive = np.concatenate([[0], np.cumsum(cols[k - 1][pix])])
            live = alive[pip[1:]] - alive[pip[:-1]]  # entries of each row in kept columns
            keep = used & ((live > 0) | pos) & rows[k - 1]
            if not keep.any():  # keep one neuron so that the layer is not empty
                keep[np.flatnonzero(rows[k - 1])[0]] = True
            if np.array_equal(keep, rows[k - 1]):
                continue
            rows[k - 1], cols[k] = keep, keep
            changed = True
    del pats
    return [np.flatnonzero(r) for r in rows]


def optimize(net: Net) -> Net:
    """The default pass pipeline run on every compiled network."""
    return prune_dead(net)
