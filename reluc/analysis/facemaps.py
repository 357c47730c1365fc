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
from reluc.analysis.slices import forward
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
    of the slice, with the error bound of ``slices.forward``. A layer's input
    depends only on the earlier layers' patterns, so it is computed once for each
    distinct such prefix (faces of one earlier face share it)."""
    on = masks(sub, pats)
    first = sub.int_layers[0]
    num, den = first.apply(_unit_points(sub).num, _unit_points(sub).den)
    z1 = np.array([[float(Fraction(int(x), den)) for x in row] for row in num])
    h, eh = z1[None], (np.abs(z1) * 2 * U)[None]  # one group: every face
    group = np.zeros(len(pats), np.int64)  # each face's group of equal prefixes
    layers = sub.net.layers
    for k, layer in enumerate(layers[1:], start=1):
        # the groups of faces with equal patterns in layers < k
        bits = np.packbits(on[k - 1], axis=1)
        key = np.concatenate([group.astype(">i8").view(np.uint8).reshape(-1, 8), bits], axis=1)
        _, pick, group = np.unique(np.ascontiguousarray(key).view(
            np.dtype((np.void, key.shape[1]))).ravel(), return_index=True, return_inverse=True)
        old = key[pick, :8].copy().view(">i8").ravel()  # the earlier group of each new one
        z = np.empty((len(pick), 3, layer.n_out))
        e = np.empty_like(z)
        for s in range(0, len(pick), chunk):  # (in chunks: groups x 3 x width is large)
            m = on[k - 1][pick[s:s + chunk]][:, None, :]
            c = len(m)
            zc, ec = forward(layer, (h[old[s:s + chunk]] * m).reshape(3 * c, -1),
                                 (eh[old[s:s + chunk]] * m).reshape(3 * c, -1), coarse=True)
            z[s:s + c], e[s:s + c] = zc.reshape(c, 3, -1), ec.reshape(c, 3, -1)
        h, eh = z, e
    h, eh = h[group], eh[group]
    c0, e0 = h[:, 0], eh[:, 0]
    gu, gv = h[:, 1] - c0, h[:, 2] - c0
    maps = np.stack([gu, gv, c0], axis=2)
    errs = np.stack([eh[:, 1] + e0 + 2 * U * np.abs(gu), eh[:, 2] + e0 + 2 * U * np.abs(gv),
                     e0], axis=2)
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
