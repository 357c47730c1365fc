"""``reluc eval``: rows through a network file (:mod:`reluc.analysis.evaluate`)."""

from __future__ import annotations

import sys

import click

from reluc.choices import RUNTIMES
from reluc.budget import one_blas_thread
from reluc.cli import NETWORK, UserError, main, say


@main.command("eval")
@click.argument("network", type=NETWORK)
@click.option("-i", "--input", "input_", default="-", show_default=True,
              type=click.Path(allow_dash=True),
              help="Input rows: a text file (numbers separated by spaces or commas), a .npy "
                   "array of shape (rows, n), or - for stdin.")
@click.option("-o", "--output", default="-", show_default=True, type=click.Path(allow_dash=True),
              help="Where to write outputs: a text file, a .npy file, or - for stdout.")
@click.option("--runtime", type=click.Choice(RUNTIMES), default="auto", show_default=True,
              help="scipy: reluc's reader and scipy (the same bits for every layout; "
                   "onnxruntime's within the rounding bound); ort: onnxruntime (.onnx "
                   "files); auto: scipy, and onnxruntime for large dense graphs and graphs "
                   "reluc cannot read.")
def eval_(network, input_, output, runtime):
    """Evaluate NETWORK on rows of inputs (NETWORK may be - or a pipe, with -i FILE).

    The network runs in the file's dtype, through reluc's reader and scipy unless
    --runtime ort asks for onnxruntime; a large dense ONNX graph runs through
    onnxruntime too, and so does one reluc cannot read (an operator it does not
    know), with a note.
    One output row per input row; the form follows -o: a .npy file gets an array of
    shape (rows, outputs) in the file's dtype, anything else (and stdout) text rows.
    Rows past the network's input limit (reluc stats shows it), where evaluation in
    its dtype could overflow, are refused; values that round on the way into the
    dtype (16777217 into float32) get a warning.

    \b
    Examples:
      echo "3 1 2" | reluc eval sort3.onnx          prints: 1 2 3
      reluc eval sort64.onnx -i x.npy -o y.npy
      reluc eval <(reluc build sort --n 3 -o -) -i rows.txt
    """
    one_blas_thread()  # (scipy's sparse products and onnxruntime: no BLAS)
    from reluc import rows
    from reluc.analysis.evaluate import Runner
    from reluc.progress import Progress

    if network == "-" and input_ == "-":
        raise UserError("the network and the input rows cannot both come from stdin; "
                        "give the rows with -i FILE")
    runner = Runner(network, runtime=runtime)
    x = rows.read_rows(input_, runner.n_in, sys.stdin.buffer, runner.dtype == "float32")
    warning = runner.check(x)
    progress = Progress("evaluating", unit="rows")
    y = runner(x, progress)
    progress.done()
    for line in (runner.note, warning):  # after the rows ran: an error gets its line alone
        if line:
            say(line)
    rows.write_rows(y, output, sys.stdout)
