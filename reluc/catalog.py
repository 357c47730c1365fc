"""``reluc list``: the constructors, as a table, one constructor explained, or JSON."""

from __future__ import annotations

from reluc.registry import Constructor

SCHEMA = 1


def to_json(c: Constructor) -> dict:
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


def table(ctors: list[Constructor]) -> str:
    """One line per constructor, and what ReLU networks cannot do."""
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
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4]
             for r in [heads] + rows]
    return "\n".join(lines) + (
        "\n\nReLU networks compute continuous functions only, so steps, sign and argmax "
        "cannot be exact.\n`reluc list NAME` explains one constructor.")


def _param_line(p) -> str:
    if p.default is None:
        default = "required"
    elif callable(p.default):
        default = "default computed"
    else:
        default = f"default {p.type.format(p.default)}"
    return f"{p.name}: {p.type.describe()}, {default}" + (f"; {p.help}" if p.help else "")


def explain(c: Constructor) -> str:
    """One constructor: its documentation, parameters, promises, sizes and an example."""
    lines = [f"{c.name}: {c.summary}\n", c.doc + "\n", "parameters:"]
    lines += [f"  {_param_line(p)}" for p in c.params] or ["  (none)"]
    lines.append(f"inputs:  {c.inputs}\noutputs: {c.outputs}")
    lines.append("exact:   yes" if c.exact else
                 f"error:   <= {c.error_bound} (sup norm on the domain)")
    if c.formulas:
        lines.append("sizes:")
        lines += [f"  {k} = {f}" for k, f in c.formulas.items()]
    if c.notes:
        lines.append(f"notes:   {c.notes}")
    lines.append(f"example: reluc build \"{c.example}\" -o {c.name}.onnx")
    return "\n".join(lines)
