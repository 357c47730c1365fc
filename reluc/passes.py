"""Optimisation passes on the IR. Each pass maps a Net to an equivalent, no larger Net
without arithmetic on weights (only rows and columns are removed), so exactness is kept.

- :func:`prune_dead`: remove hidden neurons that cannot influence the output (all their
  outgoing weights are zero) and neurons that are always zero (zero incoming weights and
  bias <= 0). Removing one can make others dead, so it sweeps back to front until stable.
"""

from __future__ import annotations

import numpy as np

from reluc.net import Layer, Net


def prune_dead(net: Net) -> Net:
    layers = list(net.layers)
    changed = True
    while changed:
        changed = False
        for k in range(len(layers) - 1, 0, -1):
            prev, nxt = layers[k - 1], layers[k]
            w_in = prev.weight
            used = np.diff(nxt.weight.tocsc().indptr) > 0  # nonzero outgoing column
            live_in = (np.diff(w_in.indptr) > 0) | (prev.bias > 0)  # not constantly zero
            keep = used & live_in
            if not keep.any():  # keep one neuron so that the layer is not empty
                keep[0] = True
            if keep.all():
                continue
            idx = np.flatnonzero(keep)
            layers[k - 1] = Layer(w_in[idx], prev.bias[idx])
            layers[k] = Layer(nxt.weight[:, idx], nxt.bias)
            changed = True
    return Net(layers)


def optimize(net: Net) -> Net:
    """The default pass pipeline run on every compiled network."""
    return prune_dead(net)
