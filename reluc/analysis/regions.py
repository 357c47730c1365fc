"""``reluc regions``: exact linear regions of a network, under each definition.

Stargalla, Hertrich and Reichman (NeurIPS 2025, arXiv 2505.16716) show that papers count
different things as "linear regions". reluc counts, on a domain D (a box, a segment, or
the whole line), each of the following, and names each by what it counts:

1. ``activation_regions``: activation patterns realised in D, lower-dimensional
   sets included (a point where a neuron is exactly 0 may have a pattern of its own);
2. ``full_dimensional_activation_regions``: activation patterns realised on a set with
   interior (each such set is one convex polyhedron);
3. ``convex_regions``: the fewest convex pieces of a polyhedral complex covering D on
   each of which the function is affine (exact in 1-D; in 2-D given as the range
   between the counts 4 and 2, which bound it, when they differ);
4. ``open_connected_regions``: maximal open connected sets on which the function is
   affine (pieces with one affine map, joined across shared edges);
5. ``closed_connected_regions``: maximal closed connected sets on which the function is
   affine (pieces with one affine map, joined at shared edges or single points);
6. ``affine_regions``: distinct affine maps, connected or not.

Counts 1 and 2 depend on the network; 3 to 6 only on the function it computes. On every
network 6 <= 5 <= 4 <= 3 <= 2 <= 1 (the paper's ordering).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from reluc.analysis import line
from reluc.analysis.certificate import CertificateError, certify
from reluc.analysis.facemaps import exact_map, float_maps
from reluc.analysis.patterns import Patterns, layer_masks, unpack
from reluc.analysis.planar import Slice, Subdivision
from reluc.errors import NetworkError
from reluc.net import Net
from reluc.numbers import format_number
from reluc.pieces import interior_point, merge, pieces

SCHEMA = 1
CERTIFY_UP_TO = 10000  # faces; past this the exact certificate is asked for (--certify)

DEFINITIONS = [
    ("activation_regions", "activation regions (patterns realised, lower-dimensional included)"),
    ("full_dimensional_activation_regions", "full-dimensional activation regions"),
    ("convex_regions", "convex regions (fewest convex pieces of a polyhedral complex)"),
    ("open_connected_regions", "open connected regions on which f is affine"),
    ("closed_connected_regions", "closed connected regions on which f is affine"),
    ("affine_regions", "affine regions (distinct affine maps)"),
]


@dataclass
class Regions:
    dimension: int  # 1 or 2
    domain: dict[str, Any]
    counts: dict[str, int | list[int]]  # a list [lo, hi] where only bounds are known
    certificate: str
    regions: list[dict[str, Any]] = field(default_factory=list)
    certified: bool = True
    shape: LineShape | PlaneShape | None = None  # what a picture needs (not in the JSON)
    network: Net | None = None  # the network counted


@dataclass
class LineShape:
    """A 1-D result as a picture needs it: the pieces' ends, exactly (None at an
    unbounded end), and at each inner end, per output, whether the slope changes there
    (a breakpoint of that output; elsewhere a neuron switches without a kink)."""

    ends_of: Callable[[], list]
    kinks: np.ndarray  # (pieces - 1) x outputs, bool

    @cached_property
    def ends(self) -> list:
        return self.ends_of()


@dataclass
class PlaneShape:
    """A 2-D result as a picture needs it: the subdivision, each face's packed pattern
    and the id of its affine map (equal ids exactly when the maps are equal)."""

    sub: Subdivision
    patterns: list[bytes]
    classes: np.ndarray


def _num(v: Fraction | None) -> str | None:
    return None if v is None else format_number(v)


def show_pattern(bits: int, widths: list[int]) -> str:
    """A pattern as 0/1 per hidden neuron, layers separated by '|'."""
    out, off = [], 0
    for w in widths:
        out.append("".join("1" if bits >> (off + j) & 1 else "0" for j in range(w)))
        off += w
    return "|".join(out)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of n nodes joined by the pairs (a, b): count and labels."""
    g = sp.coo_array((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    return connected_components(g, directed=False)


def on_line(net: Net, lo: Fraction | None, hi: Fraction | None, along=None,
            max_regions: int = 1 << 20, with_map: bool = False) -> Regions:
    """The regions of ``net`` on ``[lo, hi]`` (None: unbounded) of its one input, or of
    the line ``p + t d`` (``along = (p, d)``), ``t`` in ``[lo, hi]``. Bounded segments
    go through the vectorised integer pass (:mod:`reluc.analysis.line`); unbounded ones
    (and lines whose first layer is not a float64 one) through exact pieces."""
    domain = {"kind": "interval" if along is None else "line", "lo": _num(lo), "hi": _num(hi)}
    if along is not None:
        domain["point"] = [_num(v) for v in along[0]]
        domain["direction"] = [_num(v) for v in along[1]]
    widths = [layer.n_out for layer in net.layers[:-1]]
    lp = line.cut(net, lo, hi, along, max_regions) if lo is not None and hi is not None \
        else None
    if lp is not None:
        return _line_regions(lp, domain, widths, with_map)
    ps = pieces(net, lo, hi, max_regions, along=along)
    point = (lambda t: [t]) if along is None else \
        (lambda t: [p + t * d for p, d in zip(*along)])
    ends = [t for t in (lo, *[p.t1 for p in ps[:-1]], hi) if t is not None]
    evaluator = Patterns(net)
    at_points, _ = evaluator.at([point(t) for t in ends])
    # certificate: a point inside each piece has the piece's pattern and affine map
    mids = [interior_point(p.t0, p.t1) for p in ps]
    pats, outs = evaluator.at([point(t) for t in mids])
    for p, t, pat, out in zip(ps, mids, pats, outs):
        if pat != p.pattern or list(p.value(t)) != out:
            raise CertificateError(f"the piece {_num(p.t0)}..{_num(p.t1)} failed its check")
    if len({p.pattern for p in ps}) != len(ps):
        raise CertificateError("two pieces have the same activation pattern")
    merged = len(merge(ps))
    counts = {
        "activation_regions": len({p.pattern for p in ps} | set(at_points)),
        "full_dimensional_activation_regions": len(ps),
        "convex_regions": merged,  # in 1-D the maximal pieces form a complex
        "open_connected_regions": merged,
        "closed_connected_regions": merged,
        "affine_regions": len({(p.slope, p.intercept) for p in ps}),
    }
    out = Regions(1, domain, counts, f"each of {len(ps)} pieces checked exactly at an "
                  "interior point (pattern and affine map)")
    out.shape = LineShape(lambda: [ps[0].t0] + [p.t1 for p in ps],
                          np.array([[a != b for a, b in zip(p.slope, q.slope)]
                                    for p, q in zip(ps, ps[1:])], bool
                                   ).reshape(len(ps) - 1, net.layers[-1].n_out))
    if with_map:
        out.regions = [{"interval": [_num(p.t0), _num(p.t1)],
                        "pattern": show_pattern(p.pattern, widths),
                        "slope": [_num(v) for v in p.slope],
                        "intercept": [_num(v) for v in p.intercept]} for p in ps]
    return out


def _line_regions(lp, domain, widths, with_map) -> Regions:
    a = line.analyse(lp)  # raises on a failed midpoint check
    n = len(a.piece_patterns)
    if len(set(a.piece_patterns)) != n:
        raise CertificateError("two pieces have the same activation pattern")
    maps = np.concatenate([a.slopes.reshape(n, -1), a.intercepts.reshape(n, -1)], axis=1)
    if maps.dtype == object:
        keys = [tuple(r) for r in maps.tolist()]
        changes = sum(1 for x, y in zip(keys, keys[1:]) if x != y)
        distinct = len(set(keys))
    else:
        changes = int(np.any(maps[1:] != maps[:-1], axis=1).sum())
        rows = np.ascontiguousarray(maps)
        distinct = len(set(rows.view(np.dtype((np.void, rows.shape[1] * 8))).ravel().tolist()))
    counts = {
        "activation_regions": len(set(a.piece_patterns) | set(a.point_patterns)),
        "full_dimensional_activation_regions": n,
        "convex_regions": changes + 1,  # in 1-D the maximal pieces form a complex
        "open_connected_regions": changes + 1,
        "closed_connected_regions": changes + 1,
        "affine_regions": distinct,
    }
    out = Regions(1, domain, counts, f"each of {n} pieces checked exactly at its midpoint "
                  "(pattern and value)")
    out.shape = LineShape(lambda: [Fraction(int(x), int(y)) for x, y in zip(lp.p, lp.q)],
                          np.asarray(np.any(a.slopes[1:] != a.slopes[:-1], axis=2), bool))
    if with_map:
        t = [Fraction(int(x), int(y)) for x, y in zip(lp.p, lp.q)]
        out.regions = [{"interval": [_num(t[i]), _num(t[i + 1])],
                        "pattern": show_pattern(unpack(a.piece_patterns[i], widths), widths),
                        "slope": [_num(Fraction(int(x), int(y)) / a.g) for x, y in a.slopes[i]],
                        "intercept": [_num(Fraction(int(x), int(y)) / a.g)
                                      for x, y in a.intercepts[i]]} for i in range(n)]
    return out


def on_plane(net: Net, sl: Slice, max_regions: int = 1 << 20, with_map: bool = False,
             certify_up_to: int | None = CERTIFY_UP_TO) -> Regions:
    """The regions of ``net`` on the 2-D slice ``sl``, counted exactly; certified when
    there are at most ``certify_up_to`` faces (None: always)."""
    sub = Subdivision(net, sl, max_regions)
    n = len(sub.faces)
    pats = sub.face_patterns()
    cls = map_classes(sub, pats)
    certified = certify_up_to is None or n <= certify_up_to
    if certified:
        certify(net, sub, pats)
    a, b, fa, fb = sub.edge_arrays()
    lower = sub.lower_patterns(np.stack([a, b], axis=1))
    c = np.asarray(cls)
    inner = fb >= 0
    same = inner & (c[fa] == c[np.maximum(fb, 0)])
    n_open, labels = _components(n, fa[same], fb[same])
    # closed: also faces with one map that share a vertex
    vs, fs = sub.incidences()
    order = np.lexsort((fs, c[fs], vs))
    vs, fs = vs[order], fs[order]
    run = (vs[1:] == vs[:-1]) & (c[fs[1:]] == c[fs[:-1]])
    n_closed, _ = _components(n, np.r_[fa[same], fs[:-1][run]], np.r_[fb[same], fs[1:][run]])
    convex: int | list[int] = n_open
    if n_open != n and not (certified and _is_complex(sub, labels)):
        convex = [n_open, n]
    counts = {
        "activation_regions": len(set(pats) | lower),
        "full_dimensional_activation_regions": n,
        "convex_regions": convex,
        "open_connected_regions": n_open,
        "closed_connected_regions": n_closed,
        "affine_regions": len(np.unique(cls)),
    }
    u0, u1, v0, v1 = sl.box
    domain = {"kind": "box", "u": [_num(u0), _num(u1)], "v": [_num(v0), _num(v1)],
              "point": [_num(v) for v in sl.origin],
              "axes": [[_num(v) for v in a] for a in sl.axes]}
    widths = sub.widths
    cert = (f"the {n} faces tile the box exactly (convex, inner edges paired, areas summing "
            f"to {_num(sl.area)}); a witness inside each has its pattern and its map's value") \
        if certified else "not certified (--certify checks every face exactly)" \
        if certify_up_to < 0 else f"not certified ({n} faces, more than {certify_up_to}; " \
        "--certify checks every face exactly)"
    out = Regions(2, domain, counts, cert, certified=certified,
                  shape=PlaneShape(sub, pats, cls))
    if with_map:
        out.regions = [{"vertices": [[_num(c) for c in sub.exact_point(v)]
                                     for v in sub.faces[f]],
                        "pattern": show_pattern(unpack(pats[f], widths), widths),
                        "map": [[_num(c) for c in row] for row in exact_map(sub, f, pats[f])]}
                       for f in range(n)]
    return out


def map_classes(sub: Subdivision, pats: list[bytes]) -> np.ndarray:
    """For each face, the id of its affine map: faces get one id exactly when their maps
    are equal. Float maps with proved error bounds tell most faces apart (sorted by
    their first entry, a face whose interval meets no other's is alone); maps the
    floats cannot tell apart are compared exactly."""
    n = len(pats)
    m, e = float_maps(sub, pats)
    m, e = m.reshape(n, -1), e.reshape(n, -1)
    order = np.argsort(m[:, 0], kind="stable")
    lo, hi = (m - e)[order, 0], (m + e)[order, 0]
    starts = np.flatnonzero(np.r_[True, lo[1:] > np.maximum.accumulate(hi)[:-1]])
    sizes = np.diff(np.r_[starts, n])
    cls = np.empty(n, np.int64)
    alone = np.repeat(sizes == 1, sizes)
    cls[order[alone]] = np.arange(int(alone.sum()))
    next_id = int(alone.sum())
    for i, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist()):
        run = order[i:i + size]  # faces whose first entries' intervals overlap
        ids: dict[Any, int] = {}
        for f in run.tolist():
            near = np.all(np.abs(m[run] - m[f]) <= e[run] + e[f], axis=1)
            # alone: the floats tell its map from every other face's, no exact map needed
            key = ("alone", f) if near.sum() == 1 else exact_map(sub, f, pats[f])
            if key not in ids:
                ids[key] = next_id
                next_id += 1
            cls[f] = ids[key]
    return cls


def _hull(points: list) -> list:
    """The corners of the convex hull of exact points (Andrew's monotone chain)."""
    pts = sorted(set(points))
    if len(pts) < 3:
        return pts

    def chain(seq):
        out: list = []
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1]) -
                                     (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out

    return chain(pts)[:-1] + chain(pts[::-1])[:-1]


def _area(pts: list) -> Fraction:
    return sum((a[0] * b[1] - b[0] * a[1] for a, b in zip(pts, pts[1:] + pts[:1])),
               Fraction(0)) / 2


def _is_complex(sub: Subdivision, labels: np.ndarray) -> bool:
    """Whether the maximal affine pieces are convex and meet face to face (then they
    are the fewest convex pieces of a polyhedral complex): each piece's area equals its
    hull's, and no vertex is a corner of one piece and inside an edge of another."""
    members: dict[int, list[int]] = {}
    for f in range(len(sub.faces)):
        members.setdefault(int(labels[f]), []).append(f)
    corner_of: dict[int, set[bool]] = {}
    for g, fs in members.items():
        ids = {v for f in fs for v in sub.faces[f]}
        hull = _hull([sub.exact_point(v) for v in ids])
        if _area(hull) != sum(_area([sub.exact_point(v) for v in sub.faces[f]]) for f in fs):
            return False
        corners = set(hull)
        for v in ids:
            corner_of.setdefault(v, set()).add(sub.exact_point(v) in corners)
    return all(len(flags) == 1 for flags in corner_of.values())


def in_box(net: Net, lo, hi, max_regions: int = 1 << 20, workers: int | None = None) -> Regions:
    """The full-dimensional activation regions of ``net`` (any number of inputs) in the
    box [lo, hi], by linear programming, each checked exactly at its centre; and the
    affine regions (distinct exact maps) among them. Past ``max_regions`` the counts
    are lower bounds ("at least")."""
    from reluc.analysis.polytopes import certify_region, enumerate_regions

    found = enumerate_regions(net, lo, hi, max_regions, workers)
    domain = {"kind": "box", "lo": [_num(v) for v in lo], "hi": [_num(v) for v in hi]}
    n = len(found.patterns)
    if not found.complete:  # regions of the first layers: each holds one or more
        return Regions(net.n_in, domain, {"full_dimensional_activation_regions":
                                          {"at_least": n}},
                       f"stopped past --max-regions {max_regions}: {n} disjoint regions of "
                       "the first layers, each holding one or more", certified=False)
    widths = [layer.n_out for layer in net.layers[:-1]]
    maps = set()
    size = sum((w + 7) // 8 for w in widths) or 1
    for i, (pat, centre) in enumerate(zip(found.patterns, found.centres)):
        try:
            if len(pat) != size:
                raise NetworkError("its pattern is not one bit per neuron")
            maps.add(certify_region(net, [m[0] for m in layer_masks(pat, widths)], centre))
        except NetworkError as e:
            raise CertificateError(f"region {i}: {e}") from None
    if len(set(found.patterns)) != n:
        raise CertificateError("two regions have the same activation pattern")
    counts: dict[str, Any] = {"full_dimensional_activation_regions": n,
                              "affine_regions": len(maps)}
    cert = f"the centre of each of {n} regions is strictly inside it (every neuron's sign " \
        "there checked exactly)"
    return Regions(net.n_in, domain, counts, cert)
