"""``reluc plot``: pictures from the exact analysis (:mod:`reluc.analysis.plot`)."""

from __future__ import annotations

import os
import sys

import click

from reluc.cli import NETWORK, main, say, slice_options


def _size(ctx, param, value: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"'{value}' is not WIDTHxHEIGHT in pixels, like 900x600")
    return w, h


@main.command()
@click.argument("network", type=NETWORK)
@click.option("-o", "--output-file", "out", required=True, metavar="FILE",
              help="The picture: .png, .svg or .pdf (- for stdout, with --format).")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]),
              help="The picture's format (default: from FILE's name; svg for -).")
@slice_options("Draw")
@click.option("--color", type=click.Choice(["pattern", "affine"]), default="pattern",
              show_default=True,
              help="2-D: colour the regions by activation pattern, or by affine map "
                   "(regions with one map share a colour).")
@click.option("--surface", is_flag=True,
              help="2-D: also each output as a heat map (exact: linear on each region).")
@click.option("--output", "output", type=int, metavar="K",
              help="Only output K (counted from 0); default: a panel per output.")
@click.option("--size", default="900x600", show_default=True, callback=_size,
              metavar="WxH", help="The picture's size in pixels.")
@click.option("--max-regions", default=1 << 20, show_default=True, type=int,
              help="Stop with an error past this many regions.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def plot(network, out, fmt, line, plane, box, color, surface, output, size, max_regions,
         quiet):
    """Draw NETWORK from its exact regions: the graph with its breakpoints (one input),
    the region map (two inputs), and for approximations the error against the reference.

    Needs matplotlib: pip install 'reluc[plot]'.

    \b
    Examples:
      reluc plot saw.onnx -o saw.png                one input: graph and breakpoints
      reluc plot zono.onnx -o zono.svg --color affine
      reluc plot sort3.onnx -o sort3.png --plane 0,0,0 1,0,0 0,1,0 --box -1:1
      reluc plot square.onnx -o square.pdf          an approximation: error and bound
    """
    from reluc.analysis.plot import plot as draw
    from reluc.errors import InputError
    from reluc.formats.atomic import atomic_output

    if fmt is None:
        fmt = "svg" if out == "-" else os.path.splitext(out)[1].lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise InputError(f"cannot draw '{out}': give a name ending in .png, .svg or .pdf "
                         "(or --format)")
    if out == "-" and fmt != "svg" and sys.stdout.isatty():
        raise InputError(f"refusing to write a {fmt} picture to a terminal; redirect stdout "
                         "or use -o FILE")
    pic = draw(network, fmt, size, line, plane, box, color, surface, output, max_regions)
    if out == "-":
        sys.stdout.buffer.write(pic.data)
        sys.stdout.flush()
    else:
        with atomic_output(out) as f:
            f.write(pic.data)
    if not quiet and out != "-":
        c = pic.regions.counts
        say(f"wrote {out}: {c['full_dimensional_activation_regions']} regions, "
            f"{c['affine_regions']} affine maps")
