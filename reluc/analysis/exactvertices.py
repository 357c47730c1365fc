"""The exact side of the planar subdivision's filter: a vertex's exact position (where
its two lines meet: the line of the edge it was made on and that of the neuron that cut
it, each from the network with a face's earlier neurons fixed on or off, run in
integers) and the exact values of a layer there, computed only where a float value
does not decide a sign."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from reluc.analysis.patterns import layer_masks
from reluc.analysis.slices import TINY, U, Point
from reluc.exact import Scaled, step


class ExactVertices:
    """Exact positions and values of a :class:`~reluc.analysis.planar.Subdivision`'s
    vertices (its ``slice``, ``int_layers``, ``widths``, ``lines`` and patterns ``P``),
    computed as they are needed and kept."""

    def exact_point(self, v: int) -> Point:
        """The exact position of vertex ``v``: where its two lines meet."""
        if v not in self._xy:
            (a1, b1, c1), (a2, b2, c2) = (self.line(x) for x in self.lines[v])
            det = a1 * b2 - a2 * b1
            self._xy[v] = ((b1 * c2 - b2 * c1) / det, (a2 * c1 - a1 * c2) / det)
        return self._xy[v]

    def line_first(self):
        """The slice's points (0, 0), (1, 0), (0, 1) and the first layer's exact values
        there, as (numerators, denominator) pairs."""
        if "first" not in self._line_cache:
            pts = Scaled.of([self.slice.point(u, v) for u, v in [(0, 0), (1, 0), (0, 1)]])
            self._line_cache["first"] = (pts.num, pts.den), \
                self.int_layers[0].apply(pts.num, pts.den)
        return self._line_cache["first"]

    def line(self, desc: tuple) -> tuple[Fraction, Fraction, Fraction]:
        """The exact line ``a u + b v + c = 0`` of a box side (``("u", u0)``) or of
        neuron j of layer k on a face (``("n", k, j, face)``): the network with the
        face's earlier neurons fixed on or off, run on (0, 0), (1, 0), (0, 1) in integers."""
        if desc[0] == "u":
            return Fraction(1), Fraction(0), -desc[1]
        if desc[0] == "v":
            return Fraction(0), Fraction(1), -desc[1]
        _, k, j, face = desc
        key = (k, j, id(face))
        if key not in self._line_cache:
            bits = np.bitwise_or.reduce(self.P.a[face], axis=0)
            on = [m[0] for m in layer_masks(bits, self.widths[:k])]
            (num, den), first = self.line_first()
            for i, il in enumerate(self.int_layers[:k]):
                if i:
                    num = np.where(on[i - 1], num, 0).astype(num.dtype)
                num, den = il.apply(num, den) if i else first
            if k:
                num = np.where(on[k - 1], num, 0).astype(num.dtype)
            il = self.int_layers[k]  # only neuron j of layer k
            lo, hi = il.indptr[j], il.indptr[j + 1]
            s = max(il.a, il.c)
            x = [[int(q) for q in row] for row in num]
            z0, z1, z2 = (Fraction(sum(int(d) * r[c] for d, c in zip(il.data[lo:hi],
                                                                       il.indices[lo:hi]))
                                   * (1 << (s - il.a)) + int(il.bias[j]) * (den << (s - il.c)),
                                   den << s) for r in x)
            self._line_cache[key] = (z1 - z0, z2 - z0, z0)
        return self._line_cache[key]

    def _inputs(self, v: int, layer: int) -> tuple[list[int], int]:
        """The exact input of ``layer`` at vertex ``v``, as integer numerators over one
        denominator (the slice's point for the first layer, ReLU of the previous
        layer's values after it)."""
        rows = self._vals.setdefault(v, [])
        if not rows:
            batch = Scaled.of([self.slice.point(*self.exact_point(v))])
            rows.append((batch.num, batch.den))
        while len(rows) <= layer:
            num, den = step(self.int_layers[len(rows) - 1], *rows[-1], relu=len(rows) > 1)
            rows.append((np.where(num > 0, num, 0).astype(num.dtype), den))
        return rows[layer]

    def exact_values(self, v: int, layer: int, which=None) -> list[Fraction]:
        """Exact pre-activations of ``layer`` (the outputs for the last) at vertex ``v``:
        all of them, or the neurons ``which`` (a row each: no more work than they need)."""
        num, den = self._inputs(v, layer)
        il = self.int_layers[layer]
        s = max(il.a, il.c)
        fw, fb = 1 << (s - il.a), den << (s - il.c)
        x = [int(q) for q in num[0]]
        out = []
        for j in range(il.shape[0]) if which is None else which:
            lo, hi = il.indptr[j], il.indptr[j + 1]
            acc = sum(int(d) * x[c] for d, c in zip(il.data[lo:hi], il.indices[lo:hi]))
            out.append(Fraction(acc * fw + int(il.bias[j]) * fb, den << s))
        return out

    def _exact(self, v: int, layer: int, which) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Vertex ``v``'s values of the neurons ``which``: exact, rounded to float64 with
        their bound, and their exact signs."""
        exact = self.exact_values(v, layer, [int(j) for j in which])
        z = np.array([float(x) for x in exact])
        return z, np.where(z != 0, np.abs(z) * 2 * U + TINY, 0.0), \
            [(x > 0) - (x < 0) for x in exact]
