"""``reluc build``: a spec argument to a network file, the whole pipeline in one call.

:func:`build` reads the spec (text, a constructor name with parameter words, or a
spec file), checks its size against the machine and ``--max-size`` before anything is
built, compiles it and writes the file (atomically; to a stream through a temporary).
What a user should be told goes to ``tell`` as it happens (a note on the spec argument,
the size of a large write, the layout chosen), or comes back in the :class:`Built` result
(warnings, shown even with ``-q``, and the summary line), so the CLI only prints it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from reluc import formats, registry
from reluc.budget import check_spec, parse_size
from reluc.compiler import Compiled, compile_spec
from reluc.errors import RelucError
from reluc.spec import read_spec_argument, spec_argument_note


@dataclass
class Built:
    compiled: Compiled
    written: formats.Written
    warnings: list[str] = field(default_factory=list)  # for stderr, even when quiet
    summary: str = ""  # "wrote FILE: SPEC, ..."


def build(spec: str, params: tuple[str, ...] | list[str], output: str,
          fmt: str | None = None, dtype: str = "float32", layout: str = "auto",
          external_data: bool = False, max_size: str | None = None, progress=None,
          tell: Callable[[str], None] | None = None) -> Built:
    """Build ``spec`` (plus parameter words ``params``) into ``output``: a path or ``-``
    (stdout). ``tell(message)``: notes as they come (None: quiet)."""
    tell = tell or (lambda message: None)
    max_bytes = None if max_size is None else parse_size(max_size)
    raw = read_spec_argument(spec, params, registry.is_constructor)
    note = spec_argument_note(spec, registry.is_constructor)
    if note:
        tell(note)
    fmt = formats.format_for(output, fmt)
    if progress is not None:
        progress.note(f"compiling {raw.name}")
    # sizes first: a spec too big for the machine or --max-size is refused before building
    check_spec(registry.resolve(raw), max_bytes, output)
    compiled = compile_spec(raw, dtype)
    where = "stdout" if output == "-" else output
    target = output
    if output == "-":
        if sys.stdout.isatty():
            raise RelucError("refusing to write a binary network to a terminal; redirect "
                             "stdout or use -o FILE")
        target = sys.stdout.buffer
    written = formats.write(compiled, target, fmt, layout, True if external_data else None,
                            progress, max_bytes, lambda m: tell(f"{m} to {where}"))
    if progress is not None:
        progress.done()
    if fmt == "onnx" and layout == "auto" and written.layout == "sparse":
        tell(f"layout: sparse ({written.why})")
    rounding = compiled.rounding_note()
    net = compiled.source  # its shape; the nonzeros were counted while writing
    summary = (f"wrote {where}: {compiled.spec}, {net.hidden_layers} hidden "
               f"layer{'' if net.hidden_layers == 1 else 's'}, width {net.width}, "
               f"{written.nonzeros} nonzero params, {written.size} bytes"
               + (f" (+ {written.external})" if written.external else ""))
    warnings = [w for w in (rounding, compiled.rounding_warning()) if w]
    return Built(compiled, written, warnings, summary)
