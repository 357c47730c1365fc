"""The exact planar subdivision of a ReLU network on a 2-D slice of its input space.

A slice is ``x = p + u a + v b`` for ``(u, v)`` in a box. Every pre-activation is a
continuous function of ``(u, v)``, so it has one value at each vertex of a subdivision,
and on each face (a convex polygon on which every earlier neuron keeps its sign) the
current layer is affine, so the value at a point of an edge is the interpolation of the
edge's ends. The subdivision is refined a neuron at a time, as Regioncam does: a neuron
whose value has both signs on a face cuts it along the segment between the two points
where it is 0 (edges it crosses get a new vertex, shared with the face across the edge,
so the subdivision stays conforming); after its layer every vertex value goes through
ReLU and the next layer's weights. Coordinates and values are rationals: every sign is
decided exactly, coincident cuts (x - y and y - x) meet in the same vertices, and lines
through one vertex or along the box's edge need no tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from reluc.analysis import slices
from reluc.errors import NetworkError
from reluc.net import Net
from reluc.pieces import sparse_fractions

Point = tuple[Fraction, Fraction]


Slice = slices.Slice  # the same slice type; the algorithm below is independent


class TooManyRegions(NetworkError):
    def __init__(self, limit: int):
        super().__init__(f"more than {limit} regions")
        self.limit = limit


@dataclass
class Subdivision:
    slice: Slice
    verts: list[Point]
    faces: list[list[int]]  # vertex ids, counter-clockwise
    vert_bits: list[int]  # activation pattern at each vertex
    outputs: list[list[Fraction]]  # network outputs at each vertex
    _maps: list | None = field(default=None, repr=False)

    def face_pattern(self, f: int) -> int:
        """Inside a face every neuron keeps its sign: active iff positive at a vertex."""
        bits = 0
        for v in self.faces[f]:
            bits |= self.vert_bits[v]
        return bits

    def edges(self) -> dict[tuple[int, int], list[int]]:
        """Each edge (low id, high id) and the faces on its sides."""
        out: dict[tuple[int, int], list[int]] = {}
        for f, face in enumerate(self.faces):
            for a, b in zip(face, face[1:] + face[:1]):
                out.setdefault((a, b) if a < b else (b, a), []).append(f)
        return out

    def triangle(self, f: int) -> tuple[int, int, int]:
        """Three vertices of face ``f`` that are not collinear."""
        face = self.faces[f]
        (u0, v0), (u1, v1) = self.verts[face[0]], self.verts[face[1]]
        for c in face[2:]:
            u2, v2 = self.verts[c]
            if (u1 - u0) * (v2 - v0) - (u2 - u0) * (v1 - v0):
                return face[0], face[1], c
        raise NetworkError(f"face {f} of the subdivision is degenerate")  # cannot happen

    def face_map(self, f: int) -> tuple[tuple[Fraction, ...], ...]:
        """The exact affine map on face ``f``: per output (d/du, d/dv, value at 0)."""
        if self._maps is None:
            self._maps = [None] * len(self.faces)
        if self._maps[f] is None:
            i, j, k = self.triangle(f)
            (u0, v0), (u1, v1), (u2, v2) = self.verts[i], self.verts[j], self.verts[k]
            det = (u1 - u0) * (v2 - v0) - (u2 - u0) * (v1 - v0)
            rows = []
            for y0, y1, y2 in zip(self.outputs[i], self.outputs[j], self.outputs[k]):
                gu = ((y1 - y0) * (v2 - v0) - (y2 - y0) * (v1 - v0)) / det
                gv = ((u1 - u0) * (y2 - y0) - (u2 - u0) * (y1 - y0)) / det
                rows.append((gu, gv, y0 - gu * u0 - gv * v0))
            self._maps[f] = tuple(rows)
        return self._maps[f]

    def area(self, f: int) -> Fraction:
        pts = [self.verts[v] for v in self.faces[f]]
        twice = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(pts, pts[1:] + pts[:1]))
        return twice / 2

    def witness(self, f: int) -> Point:
        """A point strictly inside face ``f``: the centroid of a triangle of its vertices."""
        pts = [self.verts[v] for v in self.triangle(f)]
        return (sum(p[0] for p in pts) / 3, sum(p[1] for p in pts) / 3)


def _split(face, sign, cut) -> tuple[list[int], list[int]]:
    """The two sides of a convex face whose vertices have both signs; ``cut(a, b)`` is
    the vertex where the neuron is 0 on the edge (a, b)."""
    pos: list[int] = []
    neg: list[int] = []
    for a, b in zip(face, face[1:] + face[:1]):
        sa, sb = sign[a], sign[b]
        if sa >= 0:
            pos.append(a)
        if sa <= 0:
            neg.append(a)
        if sa * sb < 0:
            m = cut(a, b)
            pos.append(m)
            neg.append(m)
    return pos, neg


def subdivide(net: Net, sl: Slice, max_regions: int = 1 << 20) -> Subdivision:
    """The subdivision of ``sl``'s box into faces with one activation pattern each."""
    if len(sl.origin) != net.n_in:
        raise NetworkError(f"a plane in R^{len(sl.origin)} for a network with {net.n_in} "
                           "inputs")
    u0, u1, v0, v1 = sl.box
    verts: list[Point] = [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
    faces = [[0, 1, 2, 3]]
    h = [sl.point(u, v) for u, v in verts]  # the current layer's input at each vertex
    bits = [0] * 4
    offset = 0
    last = net.depth - 1
    for k, layer in enumerate(net.layers):
        rows, bias = sparse_fractions(layer)
        z = [[sum((w * hv[c] for c, w in row), b) for row, b in zip(rows, bias)] for hv in h]
        if k == last:
            return Subdivision(sl, verts, faces, bits, z)

        for j in range(layer.n_out):
            sign = [(zv[j] > 0) - (zv[j] < 0) for zv in z]
            if 1 not in sign or -1 not in sign:
                continue
            made: dict[tuple[int, int], int] = {}

            def cut(a: int, b: int) -> int:
                key = (a, b) if a < b else (b, a)
                if key not in made:
                    za, zb = z[a], z[b]
                    t = za[j] / (za[j] - zb[j])
                    (pu, pv), (qu, qv) = verts[a], verts[b]
                    verts.append((pu + t * (qu - pu), pv + t * (qv - pv)))
                    z.append([x + t * (y - x) for x, y in zip(za, zb)])
                    # strictly inside an edge on which no earlier neuron changes sign
                    bits.append(bits[a] | bits[b])
                    sign.append(0)
                    made[key] = len(verts) - 1
                return made[key]

            out = []
            for face in faces:
                s = {sign[v] for v in face}
                if 1 in s and -1 in s:
                    out.extend(_split(face, sign, cut))
                else:
                    out.append(face)
            faces = out
            if len(faces) > max_regions:
                raise TooManyRegions(max_regions)
        for v, zv in enumerate(z):
            bits[v] |= sum(1 << (offset + j) for j, x in enumerate(zv) if x > 0)
        offset += layer.n_out
        h = [[x if x > 0 else Fraction(0) for x in zv] for zv in z]
    raise NetworkError("the network has no layers")  # cannot happen: a Net has one
