"""The command line: a thin click layer over the library.

Each command checks its options, makes one library call and formats the result. Errors
from the library (:class:`reluc.errors.RelucError`) become ``Error: ...`` on one line and
exit code 2, here and nowhere else. Results go to stdout, messages to stderr.
"""

from __future__ import annotations

import json
import os
import sys

import click

from reluc import __version__, formats, registry
from reluc.errors import RelucError


class UserError(click.ClickException):
    """A one-line error with exit code 2 (bad spec, bad input, unreadable file)."""

    exit_code = 2


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RelucError as e:
            raise UserError(str(e)) from None
        except OSError as e:  # disk full, permission denied, missing directory, ...
            where = f" '{e.filename}'" if e.filename else ""
            raise UserError(f"cannot access{where}: {e.strerror or e}") from None
        except MemoryError as e:  # the job, not reluc, is too big for this process
            raise UserError(f"out of memory{_memory_detail(e)}") from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:  # a bug: say so in one line unless debugging
            if os.environ.get("RELUC_DEBUG"):
                raise
            err = click.ClickException(
                f"internal error ({type(e).__name__}: {e}); set RELUC_DEBUG=1 for a traceback "
                "and please report it"
            )
            err.exit_code = 3
            raise err from None


def _memory_detail(e: MemoryError) -> str:
    """What failed to fit and what this process may use, for the out-of-memory line."""
    from reluc.budget import memory_limits, show

    avail, cap = memory_limits()
    return "".join([f" ({e})" if str(e) else "",
                    f"; this process may use {show(cap)} (ulimit -v)" if cap else "",
                    f"; the machine has {show(avail)} available" if avail else ""])


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reluc")
def main():
    """reluc: compile algorithms into exact ReLU networks.

    \b
    Examples:
      reluc list                              constructors and their parameters
      reluc build sort --n 64 -o sort64.onnx  build a network (or "sort n=64", or a .spec file)
      echo "3 1 2" | reluc eval sort3.onnx    evaluate rows of inputs
      reluc stats sort64.onnx --json          depth, widths, neurons, parameters
      reluc verify --complete sort64.onnx     is the file what its spec promises?
    """


# -- build --------------------------------------------------------------------------------


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("spec")
@click.argument("params", nargs=-1, type=click.UNPROCESSED)
@click.option("-o", "--output", required=True, help="Output file (.onnx or .npz); - for stdout.")
@click.option("--format", "fmt", type=click.Choice(formats.FORMATS),
              help="Output format (default: from the file extension; onnx for -).")
@click.option("--dtype", type=click.Choice(formats.DTYPES), default="float32", show_default=True,
              help="Floating-point type of the weights in the file.")
@click.option("--layout", type=click.Choice(formats.LAYOUTS), default="auto", show_default=True,
              help="ONNX layout: dense (a Gemm chain, what verification tools read), sparse "
              "(Gather/Mul/ReduceSum per layer: only the nonzeros), auto (dense while the "
              "dense weights take at most 64 MiB).")
@click.option("--external-data", is_flag=True,
              help="ONNX: put the weights into FILE.data beside the model (automatic past "
              "protobuf's 2 GiB limit).")
@click.option("--max-size", metavar="SIZE",
              help="Refuse to write a file larger than SIZE (bytes, or 500M, 2G, ...); "
              "without it, the free space of the target's file system is the limit.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success, no progress.")
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
    from reluc.budget import check_spec, parse_size
    from reluc.compiler import compile_spec
    from reluc.progress import Progress
    from reluc.spec import read_spec_argument, spec_argument_note

    max_bytes = None if max_size is None else parse_size(max_size)
    raw = read_spec_argument(spec, params, registry.is_constructor)
    note = spec_argument_note(spec, registry.is_constructor)
    if note and not quiet:
        click.echo(note, err=True)
    fmt = formats.format_for(output, fmt)
    progress = Progress("writing", enabled=None if not quiet else False)
    progress.note(f"compiling {raw.name}")
    # sizes first: a spec too big for the machine or --max-size is refused before building
    check_spec(registry.resolve(raw), max_bytes, output)
    compiled = compile_spec(raw, dtype)
    ext = True if external_data else None

    def announce(message: str) -> None:  # before a large write
        if not quiet:
            click.echo(f"{message} to {'stdout' if output == '-' else output}", err=True)

    if output == "-":
        if sys.stdout.isatty():
            raise UserError("refusing to write a binary network to a terminal; "
                            "redirect stdout or use -o FILE")
        written = formats.write(compiled, sys.stdout.buffer, fmt, layout, ext, progress,
                                max_bytes, announce)
    else:
        written = formats.write(compiled, output, fmt, layout, ext, progress, max_bytes,
                                announce)
    progress.done()
    net = compiled.source  # its shape; the nonzeros were counted while writing
    if fmt == "onnx" and layout == "auto" and written.layout == "sparse" and not quiet:
        click.echo(f"layout: sparse ({written.why})", err=True)
    note = compiled.rounding_note()
    if note:
        click.echo(note, err=True)
    if not quiet:
        where = "stdout" if output == "-" else output
        click.echo(
            f"wrote {where}: {compiled.spec}, {net.hidden_layers} hidden "
            f"layer{'' if net.hidden_layers == 1 else 's'}, width "
            f"{net.width}, {written.nonzeros} nonzero params, {written.size} bytes"
            + (f" (+ {written.external})" if written.external else ""),
            err=True,
        )


# -- list ---------------------------------------------------------------------------------


def _ctor_json(c: registry.Constructor) -> dict:
    return {
        "name": c.name,
        "summary": c.summary,
        "params": [{"name": p.name, "type": p.type.describe(),
                    "default": None if p.default is None else
                    ("(computed)" if callable(p.default) else p.type.format(p.default)),
                    "help": p.help} for p in c.params],
        "inputs": c.inputs.text,
        "outputs": c.outputs.text,
        "exact": c.exact,
        "error_bound": None if c.error_bound is None else c.error_bound.text,
        "formulas": {k: f.text for k, f in c.formulas.items()},
        "example": c.example,
    }  # fmt: skip


def _param_line(p) -> str:
    if p.default is None:
        default = "required"
    elif callable(p.default):
        default = "default computed"
    else:
        default = f"default {p.type.format(p.default)}"
    return f"{p.name}: {p.type.describe()}, {default}" + (f"; {p.help}" if p.help else "")


@main.command("list")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(name, as_json):
    """List constructors, or explain constructor NAME.

    ReLU networks compute continuous piecewise-linear functions only: a step, argmax or
    sign cannot be computed exactly, so no constructor offers them.

    \b
    Examples:
      reluc list
      reluc list sort
      reluc list --json
    """
    ctors = [registry.get(name)] if name else registry.all_constructors()
    if as_json:
        click.echo(json.dumps({"schema": 1, "constructors": [_ctor_json(c) for c in ctors]},
                              indent=2, sort_keys=True))
        return
    if not name:
        rows = []
        for c in ctors:
            ps = " ".join(
                f"{p.name}=" + ("?" if p.default is None else
                                "auto" if callable(p.default) else p.type.format(p.default))
                for p in c.params
            )  # fmt: skip
            kind = "exact" if c.exact else f"error <= {c.error_bound}"
            rows.append((c.name, ps or "-", f"{c.inputs} -> {c.outputs}", kind, c.summary))
        heads = ("constructor", "parameters", "in -> out", "exactness", "")
        widths = [max(len(r[i]) for r in rows + [heads]) for i in range(4)]
        for r in [heads] + rows:
            click.echo("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
        click.echo("\nReLU networks compute continuous functions only, so steps, sign and "
                   "argmax cannot be exact.\n`reluc list NAME` explains one constructor.")
        return
    c = ctors[0]
    click.echo(f"{c.name}: {c.summary}\n")
    click.echo(c.doc + "\n")
    click.echo("parameters:")
    for p in c.params:
        click.echo(f"  {_param_line(p)}")
    if not c.params:
        click.echo("  (none)")
    click.echo(f"inputs:  {c.inputs}\noutputs: {c.outputs}")
    click.echo("exact:   yes" if c.exact else f"error:   <= {c.error_bound} (sup norm on the domain)")
    if c.formulas:
        click.echo("sizes:")
        for k, f in c.formulas.items():
            click.echo(f"  {k} = {f}")
    if c.notes:
        click.echo(f"notes:   {c.notes}")
    click.echo(f"example: reluc build \"{c.example}\" -o {c.name}.onnx")


# -- eval ---------------------------------------------------------------------------------


@main.command("eval")
@click.argument("network")
@click.option("-i", "--input", "input_", default="-", show_default=True,
              help="Input rows: a text file (numbers separated by spaces or commas), a .npy "
                   "array of shape (rows, n), or - for stdin.")
@click.option("-o", "--output", default="-", show_default=True,
              help="Where to write outputs: a text file, a .npy file, or - for stdout.")
def eval_(network, input_, output):
    """Evaluate NETWORK on rows of inputs (NETWORK may be - or a pipe, with -i FILE).

    .onnx files run through onnxruntime, .npz files through numpy, in the file's dtype.
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
    import numpy as np

    from reluc import rows
    from reluc.analysis.evaluate import Runner
    from reluc.formats.atomic import atomic_output
    from reluc.progress import Progress

    if network == "-" and input_ == "-":
        raise UserError("the network and the input rows cannot both come from stdin; "
                        "give the rows with -i FILE")
    runner = Runner(network)
    if input_ == "-":
        x = rows.read_text_rows(sys.stdin.buffer, runner.n_in)
    elif input_.endswith(".npy"):
        x = rows.read_npy(input_, runner.n_in)
    else:
        with open(input_, "rb") as f:
            x = rows.read_text_rows(f, runner.n_in)
    warning = runner.check(x)
    progress = Progress("evaluating", unit="rows")
    y = runner(x, progress)
    progress.done()
    if warning:  # after the rows ran: a refused row gets its one error line alone
        click.echo(warning, err=True)
    if output.endswith(".npy"):
        with atomic_output(output) as f:
            np.save(f, y)
    elif output == "-":
        rows.write_text_rows(y, sys.stdout)
    else:
        import io

        buf = io.StringIO()
        rows.write_text_rows(y, buf)
        with atomic_output(output) as f:
            f.write(buf.getvalue().encode())


# -- verify -------------------------------------------------------------------------------


def _short(values: list[str], limit: int = 12) -> str:
    from fractions import Fraction

    def show(v: str) -> str:
        return f"{v} (~{float(Fraction(v)):.9g})" if "/" in v else v

    head = " ".join(show(v) for v in values[:limit])
    return head + (f" ... ({len(values)} values)" if len(values) > limit else "")


def _verdict_line(r) -> str:
    if r.verdict == "error":
        return f"{r.file}: ERROR: {r.error}"
    checks = {c.name: c for c in r.checks}
    if r.verdict == "failed":
        failed = next(c for c in r.checks if c.status == "fail")
        return f"{r.file}: FAILED ({r.spec}): {failed.name} check: {failed.detail}"
    parts = [checks[k].detail for k in ("complete", "exact", "float") if k in checks
             and checks[k].status != "skip"]
    if "float" in checks and checks["float"].status == "skip":
        parts.append(f"float check skipped: {checks['float'].detail}")
    if "complete" in checks and checks["complete"].status == "skip":
        parts.append(f"no proof: {checks['complete'].detail}")
    return f"{r.file}: {r.verdict} ({r.spec}): " + "; ".join(parts)


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--spec", "spec_text", help="Verify against this spec instead of the file's own "
              "(for foreign or hand-edited networks).")
@click.option("--samples", type=click.IntRange(8, 10**6), default=200, show_default=True,
              help="Number of test inputs for the exact and float checks.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the test inputs.")
@click.option("--complete", is_flag=True,
              help="Also prove, where tractable: exact linear pieces of one-input networks, "
                   "the 0-1 principle for comparator networks.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report.")
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def verify(files, spec_text, samples, seed, complete, as_json, quiet):
    """Check that each network file computes what its spec promises.

    The spec comes from the file's metadata (or --spec). The file's own weights are
    evaluated in exact rational arithmetic on adversarial inputs from the constructor's
    domain (exact constructions must give zero error, approximations stay within their
    bound), then run through the file's runtime in its dtype (errors reported, and
    judged against the network's floating-point rounding bound). With --complete the
    check becomes a proof where one is tractable. Each verdict says which guarantee it
    carries: proved or tested.

    Exit status: 0 if every file passes, 1 if one fails (a counterexample is printed),
    2 if a file cannot be read or checked.

    \b
    Examples:
      reluc verify sort64.onnx
      reluc verify --complete build/*.onnx
      reluc verify --spec "sort n=8" exported.onnx --json
    """
    from reluc.analysis.verify import verify_file

    from reluc.progress import Progress

    show = not quiet and not as_json and sys.stderr.isatty()
    reports = []
    for path in files:
        bar = Progress(f"verifying {path}", enabled=show)

        def progress(msg, path=path, bar=bar):
            bar.done()
            if show:
                click.echo(f"verifying {path}: {msg}...", err=True)

        r = verify_file(path, spec_text=spec_text, samples=samples, seed=seed,
                        complete=complete, progress=progress, layer_progress=bar)
        bar.done()
        reports.append(r)
        if r.verdict == "error":  # the report says it on stdout; the error stream too
            click.echo(f"Error: {r.file}: {r.error}", err=True)
        if not as_json:
            click.echo(_verdict_line(r))
            cex = r.counterexample
            if cex:
                click.echo(f"  input:    {_short(cex['input'])}")
                click.echo(f"  expected: {_short(cex['expected'])}")
                click.echo(f"  actual:   {_short(cex['actual'])}")
                click.echo(f"  (output {cex['output_index']} is off by {_short([cex['error']])})")
    counts = {k: sum(r.verdict == k for r in reports)
              for k in ("proved", "tested", "failed", "error")}
    words = {"proved": "proved", "tested": "tested", "failed": "failed", "error": "unreadable"}
    if as_json:
        click.echo(json.dumps({"schema": 1, "files": [r.to_json() for r in reports],
                               "summary": counts}, indent=2, sort_keys=True))
    elif len(reports) > 1:
        click.echo(f"{len(reports)} files: "
                   + ", ".join(f"{v} {words[k]}" for k, v in counts.items()))
    if counts["error"]:
        sys.exit(2)
    if counts["failed"]:
        sys.exit(1)


# -- stats --------------------------------------------------------------------------------


@main.command()
@click.argument("network")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def stats(network, as_json):
    """Report the structure and size of NETWORK (.onnx or .npz; - for stdin).

    depth counts affine layers; hidden_layers = depth - 1. AlgorithmicNeuralNets.jl
    counts layers of neurons including input and output (neuron_layers = depth + 1).

    \b
    Examples:
      reluc stats sort64.onnx
      reluc stats sort64.onnx --json | jq .hidden_layers
    """
    from reluc.analysis.stats import file_stats, format_text

    s = file_stats(network)
    click.echo(json.dumps(s, sort_keys=True) if as_json else format_text(s))


if __name__ == "__main__":  # pragma: no cover
    main(prog_name="reluc")


def run(args=None) -> None:
    """The program (the ``reluc`` entry point and ``python -m reluc``): :func:`main` with
    this process's address space capped at what the machine has available, so that a job
    too big for the machine fails as "out of memory", exit 2, instead of being killed. A
    program calling :func:`main` itself keeps its own limits."""
    from reluc.budget import guard_memory

    guard_memory()
    main(args, prog_name="reluc")
