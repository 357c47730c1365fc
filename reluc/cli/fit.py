"""``reluc fit``: a globally optimal one-hidden-layer network for data (:mod:`reluc.fit`)."""

from __future__ import annotations

import click

from reluc import choices
from reluc.cli import main, quiet_option, say


@main.command()
@click.argument("data", type=click.Path(dir_okay=False, exists=True))
@click.option("--width", required=True, type=int, help="Hidden neurons.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The network file (.onnx or .npz).")
@click.option("--loss", type=click.Choice(["l2", "l1"]), default="l2", show_default=True,
              help="Squared (l2) or absolute (l1) error, summed over the rows.")
@click.option("--target", metavar="COLUMN",
              help="The column to fit: a header name or a number from 0 (default: the last).")
@click.option("--format", "fmt", type=click.Choice(choices.FORMATS),
              help="Output format (default: from the file extension).")
@click.option("--dtype", type=click.Choice(choices.DTYPES), default="float64",
              show_default=True, help="Floating-point type of the weights.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes solving the convex programs. Default: every local core.")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run the convex programs on this Dask cluster (tcp://host:port; "
                   "needs reluc[dist]) instead of local processes.")
@click.option("--max-seconds", type=click.FloatRange(min=0), default=None,
              help="Stop after this long with the best network found so far (then not "
                   "proved optimal).")
@click.option("--force", is_flag=True,
              help="Run even when the enumeration needs more than 10^7 convex programs.")
@quiet_option
def fit(data, width, output, loss, target, fmt, dtype, workers, scheduler, max_seconds, force,
        quiet):
    """Fit the one-hidden-layer ReLU network of WIDTH neurons with the least loss on DATA.

    DATA is a CSV or text file of rows x_1 .. x_n, y (a header line allowed) or a .npy
    array. Arora, Basu, Mianjy and Mukherjee's algorithm (ICLR 2018): every choice of
    signs and data partitions a hyperplane induces, one convex program each (a QP for
    l2, an LP for l1); the best is the global optimum over all networks of that width.
    The file records the data's SHA-256, the loss and the width (reluc stats shows them).

    \b
    Examples:
      reluc fit data.csv --width 2 -o net.onnx
      reluc fit points.npy --width 3 --loss l1 -o net.npz
    """
    from reluc import formats
    from reluc.fit import fit_file
    from reluc.progress import Progress

    progress = Progress("fitting", enabled=None if not quiet else False,
                        unit="convex programs")
    result, meta = fit_file(data, width, output, formats.format_for(output, fmt), loss,
                            target, dtype, force, workers, max_seconds, progress,
                            scheduler)
    progress.done()
    click.echo(f"{loss} loss {meta['value']}" + (" (certified exact optimum)"
                                                  if "value_exact" in meta else ""))
    if not result.complete:
        say(f"warning: {meta['certificate']}")
    if not quiet:
        say(f"wrote {output}: width {width}, best of {result.total} convex programs "
            f"({result.programs} solved, {result.pruned} ruled out by a lower bound)")
