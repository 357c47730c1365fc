"""``reluc list``: the constructors (:mod:`reluc.catalog`)."""

from __future__ import annotations

import json

import click

from reluc.cli import json_option, main


@main.command("list")
@click.argument("name", required=False)
@json_option
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
    from reluc import catalog, registry

    ctors = [registry.get(name)] if name else registry.all_constructors()
    if as_json:
        click.echo(json.dumps({"schema": catalog.SCHEMA,
                               "constructors": [catalog.to_json(c) for c in ctors]},
                              indent=2, sort_keys=True))
    else:
        click.echo(catalog.explain(ctors[0]) if name else catalog.table(ctors))
