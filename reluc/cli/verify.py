"""``reluc verify``: is a file what its spec promises (:mod:`reluc.analysis.verify`)."""

from __future__ import annotations

import json
import sys

import click

from reluc.cli import NETWORK, json_option, main, quiet_option, say


@main.command()
@click.argument("files", nargs=-1, required=True, type=NETWORK)
@click.option("--spec", "spec_text", help="Verify against this spec instead of the file's own "
              "(for foreign or hand-edited networks).")
@click.option("--samples", type=click.IntRange(8, 10**6), default=200, show_default=True,
              help="Number of test inputs for the exact and float checks.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the test inputs.")
@click.option("--complete", is_flag=True,
              help="Also prove, where tractable: exact linear pieces of one-input networks, "
                   "the 0-1 principle for comparator networks.")
@json_option
@quiet_option
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
    from reluc.analysis import report
    from reluc.analysis.verify import verify_file
    from reluc.progress import Progress

    show = not quiet and not as_json and sys.stderr.isatty()
    reports = []
    for path in files:
        bar = Progress(f"verifying {path}", enabled=show)

        def progress(msg, path=path, bar=bar):
            bar.done()
            if show:
                say(f"verifying {path}: {msg}...")

        r = verify_file(path, spec_text=spec_text, samples=samples, seed=seed,
                        complete=complete, progress=progress, layer_progress=bar)
        bar.done()
        reports.append(r)
        if r.verdict == "error":  # the report says it on stdout; the error stream too
            say(f"Error: {r.file}: {r.error}")
        if not as_json and not (quiet and r.verdict in ("tested", "proved")):
            click.echo(report.text(r))  # (quiet: only what failed, with its counterexample)
    counts = report.summary(reports)
    if as_json:
        click.echo(json.dumps(report.many_to_json(reports), indent=2, sort_keys=True))
    elif len(reports) > 1 and not quiet:
        click.echo(report.summary_line(counts))
    if counts["error"] or counts["failed"]:
        sys.exit(2 if counts["error"] else 1)
