"""``reluc stats``: a file's structure and size (:mod:`reluc.analysis.stats`)."""

from __future__ import annotations

import json

import click

from reluc.budget import one_blas_thread
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
    one_blas_thread()
    from reluc.analysis.stats import file_stats, format_text

    s = file_stats(network)
    click.echo(json.dumps(s, sort_keys=True) if as_json else format_text(s))
