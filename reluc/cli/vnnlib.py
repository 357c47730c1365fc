"""``reluc vnnlib``: verification benchmarks with known answers (:mod:`reluc.analysis.vnnlib`)."""

from __future__ import annotations

import json

import click

from reluc.cli import NETWORK, json_option, main, quiet_option, say


@main.command()
@click.argument("network", type=NETWORK)
@click.option("-o", "--output", "out_dir", required=True, metavar="DIR",
              help="The suite's directory (onnx/, vnnlib/, instances.csv, manifest.json).")
@click.option("--timeout", type=click.IntRange(min=1), default=300, show_default=True,
              help="The timeout column of instances.csv, in seconds.")
@click.option("--box", metavar="LO:HI[,LO:HI]",
              help="The input box of the properties (default: the file's domain, or "
                   "[-1, 1] per input; for an approximation of one input, the eighth of "
                   "its domain around the middle).")
@json_option
@quiet_option
def vnnlib(network, out_dir, timeout, box, as_json, quiet):
    """Write VNN-LIB benchmarks for NETWORK whose answers reluc knows.

    For a file reluc built: the network (a dense Gemm chain) and properties over an
    input box, in VNN-COMP's layout, each holding property with a violated twin. Every
    expected answer comes from reluc's exact analysis of the file (the complete proof of
    a comparator network, the exact pieces of a one-input network); every counterexample
    is checked exactly. manifest.json lists them.

    \b
    Examples:
      reluc vnnlib sort4.onnx -o bench/sort4
      reluc vnnlib square.onnx -o bench/square --box 1/4:1/2 --timeout 60
    """
    from reluc.analysis.vnnlib import suite

    manifest = suite(network, out_dir, timeout, box)
    if as_json:
        click.echo(json.dumps(manifest, sort_keys=True))
    elif not quiet:
        for i in manifest["instances"]:
            say(f"{i['vnnlib']}: {i['expected']} ({i['claim']})")
        say(f"wrote {len(manifest['instances'])} instances into {out_dir}")
