"""The planar subdivision of a ReLU network on a 2-D slice of its input space, with every
sign decided exactly.

A slice is ``x = p + u a + v b`` for ``(u, v)`` in a box. Every pre-activation is a
continuous function of ``(u, v)``, so it has one value at each vertex of a subdivision;
on each face (a convex polygon on which every earlier neuron keeps its sign) the current
layer is affine, so its value at a point of an edge is the interpolation of the edge's
ends. The box is refined as Regioncam does: a neuron whose value has both signs on a
face cuts it along the segment between the two points where it is 0 (an edge it crosses
gets one new vertex, shared with the face across it, so the subdivision stays
conforming); after its layer every vertex value goes through ReLU and the next layer.
All faces are cut together, one neuron per piece and round, so the work is on whole
arrays; in the last hidden layer a new vertex gets the values of only the neurons that
a later cut can read (those changing sign on a face beside it), the other signs
following exactly from its edge's ends.

Values are float64 with a proved bound on their error (the filter): a sign is taken
from the float value where the value is farther from 0 than its bound, and otherwise
from the exact value, computed in rational arithmetic at the vertex's exact position
(:mod:`reluc.analysis.exactvertices`). So the subdivision is the exact one, whatever the
rounding, and degenerate arrangements (x - y and y - x, many lines through one vertex,
lines along the box's edge) are decided exactly; floats do the bulk of the work.
"""

from __future__ import annotations

import itertools

import numpy as np

from reluc.analysis.exactvertices import ExactVertices
from reluc.analysis.slices import (TINY, U, Point, Rows, Slice, Store, TooManyRegions, forward,
                                   gamma, interpolate, signs, unsure)
from reluc.errors import NetworkError
from reluc.exact import IntLayer
from reluc.net import Net

__all__ = ["Slice", "Subdivision", "TooManyRegions", "U", "TINY", "gamma"]


class Subdivision(ExactVertices):
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
        self.X = Rows(2)  # float positions (to pick triangles)
        self.P = Rows(max(1, sum(self.nbytes)), np.uint8)  # patterns, packed per layer
        u0, u1, v0, v1 = sl.box
        for u, v in [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]:  # counter-clockwise
            self._xy[self.X.n] = (u, v)
            self.lines.append(None)
            self.P.add(0)
            self.X.add((float(u), float(v)))
        self.faces: list[list[int]] = [[0, 1, 2, 3]]
        self.edge_line.update({(0, 1): ("v", v0), (1, 2): ("u", u1), (2, 3): ("v", v1),
                               (0, 3): ("u", u0)})
        self.max_regions = max_regions
        self._run()

    def _settle(self, v: int, layer: int, which=None) -> None:
        """Replace vertex ``v``'s values of the neurons ``which`` (default: all) by the
        exact ones."""
        which = np.arange(self.w) if which is None else np.asarray(which, np.int64)
        z, e, s = self._exact(v, layer, which)
        self.ZE.a[v, which], self.ZE.a[v, self.w + which], self.S.a[v, which] = z, e, s

    # -- the refinement ----------------------------------------------------------------
    def _run(self) -> None:
        layers = self.net.layers
        h = eh = np.zeros((0, 0))
        for k, layer in enumerate(layers[:-1]):  # (the outputs cut nothing)
            n, w = self.X.n, layer.n_out
            # the layer's values and their error bounds side by side, and their signs
            self.w, self.ZE, self.S = w, Rows(2 * w), Rows(w, np.int8)
            # the last hidden layer keeps new vertices' values only where cuts need them
            self.store = Store() if k == len(layers) - 2 else None
            if k == 0:
                self.ZE.a, self.S.a = np.zeros((n, 2 * w)), np.zeros((n, w), np.int8)
                self.ZE.n = self.S.n = n
                for v in range(n):
                    self._settle(v, 0)
            else:
                z, e = forward(layer, h, eh)
                self.ZE.a, self.S.a = np.hstack([z, e]), signs(z, e)
                self.ZE.n = self.S.n = n
                for v in np.flatnonzero((self.S.a == 2).any(axis=1)):
                    self._settle(int(v), k, np.flatnonzero(self.S.a[v] == 2))
            self._cut_layer(k)
            off = sum(self.nbytes[:k])
            self.P.view[:, off:off + self.nbytes[k]] = np.packbits(self.S.view > 0, axis=1)
            if self.store is None:
                h, eh = np.maximum(self.ZE.view[:, :w], 0), self.ZE.view[:, w:]
        self.ZE = self.S = self.store = None  # (the faces and their patterns are the result)

    def _cut_layer(self, k: int) -> None:
        """Cut every face by the neurons of layer ``k`` that change sign on it. A face is
        cut by its first such neuron (in order), and each side keeps the rest of them
        that still change sign on it; so every edge is cut first by the first neuron
        that changes sign along it, from both of its sides, and the two sides find the
        same new vertex. All faces are cut at once, a round at a time (one cut per
        piece and round), pieces and their neurons held as flat arrays with sizes."""
        faces = self.faces
        sizes = np.fromiter((len(f) for f in faces), np.int64, len(faces))
        verts = np.fromiter(itertools.chain.from_iterable(faces), np.int64, int(sizes.sum()))
        cols, counts = self._mixed(verts, sizes)
        self._mixed_mask = np.zeros((len(faces), self.w), bool)
        self._mixed_mask[np.repeat(np.arange(len(faces)), counts), cols] = True
        lo, hi, fa, fb = self.edge_arrays()  # the faces beside each edge
        self._edge_faces = dict(zip(zip(lo.tolist(), hi.tolist()),
                                    zip(fa.tolist(), np.where(fb < 0, fa, fb).tolist())))
        made: dict[tuple[int, int], int] = {}
        done = [self._pieces(verts, sizes, counts == 0)]
        n_done = int(np.sum(counts == 0))
        live = counts > 0
        verts, sizes = self._pieces(verts, sizes, live)
        counts, face = counts[live], np.flatnonzero(live)  # (cols: only live faces have any)
        while len(sizes):
            if n_done + len(sizes) > self.max_regions:
                raise TooManyRegions(self.max_regions)
            first = np.cumsum(counts) - counts
            js = cols[first]  # each piece is cut by its first neuron
            start = np.cumsum(sizes) - sizes
            piece = np.repeat(np.arange(len(sizes)), sizes)
            sign = self.S.a[verts, js[piece]]
            nxt = np.arange(1, len(verts) + 1)
            nxt[start + sizes - 1] = start
            cross = np.flatnonzero(sign * sign[nxt] < 0)
            a, b = verts[cross], verts[nxt[cross]]
            lo, hi = np.minimum(a, b).tolist(), np.maximum(a, b).tolist()
            cuts = [("n", k, j, faces[f]) for j, f in zip(js.tolist(), face.tolist())]
            new: set[tuple[int, int]] = set()
            ends = []
            for x, y, p in zip(lo, hi, piece[cross].tolist()):
                if (x, y) not in made and (x, y) not in new:
                    new.add((x, y))
                    ends.append(((x, y), cuts[p][2], cuts[p]))
            if ends:
                self._vertices(ends, k, made)
            # each piece's vertices in order, with the new ones after the edges' starts
            grow = np.ones(len(verts), np.int64)
            grow[cross] = 2
            at = np.cumsum(grow) - grow
            seq = np.empty(int(grow.sum()), np.int64)
            seq_sign = np.zeros(len(seq), np.int8)
            seq[at], seq_sign[at] = verts, sign
            seq[at[cross] + 1] = [made[e] for e in zip(lo, hi)]
            seq_piece = np.repeat(piece, grow)
            on = seq[seq_sign == 0].reshape(-1, 2)  # the cut's two ends, on each piece
            for (x, y), cut, f in zip(np.sort(on, axis=1).tolist(), cuts, face.tolist()):
                self.edge_line[(x, y)], self._edge_faces[(x, y)] = cut, (f, f)
            pos, neg = seq_sign >= 0, seq_sign <= 0
            verts = np.concatenate([seq[pos], seq[neg]])
            sizes = np.concatenate([np.bincount(seq_piece[pos], minlength=len(sizes)),
                                    np.bincount(seq_piece[neg], minlength=len(sizes))])
            keep = np.ones(len(cols), bool)
            keep[first] = False  # both sides keep the rest of the piece's neurons
            cols, counts = np.tile(cols[keep], 2), np.tile(counts - 1, 2)
            face = np.tile(face, 2)
            cols, counts = self._mixed(verts, sizes, cols, counts)
            live = counts > 0
            done.append(self._pieces(verts, sizes, ~live))
            n_done += int(np.sum(~live))
            verts, sizes = self._pieces(verts, sizes, live)
            cols_live = np.repeat(live, counts)
            cols, counts, face = cols[cols_live], counts[live], face[live]
        if n_done > self.max_regions:
            raise TooManyRegions(self.max_regions)
        self.faces = []
        for v, n in done:
            flat = v.tolist()
            offsets = np.cumsum(n).tolist()
            self.faces += [flat[i - m:i] for i, m in zip(offsets, n.tolist())]

    @staticmethod
    def _pieces(verts: np.ndarray, sizes: np.ndarray, which: np.ndarray):
        """The pieces ``which`` (a mask) of pieces given as flat vertices and sizes."""
        return verts[np.repeat(which, sizes)], sizes[which]

    def _mixed(self, verts: np.ndarray, sizes: np.ndarray, among: np.ndarray | None = None,
               counts: np.ndarray | None = None, chunk: int = 1 << 13):
        """For each face (flat vertices and sizes), the neurons of the layer with both
        signs at its vertices, as flat neurons (increasing per face) and their counts;
        of the neurons ``among`` (flat, ``counts`` per face) if given."""
        S = self.S.view
        start = np.cumsum(sizes) - sizes
        if among is None:  # every neuron, a chunk of faces at a time
            rows, cols = [], []
            for s0 in range(0, len(sizes), chunk):
                ptr = start[s0:s0 + chunk]
                s = S[verts[ptr[0]:ptr[-1] + sizes[s0:s0 + chunk][-1]]] if len(ptr) else S[:0]
                both = np.logical_or.reduceat(s == 1, ptr - ptr[0], axis=0) & \
                    np.logical_or.reduceat(s == -1, ptr - ptr[0], axis=0)
                r, c = np.nonzero(both)
                rows.append(r + s0)
                cols.append(c)
            rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
            return (np.concatenate(cols) if cols else rows), \
                np.bincount(rows, minlength=len(sizes))
        if not len(among):
            return among, counts
        # (face, neuron, vertex): for each neuron of a face, a run of its vertices
        group_face = np.repeat(np.arange(len(sizes)), counts)
        size = sizes[group_face]
        first = np.cumsum(size) - size
        g = np.repeat(np.arange(len(among)), size)
        s = S[verts[start[group_face[g]] + np.arange(len(g)) - first[g]], among[g]]
        both = np.logical_or.reduceat(s == 1, first) & np.logical_or.reduceat(s == -1, first)
        return among[both], np.bincount(group_face[both], minlength=len(sizes))

    def _vertices(self, ends: list, k: int, made: dict) -> None:
        """The vertices where neuron j of layer k is 0 on the edges (a, b) (its signs at
        a and b are decided and opposite), for ``ends``: ((a, b), j, the cut's line).
        Values of the layer at them by interpolation: every neuron's, if the next layer
        needs them; else only those of the neurons that change sign on a face beside
        the edge (the only ones a later cut reads). Any other neuron has one sign (or
        is 0) along the edge, so its sign there is that of the sum of its ends' signs."""
        m = len(ends)
        v0, w = self.X.n, self.w
        for r in (self.S, self.P, self.X) if self.store else (self.ZE, self.S, self.P, self.X):
            r.extend(m)
        A = np.fromiter((e[0][0] for e in ends), np.int64, m)
        B = np.fromiter((e[0][1] for e in ends), np.int64, m)
        J = np.fromiter((e[1] for e in ends), np.int64, m)
        for i, ((a, b), j, cut) in enumerate(ends):
            v = v0 + i
            edge = self.edge_line[(a, b)]
            self.lines.append((edge, cut))
            self.edge_line[(a, v)] = self.edge_line[(b, v)] = edge  # a, b < v
            self._edge_faces[(a, v)] = self._edge_faces[(b, v)] = self._edge_faces[(a, b)]
            made[(a, b)] = v
        (za, ea), (zb, eb) = self._values(A, J), self._values(B, J)
        t = za / (za - zb)
        # |t - t*| for the exact t* = za*/(za* - zb*), |za* - za| <= ea, |zb* - zb| <= eb
        dt = (ea + eb) / (np.abs(za) + np.abs(zb) - ea - eb) + 4 * U
        X, P, S = self.X.a, self.P.a, self.S.a
        X[v0:v0 + m] = X[A] + t[:, None] * (X[B] - X[A])
        P[v0:v0 + m] = P[A] | P[B]  # no earlier neuron changes sign inside an edge
        idx = np.arange(m)
        if self.store is None:  # whole rows
            ze = self.ZE.a
            z, e = interpolate(ze[A, :w], ze[B, :w], ze[A, w:], ze[B, w:], t[:, None],
                               dt[:, None])
            z[idx, J] = e[idx, J] = 0.0
            ze[v0:v0 + m, :w], ze[v0:v0 + m, w:] = z, e
            s = S[v0:v0 + m]
            np.sign(z, out=s, casting="unsafe")
            undecided = unsure(z, e)
            for i in np.flatnonzero(undecided.any(axis=1)).tolist():
                self._settle(v0 + i, k, np.flatnonzero(undecided[i]))
            return
        faces = np.array([self._edge_faces[e[0]] for e in ends], np.int64).reshape(m, 2)
        need = self._mixed_mask[faces[:, 0]] | self._mixed_mask[faces[:, 1]]
        s = np.sign(S[A] + S[B])
        r, c = np.nonzero(need)
        (za, ea), (zb, eb) = self._values(A[r], c), self._values(B[r], c)
        z, e = interpolate(za, zb, ea, eb, t[r], dt[r])
        cut = c == J[r]
        z[cut] = e[cut] = 0.0
        s[r, c] = np.sign(z)
        undecided = np.flatnonzero(unsure(z, e))
        if undecided.size:  # exactly, a vertex at a time
            starts = np.flatnonzero(np.r_[True, r[undecided][1:] != r[undecided][:-1]])
            for part in np.split(undecided, starts[1:]):
                z[part], e[part], s[r[part[0]], c[part]] = self._exact(v0 + int(r[part[0]]), k,
                                                                         c[part])
        S[v0:v0 + m] = s
        self.store.add((v0 + r) * w + c, z, e)

    def _values(self, V: np.ndarray, I: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The float values of neurons ``I`` at vertices ``V`` and their error bounds."""
        w, ze = self.w, self.ZE.a
        if self.store is None:
            return ze[V, I], ze[V, w + I]
        z, e = np.empty(len(V)), np.empty(len(V))
        old = V < self.ZE.n
        z[old], e[old] = ze[V[old], I[old]], ze[V[old], w + I[old]]
        z[~old], e[~old] = self.store.get(V[~old] * w + I[~old])
        return z, e

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
        face = self.faces[f]
        d = self.X.a[face] - self.X.a[face[0]]
        i = int(np.argmax(np.abs(d).sum(axis=1)))
        j = int(np.argmax(np.abs(d[i, 0] * d[:, 1] - d[i, 1] * d[:, 0])))
        return face[0], face[i], face[j]
