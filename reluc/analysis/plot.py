"""``reluc plot``: pictures of what a network computes, drawn from the exact analysis of
:mod:`reluc.analysis.regions` rather than from sampling, so what they show is true.

- **One input** (or a segment ``--line A B``): the graph through every piece's ends; an
  output's breakpoints (where its slope changes) as dots, and points where a neuron
  switches without a kink (the carriers relu(x) - relu(-x)) as open rings.
- **Two inputs** (or a plane ``--plane P0 P1 P2``): every face of the exact subdivision
  filled, coloured by activation pattern or by affine map (from a hash of the pattern,
  so a colour never depends on the run); edges where the affine map changes drawn dark,
  edges where only the pattern changes light and dotted. ``surface``: each output as a
  heat map, linear on a fan of triangles in each face, which is the network's function
  exactly (it is affine on each face).
- **Approximations** (a spec with an error bound): the reference function beside the
  network, and the error with the declared bound.

The picture's bytes depend only on the file and the options (SVG: fixed ids, no date).
Plotting needs matplotlib (``pip install 'reluc[plot]'``); nothing else in reluc does.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from reluc.analysis.regions import LineShape, PlaneShape, Regions
from reluc.errors import InputError

FORMATS = ("png", "svg", "pdf")
INSTALL = "reluc plot needs matplotlib: pip install 'reluc[plot]'"
MARKERS_UP_TO = 100_000  # breakpoints marked one by one up to this many
DPI = 100


@dataclass
class Picture:
    data: bytes
    regions: Regions
    info: Any
    breakpoints: list[list[Fraction]]  # 1-D: per output drawn, the marked breakpoints
    switches: list[Fraction]  # 1-D: where a neuron switches and no output bends


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError(INSTALL) from None
    return matplotlib, Figure


def plot(source: str, fmt: str, size: tuple[int, int] = (900, 600), line=None, plane=None,
         box: str | None = None, color: str = "pattern", surface: bool = False,
         output: int | None = None, max_regions: int = 1 << 20) -> Picture:
    """The picture of a network file, as bytes of ``fmt`` (png, svg or pdf)."""
    from reluc.analysis.regions_report import of_file

    matplotlib, Figure = _matplotlib()
    if fmt not in FORMATS:
        raise InputError(f"cannot draw a '{fmt}' file: give a name ending in .png, .svg "
                         "or .pdf (or --format)")
    w, h = size
    if not (16 <= w <= 20000 and 16 <= h <= 20000):
        raise InputError(f"--size {w}x{h}: each side must be 16 to 20000 pixels")
    r, info = of_file(source, line, plane, box, max_regions, output=output, planar=True)
    net = r.network
    ref = _reference(info, output)
    with matplotlib.rc_context({"svg.hashsalt": "reluc", "font.size": 9}):
        fig = Figure(figsize=(w / DPI, h / DPI), dpi=DPI, layout="constrained")
        title = _title(r, info, source)
        marked: list[list[Fraction]] = []
        switches: list[Fraction] = []
        if isinstance(r.shape, LineShape):
            marked, switches = _draw_line(fig, r, net, ref, title)
        else:
            _draw_plane(fig, r, net, ref, title, color, surface)
        buf = io.BytesIO()
        meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None},
                "png": {}}[fmt]
        fig.savefig(buf, format=fmt, dpi=DPI, metadata=meta)
    return Picture(buf.getvalue(), r, info, marked, switches)


def _reference(info, output):
    """(reference on float rows -> outputs, declared bound) for an approximation's spec;
    None for an exact construction or a file without a spec."""
    if not info.spec:
        return None
    from reluc import registry
    from reluc.spec import parse_text

    spec = registry.resolve(parse_text(info.spec))
    ctor = registry.get(spec.name)
    if ctor.exact:
        return None
    values = spec.values

    def at(rows: np.ndarray) -> np.ndarray:
        from reluc.analysis.samples import reference_batch
        from reluc.exact import Scaled

        ref, _ = reference_batch(ctor, values, Scaled.of(rows.tolist()))
        out = np.array([[float(v) for v in row] for row in ref.rows()], float)
        return out if output is None else out[:, [output]]
    return at, float(ctor.declared_error(values))


def _title(r: Regions, info, source: str) -> str:
    c = r.counts
    name = info.spec or source
    what = "pieces" if r.dimension == 1 else "regions"
    return (f"{name}\n{c['full_dimensional_activation_regions']} {what} (full-dimensional "
            f"activation regions), {c['affine_regions']} affine "
            f"map{'s' if c['affine_regions'] != 1 else ''}")


# -- one input ------------------------------------------------------------------------------
def _draw_line(fig, r: Regions, net, ref, title):
    shape: LineShape = r.shape
    ends = shape.ends
    inner = ends[1:-1]
    lo, hi = ends[0], ends[-1]
    if lo is None or hi is None:  # the whole line: around every breakpoint
        first = inner[0] if inner else hi if hi is not None else lo if lo is not None else 0
        last = inner[-1] if inner else first
        margin = (last - first) / 5 if last > first else Fraction(1)
        lo = first - margin if lo is None else lo
        hi = last + margin if hi is None else hi
    t = np.array([float(lo), *map(float, inner), float(hi)])
    point = _line_points(r)
    y = net.evaluate(point(t))
    n_out = y.shape[1]
    rows = n_out * (2 if ref else 1)
    axes = fig.subplots(rows, 1, squeeze=False, sharex=True)[:, 0]
    fig.suptitle(title)
    marked = []
    switches = [x for i, x in enumerate(inner) if not shape.kinks[i].any()]
    sw = np.array([i + 1 for i in range(len(inner)) if not shape.kinks[i].any()], int)
    grid = np.linspace(t[0], t[-1], 1001)
    where = "best" if len(t) <= 2000 else "upper right"  # ("best" is slow on long lines)
    for o in range(n_out):
        ax = axes[o * (2 if ref else 1)]
        ax.plot(t, y[:, o], color="C0", lw=1, gid=f"graph-{o}", label="network")
        bk = np.array([i + 1 for i in range(len(inner)) if shape.kinks[i, o]], int)
        marked.append([inner[i - 1] for i in bk])
        if 0 < len(bk) <= MARKERS_UP_TO:
            ax.plot(t[bk], y[bk, o], ls="none", marker="o", ms=3, color="C3", zorder=3,
                    gid=f"breakpoints-{o}", label="breakpoint")
        if 0 < len(sw) <= MARKERS_UP_TO:
            ax.plot(t[sw], y[sw, o], ls="none", marker="o", ms=4, mfc="none", color="C2",
                    zorder=3, gid=f"switches-{o}", label="neuron switches, no kink")
        ax.set_ylabel(f"output {o}" if n_out > 1 else "f")
        if ref:
            at, bound = ref
            g = np.union1d(grid, t)
            want = at(point(g))[:, o]
            ax.plot(g, want, color="0.3", lw=1, ls="--", gid=f"reference-{o}",
                    label="reference")
            err = net.evaluate(point(g))[:, o] - want
            ax2 = axes[o * 2 + 1]
            ax2.plot(g, err, color="C1", lw=1, gid=f"error-{o}", label="network - reference")
            ax2.axhline(bound, color="C3", lw=0.8, ls=":", label="declared bound")
            ax2.axhline(-bound, color="C3", lw=0.8, ls=":")
            ax2.set_ylabel("error")
            ax2.legend(loc=where, fontsize=7)
        ax.legend(loc=where, fontsize=7)
    axes[-1].set_xlabel("t" if r.domain["kind"] == "line" else "x")
    return marked, switches


def _line_points(r: Regions):
    d = r.domain
    if d["kind"] != "line":
        return lambda t: np.asarray(t, float)[:, None]
    p = np.array([float(Fraction(v)) for v in d["point"]])
    a = np.array([float(Fraction(v)) for v in d["direction"]])
    return lambda t: p[None, :] + np.asarray(t, float)[:, None] * a[None, :]


# -- two inputs ------------------------------------------------------------------------------
def _colour(key: bytes) -> tuple[float, float, float]:
    """A colour from a hash of ``key``: the same on every run and machine."""
    import colorsys

    x = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")
    hue = (x & 0xFFFF) / 0x10000
    sat = 0.35 + 0.3 * ((x >> 16) & 0xFF) / 0xFF
    val = 0.75 + 0.2 * ((x >> 24) & 0xFF) / 0xFF
    return colorsys.hsv_to_rgb(hue, sat, val)


def _draw_plane(fig, r: Regions, net, ref, title, color, surface):
    from matplotlib.collections import LineCollection, PolyCollection

    shape: PlaneShape = r.shape
    sub = shape.sub
    used = sorted({v for f in sub.faces for v in f})
    xy = np.zeros((sub.X.n, 2))
    for v in used:  # exact positions, drawn as floats
        xy[v] = [float(c) for c in sub.exact_point(v)]
    if color == "affine":  # one colour per map: that of the map's first pattern
        first: dict[int, bytes] = {}
        for c, p in zip(shape.classes.tolist(), shape.patterns):
            first[c] = min(first.get(c, p), p)
        keys = [b"map" + first[c] for c in shape.classes.tolist()]
    else:
        keys = shape.patterns
    d = r.domain
    u0, u1, v0, v1 = (float(Fraction(x)) for x in (*d["u"], *d["v"]))
    panels = 1 + (net.layers[-1].n_out if surface else 0) + (net.layers[-1].n_out if ref else 0)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    fig.suptitle(title)
    ax = axes[0]
    ax.add_collection(PolyCollection([xy[f] for f in sub.faces], facecolors=[_colour(k)
                                      for k in keys], edgecolors="none", gid="regions"))
    lo, hi, fa, fb = sub.edge_arrays()
    inner = fb >= 0
    cls = shape.classes
    kink = inner & (cls[fa] != cls[np.maximum(fb, 0)])
    switch = inner & ~kink
    ax.add_collection(LineCollection(np.stack([xy[lo[switch]], xy[hi[switch]]], axis=1),
                                     colors="0.35", linewidths=0.3, linestyles=":",
                                     gid="switches"))
    ax.add_collection(LineCollection(np.stack([xy[lo[kink]], xy[hi[kink]]], axis=1),
                                     colors="k", linewidths=0.6 if len(sub.faces) < 1000
                                     else 0.3, gid="breaks"))
    plane = d["axes"] != [["1", "0"], ["0", "1"]] or d["point"] != ["0", "0"]
    names = ("u", "v") if plane else ("x1", "x2")
    for a in axes:
        a.set_xlim(u0, u1)
        a.set_ylim(v0, v1)
        a.set_xlabel(names[0])
        a.set_ylabel(names[1])
        if 0.25 <= (v1 - v0) / (u1 - u0) <= 4:
            a.set_aspect("equal")
    ax.set_title(f"regions, coloured by {'affine map' if color == 'affine' else 'pattern'}",
                 fontsize=8)
    origin = np.array([float(c) for c in sub.slice.origin])
    ax_u, ax_v = (np.array([float(c) for c in a]) for a in sub.slice.axes)

    def inputs(uv: np.ndarray) -> np.ndarray:
        return origin[None] + uv[:, :1] * ax_u[None] + uv[:, 1:] * ax_v[None]

    n_out = net.layers[-1].n_out
    k = 1
    if surface:
        tri = np.array([(f[0], f[i], f[i + 1]) for f in sub.faces for i in range(1, len(f) - 1)])
        z = net.evaluate(inputs(xy))
        for o in range(n_out):
            m = axes[k].tripcolor(xy[:, 0], xy[:, 1], tri, z[:, o], shading="gouraud",
                                  cmap="viridis", gid=f"surface-{o}")
            fig.colorbar(m, ax=axes[k], shrink=0.7)
            axes[k].set_title(f"output {o}" if n_out > 1 else "f", fontsize=8)
            k += 1
    if ref:
        at, bound = ref
        g = 121
        uu, vv = np.meshgrid(np.linspace(u0, u1, g), np.linspace(v0, v1, g))
        uv = np.stack([uu.ravel(), vv.ravel()], axis=1)
        err = net.evaluate(inputs(uv)) - at(inputs(uv))
        for o in range(n_out):
            e = err[:, o].reshape(g, g)
            top = max(float(np.abs(e).max()), bound, 1e-300)
            m = axes[k].imshow(e, origin="lower", extent=(u0, u1, v0, v1), cmap="RdBu_r",
                               vmin=-top, vmax=top, aspect="auto", gid=f"error-{o}")
            fig.colorbar(m, ax=axes[k], shrink=0.7)
            axes[k].set_title(f"error{f' of output {o}' if n_out > 1 else ''}: max "
                              f"{np.abs(e).max():.2g}, bound {bound:.2g}", fontsize=8)
            k += 1
