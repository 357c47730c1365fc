"""``reluc regions``: exact linear regions under each definition (:mod:`reluc.analysis.regions`)."""

from __future__ import annotations

import json

import click

from reluc.cli import NETWORK, json_option, main, slice_options


@main.command()
@click.argument("network", type=NETWORK)
@slice_options("Count")
@click.option("--max-regions", default=1 << 20, show_default=True, type=int,
              help="Stop with an error past this many regions.")
@click.option("--map", "with_map", is_flag=True,
              help="With --json: every region, its exact endpoints or vertices, activation "
                   "pattern and affine map.")
@click.option("--certify/--no-certify", default=None,
              help="Check the 2-D result exactly: every face's exact vertices, areas and a "
                   "witness inside it. Default: when there are at most 10000 faces.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes for the n-D enumeration (3 or more inputs). Default: every "
                   "local core.")
@json_option
def regions(network, line, plane, box, max_regions, with_map, certify, workers, as_json):
    """Count the linear regions of NETWORK exactly, under each definition.

    The six counts follow Stargalla, Hertrich and Reichman (arXiv 2505.16716): activation
    patterns realised (lower-dimensional sets included), full-dimensional activation
    regions, convex regions, open and closed connected regions on which the function is
    affine, and distinct affine maps. Every sign is decided in exact rational arithmetic,
    and the result is certified (a point inside each region, evaluated exactly, has its
    pattern and map; in 2-D the regions' areas sum exactly to the box's).

    \b
    Examples:
      reluc regions saw.onnx                        one input, on its domain
      reluc regions sort3.onnx --plane 0,0,0 1,0,0 0,1,0 --box -1:1
      reluc regions net.onnx --box -1:1 --json --map
      reluc regions sort4.onnx --box -1:1           4 inputs: LP search in the box
    """
    from reluc.analysis.regions_report import of_file, text, to_json

    r, info = of_file(network, line, plane, box, max_regions, with_map and as_json, certify,
                      workers)
    if as_json:
        click.echo(json.dumps(to_json(r, network, info.spec), sort_keys=True))
    else:
        click.echo(text(r, network, info.spec))
