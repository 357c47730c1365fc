"""The exact check of a planar subdivision (``reluc regions``' certificate in 2-D).

1. Every face, with its exact vertices, is a convex polygon turning counter-clockwise
   with positive area.
2. Every edge inside the box is crossed by exactly two faces, in opposite directions,
   and every other edge lies on a side of the box, in the box's own direction. The
   faces' areas (shoelace sums over their edges) then add up to the sum over the box's
   sides alone, as the inner edges cancel in pairs; that sum must be the box's area. So
   the faces tile the box, computed without adding up thousands of fractions.
3. A witness inside each face (its centroid rounded to float64, checked exactly to be
   strictly inside, or the exact centroid), evaluated exactly, has the face's pattern
   (so the face is inside that pattern's region, on which the network is the affine map
   of the pattern), and its exact value lies within the proved error bound of the
   face's float map (the maps that tell faces apart); no two faces share a pattern.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from reluc.analysis.facemaps import float_maps
from reluc.analysis.patterns import Patterns, pack
from reluc.analysis.planar import TINY, U, Subdivision
from reluc.analysis.slices import forward
from reluc.errors import NetworkError
from reluc.net import Net
from reluc.numbers import format_number


class CertificateError(NetworkError):
    """The computed regions failed their exact check (a bug, never an input's fault)."""


def _cross(o, a, b) -> Fraction:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def certify(net: Net, sub: Subdivision, pats: list[bytes] | None = None) -> None:
    """Raises :class:`CertificateError` unless the three checks above hold."""
    pats = sub.face_patterns() if pats is None else pats
    pt = sub.exact_point
    witness = []
    for f, face in enumerate(sub.faces):
        ps = [pt(v) for v in face]
        turns = [_cross(ps[i - 2], ps[i - 1], ps[i]) for i in range(len(ps))]
        if min(turns) < 0 or sum(a[0] * b[1] - b[0] * a[1] for a, b in
                                 zip(ps, ps[1:] + ps[:1])) <= 0:
            raise CertificateError(f"face {f} is not a convex polygon with positive area")
        tri = [pt(v) for v in sub.triangle(f)]
        exact = (sum(p[0] for p in tri) / 3, sum(p[1] for p in tri) / 3)
        near = (Fraction(float(exact[0])), Fraction(float(exact[1])))
        inside = all(_cross(a, b, near) > 0 for a, b in zip(ps, ps[1:] + ps[:1]) if a != b)
        witness.append(near if inside else exact)
    directed: set[tuple[int, int]] = set()
    for face in sub.faces:
        for a, b in zip(face, face[1:] + face[:1]):
            if (a, b) in directed:
                raise CertificateError(f"the edge {a}-{b} is used twice in one direction")
            directed.add((a, b))
    u0, u1, v0, v1 = sub.slice.box
    boundary = Fraction(0)
    for a, b in directed:
        if (b, a) in directed:
            continue
        (pu, pv), (qu, qv) = pt(a), pt(b)
        on_side = (pv == qv == v0 and pu < qu) or (pu == qu == u1 and pv < qv) or \
            (pv == qv == v1 and pu > qu) or (pu == qu == u0 and pv > qv)
        if not on_side:
            raise CertificateError(f"the edge {a}-{b} has a face on one side only and is "
                                   "not on the box's boundary")
        boundary += pu * qv - qu * pv
    if boundary / 2 != sub.slice.area:
        raise CertificateError(f"the faces' areas sum to {format_number(boundary / 2)}, not "
                               f"the box's {format_number(sub.slice.area)}")
    maps, errs = float_maps(sub, pats)
    got, ys, ey = _filtered(net, sub, witness)
    for f, (u, v) in enumerate(witness):
        if got[f] != pats[f]:
            raise CertificateError(f"the witness of face {f} does not have its pattern")
        # the face's map (float, with its proved error bound) meets the value there
        fu, fv = float(u), float(v)
        at = maps[f, :, 0] * fu + maps[f, :, 1] * fv + maps[f, :, 2]
        room = errs[f, :, 0] * abs(fu) + errs[f, :, 1] * abs(fv) + errs[f, :, 2] + \
            4 * U * (np.abs(maps[f]) @ np.array([abs(fu), abs(fv), 1.0]) + np.abs(at)) + \
            ey[f] + TINY
        if np.any(np.abs(at - ys[f]) > room):
            raise CertificateError(f"the witness of face {f} does not have its map")
    if len(set(pats)) != len(pats):
        raise CertificateError("two faces have the same activation pattern")


def _filtered(net: Net, sub: Subdivision, witness: list):
    """Packed patterns, outputs and the outputs' error bounds at the witnesses: in float64
    with proved bounds, exactly (rationals) at witnesses where a sign is not decided."""
    (_, _), (num, den) = sub.line_first()
    a0 = np.array([[float(Fraction(int(x), den)) for x in row] for row in num])
    e0 = np.abs(a0) * 2 * U
    uv = np.array([[float(u), float(v)] for u, v in witness])
    exact_uv = np.array([[Fraction(float(u)) == u and Fraction(float(v)) == v]
                         for u, v in witness]).ravel()
    z = a0[0] + uv[:, :1] * (a0[1] - a0[0]) + uv[:, 1:] * (a0[2] - a0[0])
    e = e0[0] + np.abs(uv[:, :1]) * (e0[1] + e0[0]) + np.abs(uv[:, 1:]) * (e0[2] + e0[0]) + \
        4 * U * (np.abs(a0[0]) + np.abs(uv[:, :1] * (a0[1] - a0[0])) +
                 np.abs(uv[:, 1:] * (a0[2] - a0[0])) + np.abs(z)) + TINY
    undecided = ~exact_uv
    packed = []
    for k, layer in enumerate(net.layers):
        if k:
            z, e = forward(layer, np.maximum(z, 0), e)
        if k < len(net.layers) - 1:
            undecided |= ((np.abs(z) <= e) & (e > 0)).any(axis=1)
            packed.append(np.packbits(z > 0, axis=1))
    rows = np.concatenate(packed, axis=1) if packed else np.zeros((len(z), 1), np.uint8)
    pats = [r.tobytes() for r in rows]
    for i in np.flatnonzero(undecided):  # exactly
        (g,), (y,) = Patterns(net).at([sub.slice.point(*witness[i])])
        pats[i] = pack(g, sub.widths)
        z[i], e[i] = [float(t) for t in y], np.abs([float(t) for t in y]) * 2 * U + TINY
    return pats, z, e

