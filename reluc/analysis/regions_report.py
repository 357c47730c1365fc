"""``reluc regions`` for a file: the domain chosen from the file and the options (its
own inputs, a segment ``--line A B`` or a plane ``--plane P0 P1 P2``, a ``--box``), and
the report (text, or JSON in the documented schema). The counting is
:mod:`reluc.analysis.regions`."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from reluc.analysis.planar import Slice
from reluc.analysis.regions import CERTIFY_UP_TO, DEFINITIONS, SCHEMA, Regions, in_box, \
    on_line, on_plane
from reluc.errors import InputError
from reluc.numbers import clip_text, format_number


def parse_point(text: str, what: str) -> tuple[Fraction, ...]:
    """``1,0,-1/2``: a point of R^n, exactly."""
    from reluc.numbers import parse_number

    try:
        return tuple(parse_number(t) for t in text.replace(" ", "").split(","))
    except ValueError:
        raise InputError(f"{what} '{clip_text(text)}' is not a list of numbers like "
                         "1,0,-1/2") from None


def parse_box(text: str, dim: int) -> list[tuple[Fraction, Fraction]]:
    """``-1:1`` (every axis) or ``-1:1,0:2`` (one interval per axis)."""
    from reluc.numbers import parse_number

    parts = text.replace(" ", "").split(",")
    try:
        box = [(parse_number(a), parse_number(b)) for a, b in (p.split(":") for p in parts)]
    except ValueError:
        raise InputError(f"--box '{clip_text(text)}' is not like -1:1 or -1:1,0:2") from None
    if len(box) == 1:
        box *= dim
    if len(box) != dim:
        raise InputError(f"--box has {len(box)} intervals; the domain has {dim} axes")
    for lo, hi in box:
        if not lo < hi:
            raise InputError(f"--box interval {format_number(lo)}:{format_number(hi)} is "
                             "empty (lo must be below hi)")
    return box


def of_file(source: str, line: tuple[str, str] | None = None,
            plane: tuple[str, str, str] | None = None, box: str | None = None,
            max_regions: int = 1 << 20, with_map: bool = False,
            certify: bool | None = None, workers: int | None = None,
            output: int | None = None, planar: bool = False) -> tuple[Regions, Any]:
    """The regions of a network file (``reluc regions``): its one input on its domain
    (or ``box``); the segment ``line`` (A, B); the plane ``plane`` (P0, P1, P2), (u, v)
    in [0, 1]^2 or ``box``; or its two inputs on its domain or ``box``. ``output``: of
    that output alone (counted from 0). ``planar``: refuse 3 or more inputs without a
    line or a plane (no n-D search)."""
    from reluc import formats

    if max_regions < 1:
        raise InputError("--max-regions must be at least 1")
    net, info = formats.read(source)
    if output is not None:
        net = one_output(net, output)
    if planar and net.n_in > 2 and not (line or plane):
        raise InputError(f"the network has {net.n_in} inputs: give --line A B or --plane "
                         "P0 P1 P2 to draw it")
    r = _count(net, info, line, plane, box, max_regions, with_map, certify, workers)
    r.network = net
    return r, info


def _count(net, info, line, plane, box, max_regions, with_map, certify, workers) -> Regions:
    up_to = CERTIFY_UP_TO if certify is None else None if certify else -1
    n = net.n_in
    if line and plane:
        raise InputError("give --line or --plane, not both")
    if line:
        a, b = (parse_point(p, "--line point") for p in line)
        for p in (a, b):
            if len(p) != n:
                raise InputError(f"--line point has {len(p)} coordinates; the network has "
                                 f"{n} inputs")
        if a == b:
            raise InputError("--line needs two different points")
        (lo, hi), = parse_box(box, 1) if box else [(Fraction(0), Fraction(1))]
        along = (a, tuple(q - p for p, q in zip(a, b)))
        return on_line(net, lo, hi, along, max_regions, with_map)
    if plane:
        p0, p1, p2 = (parse_point(p, "--plane point") for p in plane)
        for p in (p0, p1, p2):
            if len(p) != n:
                raise InputError(f"--plane point has {len(p)} coordinates; the network has "
                                 f"{n} inputs")
        a = tuple(q - p for p, q in zip(p0, p1))
        b = tuple(q - p for p, q in zip(p0, p2))
        if all(x * d == y * c for x, y in zip(a, b) for c, d in zip(a, b)):
            raise InputError("--plane points are collinear: they span no plane")
        (u0, u1), (v0, v1) = parse_box(box, 2) if box else [(Fraction(0), Fraction(1))] * 2
        return on_plane(net, Slice(p0, (a, b), (u0, u1, v0, v1)), max_regions, with_map,
                        up_to)
    domain = [(lo, hi) for lo, hi in zip(info.domain.lo, info.domain.hi)] \
        if info.domain is not None and info.domain.dim == n else [(None, None)] * n
    if box:
        domain = parse_box(box, n)
    if n == 1:
        (lo, hi), = domain
        return on_line(net, lo, hi, None, max_regions, with_map)
    if n == 2:
        if any(v is None for pair in domain for v in pair):
            raise InputError("the domain is unbounded: give --box (such as --box -1:1) to "
                             "count regions of a 2-input network")
        (u0, u1), (v0, v1) = domain
        eye = ((Fraction(1), Fraction(0)), (Fraction(0), Fraction(1)))
        return on_plane(net, Slice((Fraction(0),) * 2, eye, (u0, u1, v0, v1)), max_regions,
                        with_map, up_to)
    if any(v is None for pair in domain for v in pair):
        raise InputError(f"the domain is unbounded: give --box (such as --box -1:1) to count "
                         f"regions of a {n}-input network (or --line A B, --plane P0 P1 P2)")
    return in_box(net, [lo for lo, _ in domain], [hi for _, hi in domain], max_regions,
                  workers)


def one_output(net, k: int):
    """The network of output ``k`` alone (its last layer's row ``k``)."""
    from reluc.net import Layer, Net

    last = net.layers[-1]
    if not 0 <= k < last.n_out:
        raise InputError(f"--output {k}: the network has {last.n_out} output"
                         f"{'s' if last.n_out != 1 else ''} (0 to {last.n_out - 1})")
    return Net([*net.layers[:-1], Layer(last.weight[[k]], last.bias[[k]])])


def to_json(r: Regions, source: str, spec: str | None) -> dict[str, Any]:
    out = {"schema": SCHEMA, "file": source, "spec": spec, "dimension": r.dimension,
           "domain": r.domain, "counts": r.counts, "certificate": r.certificate,
           "certified": r.certified}
    if r.regions:
        out["regions"] = r.regions
    return out


def text(r: Regions, source: str, spec: str | None) -> str:
    where = _describe(r.domain)
    head = f"regions of {source}" + (f" ({spec})" if spec else "") + f" on {where}"
    lines = [head]
    for key, name in DEFINITIONS:
        if key not in r.counts:
            continue
        c = r.counts[key]
        shown = f"between {c[0]} and {c[1]}" if isinstance(c, list) else \
            f"at least {c['at_least']}" if isinstance(c, dict) else str(c)
        lines.append(f"  {name + ':':<68} {shown}")
    missing = [name.split(" (")[0] for key, name in DEFINITIONS if key not in r.counts]
    if missing:
        lines.append(f"  (not counted here: {', '.join(missing)})")
    lines.append(f"{'certified' if r.certified else 'check'}: {r.certificate}")
    return "\n".join(lines)


def _describe(d: dict[str, Any]) -> str:
    def end(v, inf):
        return inf if v is None else v

    if d["kind"] == "interval":
        return f"[{end(d['lo'], '-inf')}, {end(d['hi'], 'inf')}]"
    if d["kind"] == "line":
        return (f"the line {','.join(d['point'])} + t ({','.join(d['direction'])}), t in "
                f"[{end(d['lo'], '-inf')}, {end(d['hi'], 'inf')}]")
    if "u" not in d:
        return " x ".join(f"[{a}, {b}]" for a, b in zip(d["lo"], d["hi"]))
    box = f"[{d['u'][0]}, {d['u'][1]}] x [{d['v'][0]}, {d['v'][1]}]"
    return box if d["axes"] == [["1", "0"], ["0", "1"]] and d["point"] == ["0", "0"] else \
        f"the plane {','.join(d['point'])} + u ({','.join(d['axes'][0])}) + v " \
        f"({','.join(d['axes'][1])}), (u, v) in {box}"
