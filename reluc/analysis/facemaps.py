"""The affine map of each face of a :class:`~reluc.analysis.planar.Subdivision`: the
network with the face's neurons fixed on or off (its activation pattern) is affine, so
running it on the slice's points (0, 0), (1, 0), (0, 1) gives the map. In float64 for
every face at once, with a proved bound on the error; exactly, in integers, for the
faces whose float maps cannot be told apart."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from reluc.analysis.patterns import layer_masks
from reluc.analysis.planar import U, Subdivision
from reluc.exact import Scaled


def masks(sub: Subdivision, pats: list[bytes]) -> list[np.ndarray]:
    """Per hidden layer, which neurons each face keeps active (faces x width)."""
    return layer_masks(np.frombuffer(b"".join(pats), np.uint8).reshape(len(pats), -1),
                       sub.widths)

def _unit_points(sub: Subdivision) -> Scaled:
    """The slice's points at (u, v) = (0, 0), (1, 0), (0, 1), exactly."""
    return Scaled.of([sub.slice.point(u, v) for u, v in [(0, 0), (1, 0), (0, 1)]])

def float_maps(sub: Subdivision, pats: list[bytes], chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Every face's affine map, per output (d/du, d/dv, value at 0), in float64
    (faces x outputs x 3), and a proved bound on each entry's error: the network
    with the face's neurons fixed on or off, run on the points (0,0), (1,0), (0,1)
    of the slice, with the error bound of :meth:`_forward`."""
    on = masks(sub, pats)
    first = sub.int_layers[0]
    num, den = first.apply(_unit_points(sub).num, _unit_points(sub).den)
    z1 = np.array([[float(Fraction(int(x), den)) for x in row] for row in num])
    e1 = np.abs(z1) * 2 * U
    n = len(pats)
    n_out = sub.net.layers[-1].n_out
    maps, errs = np.zeros((n, n_out, 3)), np.zeros((n, n_out, 3))
    for s in range(0, n, chunk):
        m = [mk[s:s + chunk, None, :] for mk in on]
        h, eh = z1[None] * m[0], e1[None] * m[0]
        for k, layer in enumerate(sub.net.layers[1:], start=1):
            c = h.shape[0]
            z, e = sub.forward(layer, h.reshape(3 * c, -1), eh.reshape(3 * c, -1),
                                 coarse=True)
            z, e = z.reshape(c, 3, -1), e.reshape(c, 3, -1)
            if k < len(sub.net.layers) - 1:
                z, e = z * m[k], e * m[k]
            h, eh = z, e
        c0, e0 = h[:, 0], eh[:, 0]
        gu, gv = h[:, 1] - c0, h[:, 2] - c0
        maps[s:s + chunk] = np.stack([gu, gv, c0], axis=2)
        errs[s:s + chunk] = np.stack([eh[:, 1] + e0 + 2 * U * np.abs(gu),
                                      eh[:, 2] + e0 + 2 * U * np.abs(gv), e0], axis=2)
    return maps, errs * (1 + 1e-9)

def exact_map(sub: Subdivision, f: int, pat: bytes | None = None) -> tuple[tuple[Fraction, ...], ...]:
    """Face ``f``'s affine map, exactly: per output (d/du, d/dv, value at 0), from
    the network with the face's neurons fixed on or off, in integer arithmetic."""
    pat = sub.face_patterns()[f] if pat is None else pat
    on = [mk[0] for mk in masks(sub, [pat])]
    pts = _unit_points(sub)
    num, den = pts.num, pts.den
    for k, il in enumerate(sub.int_layers):
        if k:
            num = np.where(on[k - 1], num, 0).astype(num.dtype)
        num, den = il.apply(num, den)
    y = [[Fraction(int(x), den) for x in row] for row in num]
    return tuple((a - c, b - c, c) for c, a, b in zip(*y))
