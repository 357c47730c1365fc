"""``reluc stats``: a file's structure and size (:mod:`reluc.analysis.stats`)."""

from __future__ import annotations

import json
import os
import sys

import click

from reluc.cli import NETWORK, json_option, main


@main.command()
@click.argument("network", type=NETWORK)
@json_option
def stats(network, as_json):
    """Report the structure and size of NETWORK (.onnx or .npz; - for stdin).

    depth counts affine layers; hidden_layers = depth - 1. AlgorithmicNeuralNets.jl
    counts layers of neurons including input and output (neuron_layers = depth + 1).

    \b
    Examples:
      reluc stats sort64.onnx
      reluc stats sort64.onnx --json | jq .hidden_layers
    """
    if "numpy" not in sys.modules:
        # no dense linear algebra here: the second thread OpenBLAS starts on numpy's
        # import would spin idle (0.1 s of CPU, a tenth of stats of sort n=65536);
        # a user's own setting stands
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from reluc.analysis.stats import file_stats, format_text

    s = file_stats(network)
    click.echo(json.dumps(s, sort_keys=True) if as_json else format_text(s))
