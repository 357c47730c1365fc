"""The planar subdivision of a ReLU network on a 2-D slice of its input space, with every
sign decided exactly.

A slice is ``x = p + u a + v b`` for ``(u, v)`` in a box. Every pre-activation is a
continuous function of ``(u, v)``, so it has one value at each vertex of a subdivision;
on each face (a convex polygon on which every earlier neuron keeps its sign) the current
layer is affine, so its value at a point of an edge is the interpolation of the edge's
ends. The box is refined face by face, as Regioncam does: a neuron whose value has both
signs on a face cuts it along the segment between the two points where it is 0 (an edge
it crosses gets one new vertex, shared with the face across it, so the subdivision stays
conforming); after its layer every vertex value goes through ReLU and the next layer.

Values are float64 with a proved bound on their error (the filter): a sign is taken
from the float value where the value is farther from 0 than its bound, and otherwise
from the exact value, computed in rational arithmetic at the vertex's exact position
(itself found from the exact values at the ends of the edge it was made on). So the
subdivision is the exact one, whatever the rounding, and degenerate arrangements (x - y
and y - x, many lines through one vertex, lines along the box's edge) are decided
exactly; floats do the bulk of the work.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from reluc.analysis.patterns import layer_masks
from reluc.analysis.slices import TINY, U, Point, Rows, Slice, TooManyRegions, gamma, signs
from reluc.errors import NetworkError
from reluc.exact import IntLayer, Scaled, step
from reluc.net import Net

__all__ = ["Slice", "Subdivision", "TooManyRegions", "U", "TINY", "gamma"]


class Subdivision:
    """The subdivision of a slice's box into faces with one activation pattern each."""

    def __init__(self, net: Net, sl: Slice, max_regions: int = 1 << 20):
        if len(sl.origin) != net.n_in:
            raise NetworkError(f"a plane in R^{len(sl.origin)} for a network with "
                               f"{net.n_in} inputs")
        self.net, self.slice = net, sl
        self.widths = [layer.n_out for layer in net.layers[:-1]]
        self.int_layers = [IntLayer(layer) for layer in net.layers]
        self.nbytes = [(w + 7) // 8 for w in self.widths]
        self._xy: dict[int, Point] = {}  # exact positions, as they are needed
        self._vals: dict[int, list] = {}  # exact inputs of each layer, as they are needed
        # each vertex (but the corners) is where two lines meet: the line of the edge it
        # was made on, and the line of the neuron that cut it (its exact position)
        self.lines: list[tuple | None] = []
        self.edge_line: dict[tuple[int, int], tuple] = {}
        self._line_cache: dict = {}
        self.X: list[tuple[float, float]] = []  # float positions (to pick triangles)
        self.P = Rows(max(1, sum(self.nbytes)), np.uint8)  # patterns, packed per layer
        u0, u1, v0, v1 = sl.box
        for u, v in [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]:  # counter-clockwise
            self._xy[len(self.X)] = (u, v)
            self.lines.append(None)
            self.P.add(0)
            self.X.append((float(u), float(v)))
        self.faces: list[list[int]] = [[0, 1, 2, 3]]
        self.edge_line.update({(0, 1): ("v", v0), (1, 2): ("u", u1), (2, 3): ("v", v1),
                               (0, 3): ("u", u0)})
        self.max_regions = max_regions
        self._run()

    # -- exact values, where the filter does not decide ---------------------------------
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

    def _settle(self, v: int, layer: int, which=None) -> None:
        """Replace vertex ``v``'s values of the neurons ``which`` (default: all) by the
        exact ones (rounded, with their bound)."""
        which = list(range(self.w)) if which is None else [int(j) for j in which]
        exact = self.exact_values(v, layer, which)
        z = np.array([float(x) for x in exact])
        self.ZE.a[v, which] = z
        self.ZE.a[v, [self.w + j for j in which]] = np.where(z != 0, np.abs(z) * 2 * U + TINY, 0.0)
        self.S.a[v, which] = [(x > 0) - (x < 0) for x in exact]

    # -- the refinement ----------------------------------------------------------------
    def _run(self) -> None:
        layers = self.net.layers
        h = eh = np.zeros((0, 0))
        for k, layer in enumerate(layers):
            n, w = len(self.X), layer.n_out
            # the layer's values and their error bounds side by side, and their signs
            self.w, self.ZE, self.S = w, Rows(2 * w), Rows(w, np.int8)
            if k == 0:
                self.ZE.a, self.S.a = np.zeros((n, 2 * w)), np.zeros((n, w), np.int8)
                self.ZE.n = self.S.n = n
                for v in range(n):
                    self._settle(v, 0)
            else:
                z, e = self.forward(layer, h, eh)
                self.ZE.a, self.S.a = np.hstack([z, e]), signs(z, e)
                self.ZE.n = self.S.n = n
                for v in np.flatnonzero((self.S.a == 2).any(axis=1)):
                    self._settle(int(v), k, np.flatnonzero(self.S.a[v] == 2))
            if k == len(layers) - 1:
                self.Y, self.EY = self.ZE.view[:, :w], self.ZE.view[:, w:]
                return
            self._cut_layer(k)
            off = sum(self.nbytes[:k])
            self.P.view[:, off:off + self.nbytes[k]] = np.packbits(self.S.view > 0, axis=1)
            h, eh = np.maximum(self.ZE.view[:, :w], 0), self.ZE.view[:, w:]

    def forward(self, layer, h: np.ndarray, eh: np.ndarray, coarse: bool = False):
        """``W h + b`` for rows ``h`` (errors at most ``eh``), and a bound on its error:
        the inputs' error through |W|, plus the rounding of a sum of k terms,
        gamma_{k+1} (|W| |h| + |b|). ``coarse``: |W| (eh + gamma |h|) bounded by the
        rows' sums of |W| times the largest entry (one product instead of two)."""
        w = layer.weight
        k = int(np.diff(w.indptr).max()) if w.nnz else 0
        absw = sp.csr_array((np.abs(w.data), w.indices, w.indptr), shape=w.shape)
        if w.nnz > 0.25 * w.shape[0] * w.shape[1] and w.shape[0] * w.shape[1] <= 1 << 22:
            w, absw = w.toarray(), absw.toarray()  # dense enough for BLAS
        z = np.asarray(h @ w.T) + layer.bias
        if coarse:
            rowsum = np.asarray(absw.sum(axis=1)).ravel()
            big = (eh + gamma(k + 1) * np.abs(h)).max(axis=1, keepdims=True)
            size = np.abs(layer.bias) + np.zeros_like(z)
            e = big * rowsum + gamma(k + 1) * size
            return z, e * (1 + 2 * gamma(k + 2)) + (k + 2) * TINY
        size = np.asarray(h @ absw.T) + np.abs(layer.bias)
        e = np.asarray(eh @ absw.T) + gamma(k + 1) * size
        # where every term is exactly 0 so is the result: no underflow term there
        return z, e * (1 + 2 * gamma(k + 2)) + np.where(size + e > 0, (k + 2) * TINY, 0.0)

    def _cut_layer(self, k: int) -> None:
        """Cut every face by the neurons of layer ``k`` that change sign on it. A face is
        cut by its first such neuron (in order), and each side keeps the rest of them
        that still change sign on it; so every edge is cut first by the first neuron
        that changes sign along it, from both of its sides, and the two sides find the
        same new vertex."""
        made: dict[tuple[int, int], int] = {}
        out: list[list[int]] = []
        for face, mixed in zip(self.faces, self._mixed()):
            if not mixed:
                out.append(face)
                continue
            stack = [(face, np.array(mixed))]
            while stack:
                piece, todo = stack.pop()
                j = int(todo[0])
                sides = self._split(piece, self.S.a[piece, j].tolist(), k, j, made)
                rest = todo[1:]
                for side in sides:
                    if rest.size:
                        s = self.S.a[np.ix_(side, rest)]
                        left = rest[(s == 1).any(axis=0) & (s == -1).any(axis=0)]
                        if left.size:
                            stack.append((side, left))
                            continue
                    out.append(side)
            if len(out) > self.max_regions:
                raise TooManyRegions(self.max_regions)
        self.faces = out

    def _mixed(self, chunk: int = 1 << 14) -> list[list[int]]:
        """For each face, the neurons of the layer with both signs at its vertices."""
        out: list[list[int]] = []
        S = self.S.view
        for start in range(0, len(self.faces), chunk):
            faces = self.faces[start:start + chunk]
            sizes = np.fromiter((len(f) for f in faces), np.int64, len(faces))
            ptr = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            s = S[np.fromiter(itertools.chain.from_iterable(faces), np.int64, int(sizes.sum()))]
            both = np.logical_or.reduceat(s == 1, ptr, axis=0) & \
                np.logical_or.reduceat(s == -1, ptr, axis=0)
            rows, cols = np.nonzero(both)
            lists: list[list[int]] = [[] for _ in faces]
            for r, c in zip(rows.tolist(), cols.tolist()):
                lists[r].append(c)
            out += lists
        return out

    def _split(self, face, sign, k, j, made) -> tuple[list[int], list[int]]:
        pos: list[int] = []
        neg: list[int] = []
        ends: list[int] = []  # the two ends of the cut
        cut = ("n", k, j, face)
        n = len(face)
        for i in range(n):
            a, b = face[i], face[(i + 1) % n]
            sa, sb = sign[i], sign[(i + 1) % n]
            if sa >= 0:
                pos.append(a)
            if sa <= 0:
                neg.append(a)
            if sa == 0:
                ends.append(a)
            if sa * sb < 0:
                key = (a, b) if a < b else (b, a)
                m = made.get(key)
                if m is None:
                    edge = self.edge_line[key]
                    m = made[key] = self._vertex(a, b, k, j, (edge, cut))
                    self.edge_line[(a, m) if a < m else (m, a)] = edge
                    self.edge_line[(b, m) if b < m else (m, b)] = edge
                pos.append(m)
                neg.append(m)
                ends.append(m)
        self.edge_line[(min(ends), max(ends))] = cut
        return pos, neg

    def _vertex(self, a: int, b: int, k: int, j: int, lines: tuple) -> int:
        """The vertex where neuron j of layer k is 0 on the edge (a, b) (its signs at a
        and b are decided and opposite)."""
        for r in (self.ZE, self.S, self.P):
            if r.n == len(r.a):
                r.a = np.concatenate([r.a, np.zeros_like(r.a)])
            r.n += 1
        v, w = len(self.X), self.w
        ze = self.ZE.a
        za, zb, ea, eb = ze[a, j], ze[b, j], ze[a, w + j], ze[b, w + j]
        t = za / (za - zb)
        # |t - t*| for the exact t* = za*/(za* - zb*), |za* - za| <= ea, |zb* - zb| <= eb
        dt = (ea + eb) / (abs(za) + abs(zb) - ea - eb) + 4 * U
        ra, rb, r = ze[a], ze[b], ze[v]
        d = rb - ra
        np.multiply(d, t, out=r)
        r += ra  # values, and the errors' interpolation (at most the larger of them)
        row, err = r[:w], r[w:]
        # Z_m - Z*_m = (1-t)(Za - Za*) + t(Zb - Zb*) + (t - t*)(Zb* - Za*), and
        # |Zb* - Za*| <= |Zb - Za| + Ea + Eb; then the rounding of it all
        spread = np.abs(d[:w])
        spread += ra[w:]
        spread += rb[w:]
        err *= 1 + 8 * U
        err += dt * spread
        size = np.abs(ra[:w])
        size += np.abs(rb[:w])
        err += 4 * U * size
        size += err
        err += TINY * np.sign(size)  # exact zeros at both ends stay exact
        row[j] = err[j] = 0.0
        (xa, ya), (xb, yb) = self.X[a], self.X[b]
        self.X.append((xa + t * (xb - xa), ya + t * (yb - ya)))
        s = self.S.a[v]
        np.sign(row, out=s, casting="unsafe")
        undecided = np.abs(row) <= err
        undecided &= err > 0
        np.bitwise_or(self.P.a[a], self.P.a[b], out=self.P.a[v])  # no earlier neuron
        self.lines.append(lines)  # changes sign inside an edge
        if undecided.any():
            s[undecided] = 2
            self._settle(v, k, np.flatnonzero(undecided))
        return v

    # -- what the counts need ---------------------------------------------------------------
    def face_patterns(self) -> list[bytes]:
        """Inside a face every neuron keeps its sign: active iff positive at a vertex."""
        sizes = np.fromiter((len(f) for f in self.faces), np.int64, len(self.faces))
        flat = np.fromiter(itertools.chain.from_iterable(self.faces), np.int64, int(sizes.sum()))
        ptr = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        rows = np.bitwise_or.reduceat(self.P.view[flat], ptr, axis=0)
        return [r.tobytes() for r in rows]

    def lower_patterns(self, ab: np.ndarray) -> set[bytes]:
        """The patterns of the vertices and of the edges' insides (where a neuron is on
        iff it is positive at one end); ``ab``: the edges' ends."""
        P = self.P.view
        both = np.ascontiguousarray(np.concatenate([P, P[ab[:, 0]] | P[ab[:, 1]]]))
        return set(both.view(np.dtype((np.void, both.shape[1]))).ravel().tolist())

    def incidences(self) -> tuple[np.ndarray, np.ndarray]:
        """(vertex, face) for each corner of each face."""
        sizes = np.fromiter((len(f) for f in self.faces), np.int64, len(self.faces))
        vs = np.fromiter(itertools.chain.from_iterable(self.faces), np.int64, int(sizes.sum()))
        return vs, np.repeat(np.arange(len(self.faces)), sizes)

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each edge once: its ends (low, high), the face on one side and the face on
        the other (-1 on the box's boundary)."""
        vs, fs = self.incidences()
        sizes = np.bincount(fs, minlength=len(self.faces))
        start = np.repeat(np.cumsum(sizes) - sizes, sizes)
        pos = np.arange(len(vs)) - start
        nxt = vs[start + (pos + 1) % np.repeat(sizes, sizes)]
        lo, hi = np.minimum(vs, nxt), np.maximum(vs, nxt)
        order = np.lexsort((hi, lo))
        lo, hi, fs = lo[order], hi[order], fs[order]
        first = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])]
        idx = np.flatnonzero(first)
        pair = np.r_[~first[1:], False][idx]  # the next row is the same edge
        other = np.where(pair, fs[np.minimum(idx + 1, len(fs) - 1)], -1)
        return lo[idx], hi[idx], fs[idx], other

    def triangle(self, f: int) -> tuple[int, int, int]:
        """Three vertices of face ``f`` spanning a large triangle (not collinear)."""
        face, X = self.faces[f], self.X
        x0, y0 = X[face[0]]
        p1 = max(face[1:], key=lambda v: abs(X[v][0] - x0) + abs(X[v][1] - y0))
        dx, dy = X[p1][0] - x0, X[p1][1] - y0
        p2 = max(face[1:], key=lambda v: abs(dx * (X[v][1] - y0) - dy * (X[v][0] - x0)))
        return face[0], p1, p2
