"""Exact activation patterns and outputs at rational points.

A point's *activation pattern* is the set of hidden neurons whose pre-activation is
strictly positive there (a neuron at exactly 0 is inactive, as ReLU's derivative is taken
to be 0 at 0). Patterns are Python ints: bit ``i`` is hidden neuron ``i``, counted layer
by layer from the first hidden layer.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import numpy as np

from reluc.exact import IntLayer, Scaled, step
from reluc.net import Net

CHUNK = 256  # rows evaluated together (they share one denominator)


def _bits(positive: np.ndarray) -> list[int]:
    """Each row of a boolean matrix as an int (bit j = column j)."""
    out = []
    for row in positive:
        idx = np.flatnonzero(row)
        out.append(sum(1 << int(j) for j in idx))
    return out


class Patterns:
    """Exact patterns and outputs of one network at many rational points."""

    def __init__(self, net: Net):
        self.net = net
        self._layers = [IntLayer(layer) for layer in net.layers]
        self._offsets = np.cumsum([0] + [layer.n_out for layer in net.layers]).tolist()

    def at(self, points: Sequence[Sequence[Fraction]]) -> tuple[list[int], list[list[Fraction]]]:
        """(patterns, outputs) at each point, exactly."""
        pats, outs, _ = self.at_generic(points)
        return pats, outs

    def at_generic(self, points: Sequence[Sequence[Fraction]]):
        """(patterns, outputs, on_a_boundary) at each point, exactly; ``on_a_boundary``:
        some hidden pre-activation is exactly 0 there."""
        pats: list[int] = []
        outs: list[list[Fraction]] = []
        zero: list[bool] = []
        for start in range(0, len(points), CHUNK):
            batch = Scaled.of(points[start:start + CHUNK])
            num, den = batch.num, batch.den
            bits = [0] * len(num)
            zeros = np.zeros(len(num), dtype=bool)
            for i, layer in enumerate(self._layers):
                num, den = step(layer, num, den, relu=i > 0)
                if i < len(self._layers) - 1:
                    for r, b in enumerate(_bits(np.asarray(num > 0, dtype=bool))):
                        bits[r] |= b << self._offsets[i]
                    zeros |= np.asarray(num == 0, dtype=bool).any(axis=1)
            pats += bits
            outs += Scaled(num, den).rows()
            zero += zeros.tolist()
        return pats, outs, zero


def pack(bits: int, widths: list[int]) -> bytes:
    """A pattern int as the packed form of :mod:`reluc.analysis.planar` (each layer's
    bits packed by ``numpy.packbits``, layer after layer)."""
    out, off = [], 0
    for w in widths:
        row = np.array([bits >> (off + j) & 1 for j in range(w)], dtype=bool)
        out.append(np.packbits(row).tobytes())
        off += w
    return b"".join(out) or b"\0"


def layer_masks(packed, widths: list[int]) -> list[np.ndarray]:
    """Packed patterns (bytes, or a rows x bytes uint8 array) as one boolean array per
    hidden layer (rows x width): which neurons are on."""
    rows = np.atleast_2d(np.frombuffer(packed, np.uint8) if isinstance(packed, bytes)
                         else packed)
    out, at = [], 0
    for w in widths:
        nb = (w + 7) // 8
        out.append(np.unpackbits(rows[:, at:at + nb], axis=1)[:, :w].astype(bool))
        at += nb
    return out


def unpack(packed: bytes, widths: list[int]) -> int:
    """The inverse of :func:`pack`."""
    bits, off = 0, 0
    for w, on in zip(widths, layer_masks(packed, widths)):
        bits |= sum(1 << (off + int(j)) for j in np.flatnonzero(on[0]))
        off += w
    return bits
