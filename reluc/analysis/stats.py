"""``reluc stats``: structure and size of a network file, without densifying anything.

Conventions (see :mod:`reluc.net`): ``depth`` counts affine layers, ``hidden_layers =
depth - 1``, ``neuron_layers = depth + 1`` is AlgorithmicNeuralNets.jl's depth (57 for its
bitonic sort of 1024 inputs, which has 55 hidden layers). ``params`` is the dense count
of weights and biases; ``nonzero_params`` counts nonzero weights and biases.
"""

from __future__ import annotations

import os
from typing import Any

from reluc import formats
from reluc.analysis.bounds import montufar_lower, serra_upper, show_big
from reluc.errors import NetworkFileError
from reluc.net import Shape
from reluc.ranges import format_limit, input_limit
from reluc.numbers import format_number

SCHEMA = 1


def file_stats(path: str) -> dict[str, Any]:
    """A pass over the file a layer at a time: memory for a few layers, never the
    whole network (and never a dense matrix). Sizes are counted from the file's tables;
    the input limit is the one the file records (``reluc verify`` checks it), computed
    from the weights, in a second pass, for a file that records none."""
    data = formats.load_source(path)  # standard input or a pipe: read once
    source = data if data is not None else path
    sizes, info = formats.read_layers(source, counting=True)
    n_in, outs, nz_w, nz_b = None, [], 0, 0
    for layer in sizes:
        n_in = layer.n_in if n_in is None else n_in
        outs.append(layer.n_out)
        nz_w += layer.nonzero_weights
        nz_b += layer.nonzero_biases
    if n_in is None:
        raise NetworkFileError("the file holds no layers")
    limit = info.input_limit
    if limit is None:
        limit = input_limit(formats.read_layers(source)[0], info.dtype or "float64")
    shape = Shape.of(n_in, outs)  # the counts the network type defines
    return {
        "schema": SCHEMA,
        "file": path,
        "file_size": os.path.getsize(path) if path != "-" else None,
        "spec": info.spec,
        "dtype": info.dtype,
        "exact": info.exact,
        "error_bound": None if info.error_bound is None else format_number(info.error_bound),
        "rounding": info.rounding,
        "domain": None if info.domain is None else info.domain.describe(),
        "reluc_version": info.version,
        "origin": info.origin,
        "fit": info.fit,
        "inputs": n_in,
        "outputs": shape.n_out,
        "depth": shape.depth,
        "hidden_layers": shape.hidden_layers,
        "neuron_layers": shape.depth + 1,
        "width": shape.width,
        "widths": list(shape.widths),
        "neurons": shape.neurons,
        "params": shape.params,
        "nonzero_params": nz_w + nz_b,
        "nonzero_weights": nz_w,
        "nonzero_biases": nz_b,
        "input_limit": limit,
        "input_limit_recorded": info.input_limit is not None,
        # bounds for the shape, not counts of this network (reluc.analysis.bounds)
        "activation_regions_bounds": {
            "at_most": show_big(serra_upper(n_in, shape.widths)),
            "at_most_source": "Serra, Tjandraatmadja, Ramalingam 2018: every network of "
                              "this shape",
            "some_network_at_least": show_big(montufar_lower(n_in, shape.widths)),
            "some_network_at_least_source": "Montufar, Pascanu, Cho, Bengio 2014: the most "
                                            "some network of this shape reaches",
        },
    }


def _runs(widths: list[int]) -> str:
    """Run-length form of a width list: ``2048 x55`` or ``6, 4 x2``."""
    if not widths:
        return "(none)"
    parts, i = [], 0
    while i < len(widths):
        j = i
        while j < len(widths) and widths[j] == widths[i]:
            j += 1
        parts.append(f"{widths[i]}" + (f" x{j - i}" if j - i > 1 else ""))
        i = j
    return ", ".join(parts)


def _regions(b: dict[str, Any]) -> str:
    if b["at_most"] is None and b["some_network_at_least"] is None:
        return "bounds for this shape not computed (too many inputs)"
    most = "?" if b["at_most"] is None else b["at_most"]
    least = "?" if b["some_network_at_least"] is None else b["some_network_at_least"]
    return (f"activation regions of this shape: at most {most} (Serra et al. 2018); some "
            f"network of this shape has {least} or more (Montufar et al. 2014)")


def format_text(s: dict[str, Any]) -> str:
    rows = [
        ("file", s["file"]),
        ("spec", s["spec"] or ("(none: converted by reluc)" if s["origin"] else
                               "(none: fitted by reluc)" if s["fit"] else
                               "(none: not written by reluc)")),
        ("inputs", s["inputs"]),
        ("outputs", s["outputs"]),
        ("depth", f"{s['depth']} affine layers ({s['neuron_layers']} layers of neurons, "
                  "counting input and output)"),
        ("hidden layers", s["hidden_layers"]),
        ("width", s["width"]),
        ("widths", _runs(s["widths"])),
        ("neurons", s["neurons"]),
        ("params", f"{s['params']} (dense weights + biases)"),
        ("nonzero params", f"{s['nonzero_params']} ({s['nonzero_weights']} weights, "
                           f"{s['nonzero_biases']} biases)"),
        ("dtype", s["dtype"]),
        ("exact", {True: "yes", False: "no", None: "unknown"}[s["exact"]]),
        ("domain", s["domain"] or "unknown"),
        ("input limit", f"|x| <= {format_limit(s['input_limit'])} (no overflow in "
                        f"{s['dtype'] or 'float64'}; "
                        + ("as its writer recorded it; verify checks it against the weights)"
                           if s["input_limit_recorded"] else "a sound bound from the weights)")),
        ("regions", _regions(s["activation_regions_bounds"])),
        ("file size", "-" if s["file_size"] is None else f"{s['file_size']} bytes"),
    ]
    if s["rounding"]:
        r = s["rounding"]
        most = "unknown" if r["at_most"] is None else f"{r['at_most']:.3g} (a sound bound)"
        rows.insert(13, (f"{s['dtype']} rounding", f"at least {r['at_least']:.3g} at some "
                         f"input (its exact output {r['near']:.6g} is that far from every "
                         f"{s['dtype']} number), at most {most} on the domain"))
    if s["exact"] is False and s["error_bound"] is not None:
        rows.insert(13, ("error bound", s["error_bound"]))
    if s["origin"]:
        rows.insert(2, ("converted from", s["origin"]))
    if s["fit"]:
        f = s["fit"]
        rows.insert(2, ("fitted", f"width {f.get('width')}, {f.get('loss')} loss "
                                  f"{f.get('value')} on {f.get('rows')} rows (data sha256 "
                                  f"{str(f.get('data_sha256'))[:16]}...), best of "
                                  f"{f.get('programs')} convex programs ("
                                  f"{f.get('ruled_out_by_bound', 0)} ruled out by a bound); "
                                  f"{f.get('certificate')}"))
    key_w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k + ':':<{key_w + 1}} {v}" for k, v in rows)
