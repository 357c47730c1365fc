"""``reluc convert``: a network file as a reluc file, the conversion checked
(:mod:`reluc.convert`)."""

from __future__ import annotations

import click

from reluc import choices
from reluc.cli import main, quiet_option, say


@main.command()
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The reluc file to write (.onnx or .npz).")
@click.option("--format", "fmt", type=click.Choice(choices.FORMATS),
              help="Output format (default: from the file extension).")
@click.option("--dtype", type=click.Choice(choices.DTYPES),
              help="Floating-point type of the weights (default: that of NETWORK).")
@click.option("--layout", type=click.Choice(choices.LAYOUTS), default="auto", show_default=True,
              help="ONNX layout: dense (a Gemm chain), sparse (only the nonzeros) or auto.")
@click.option("--rows", type=click.IntRange(min=1, max=1 << 20), default=512,
              show_default=True, help="Rows on which the two files are compared.")
@quiet_option
def convert(network, output, fmt, dtype, layout, rows, quiet):
    """Write NETWORK (an exported ReLU MLP, or a reluc file) as a reluc file, and check it.

    The exporter's graph (Gemm or MatMul chains, normalisation by Sub, Div and Mul,
    Flatten, Reshape) is folded into affine layers and written with reluc's metadata
    and the original's name and SHA-256. Both files then run on the same rows (the
    original through onnxruntime); they must agree to within the rounding bound, or
    nothing is written. stats, eval, regions, plot and verify --spec read the result.

    \b
    Examples:
      reluc convert model.onnx -o model.reluc.onnx
      reluc convert acasxu.onnx -o acasxu.npz --dtype float64
    """
    from reluc import formats
    from reluc.convert import convert as run

    done = run(network, output, formats.format_for(output, fmt), layout, dtype, rows)
    if not quiet:
        say(done.summary(network, output))
