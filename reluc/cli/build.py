"""``reluc build``: a spec to a network file (:mod:`reluc.build`)."""

from __future__ import annotations

import click

from reluc import choices
from reluc.cli import main, quiet_option, say


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("spec")
@click.argument("params", nargs=-1, type=click.UNPROCESSED)
@click.option("-o", "--output", required=True, type=click.Path(allow_dash=True),
              help="Output file (.onnx or .npz); - for stdout.")
@click.option("--format", "fmt", type=click.Choice(choices.FORMATS),
              help="Output format (default: from the file extension; onnx for -).")
@click.option("--dtype", type=click.Choice(choices.DTYPES), default="float32", show_default=True,
              help="Floating-point type of the weights in the file.")
@click.option("--layout", type=click.Choice(choices.LAYOUTS), default="auto", show_default=True,
              help="ONNX layout: dense (a Gemm chain, what verification tools read), sparse "
              "(Gather/Mul/MatMul per layer: only the nonzeros), auto (dense while the "
              "dense weights take at most 64 MiB).")
@click.option("--external-data", is_flag=True,
              help="ONNX: put the weights into FILE.data beside the model (automatic past "
              "protobuf's 2 GiB limit).")
@click.option("--max-size", metavar="SIZE",
              help="Refuse to write a file larger than SIZE (bytes, or 500M, 2G, ...); "
              "without it, the free space of the target's file system is the limit.")
@quiet_option
def build(spec, params, output, fmt, dtype, layout, external_data, max_size, quiet):
    """Compile SPEC into a network file.

    SPEC is a constructor name followed by parameters (--n 64, or n=64), a quoted spec
    ("sort n=64"), or a file holding one spec (# starts a comment). All three forms give
    byte-identical files. A constructor's name is always the constructor, even beside a
    file of that name (write ./NAME for the file). See `reluc list` for constructors and
    parameters.

    \b
    Examples:
      reluc build sort --n 64 -o sort64.onnx
      reluc build "pwl points=0:0,1:1,2:0" -o tent.npz
      reluc build specs/sort64.spec -o - --dtype float64 > sort64.onnx
    """
    from reluc.build import build as build_file
    from reluc.progress import Progress

    progress = Progress("writing", enabled=None if not quiet else False)
    built = build_file(spec, params, output, fmt, dtype, layout, external_data, max_size,
                       progress, None if quiet else say)
    for warning in built.warnings:
        say(warning)
    if not quiet:
        say(built.summary)
