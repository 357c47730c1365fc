"""Same spec, same bytes, across refactors: every spec in specs/ and every constructor's
example, in both dtypes, as ONNX (and specs/ also as .npz), hashed and compared with
``tests/data/digests.json``. A change that moves a byte fails here; a deliberate one
regenerates the table (``python tests/test_same_bytes.py --update``) and says why in its
commit."""

from __future__ import annotations

import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TABLE = os.path.join(HERE, "data", "digests.json")


def cases() -> list[tuple[str, str, str]]:
    from reluc import registry

    out = []
    for name in sorted(os.listdir(os.path.join(ROOT, "specs"))):
        if name.endswith(".spec"):
            path = os.path.join(ROOT, "specs", name)
            out += [(path, "", "onnx"), (path, "", "npz")]
    for ctor in sorted(registry.all_constructors(), key=lambda c: c.name):
        out += [(ctor.example, dtype, "onnx") for dtype in ("float32", "float64")]
    return out


def digest(cli, tmp_path, source: str, dtype: str, fmt: str) -> str:
    out = tmp_path / f"x.{fmt}"
    extra = ("--dtype", dtype) if dtype else ()
    cli("build", source, "-o", out, "-q", *extra)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def key(source: str, dtype: str, fmt: str) -> str:
    shown = os.path.relpath(source, ROOT) if os.path.exists(source) else source
    return " ".join(p for p in (shown, dtype, fmt) if p)


def test_every_spec_and_example_builds_to_the_recorded_bytes(cli, tmp_path):
    with open(TABLE) as f:
        table = json.load(f)
    got = {key(*c): digest(cli, tmp_path, *c) for c in cases()}
    assert set(got) == set(table), "specs or constructors changed: regenerate the table"
    moved = sorted(k for k in got if got[k] != table[k])
    assert not moved, f"built to other bytes: {moved}"


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    import tempfile
    from pathlib import Path

    sys.path.insert(0, HERE)
    from conftest import Cli

    with tempfile.TemporaryDirectory() as d:
        table = {key(*c): digest(Cli(), Path(d), *c) for c in cases()}
    with open(TABLE, "w") as f:
        json.dump(table, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(table)} digests written to {TABLE}")
