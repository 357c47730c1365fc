"""``reluc verify --complete`` measured (``make bench``): the comparator proofs at the
sizes people build, every constructor's ``reluc list`` example, and two tampered sorts
of 1024 inputs (one weight one ulp up; one comparator removed), each a whole command in
a fresh process (start-up, reading the file, decompiling, the proof, the other checks).
Results go to ``bench/out/proofs.json`` and ``bench/out/proofs.md``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import OUT, RELUC, machine, measure  # noqa: E402

SPECS = ["sort n=64", "sort n=256", "sort n=1024", "sort n=1024 method=bitonic", "sort n=2048",
         "sort n=4096", "topk n=64 k=4", "topk n=256 k=8", "topk n=1024 k=16", "median n=64",
         "median n=256", "median n=1024", "sort n=65536"]


def _examples() -> list[str]:
    from reluc import registry

    return [c.example for c in sorted(registry.all_constructors(), key=lambda c: c.name)]


def _one_ulp(path: str) -> None:
    """sort n=1024 in float64 with the 5000th nonzero weight of layer 7 one ulp up."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    subprocess.run(RELUC + ["build", "sort n=1024", "-o", path, "-q", "--dtype", "float64"],
                   check=True)
    m = onnx.load(path)
    t = next(t for t in m.graph.initializer if t.name == "W7")
    a = numpy_helper.to_array(t).copy()
    i = np.flatnonzero(a.ravel() != 0)[5000]
    a.ravel()[i] = np.nextafter(a.ravel()[i], np.inf)
    t.CopyFrom(numpy_helper.from_array(a, "W7"))
    onnx.save(m, path)


def _removed(path: str) -> None:
    """sort n=1024 with comparator 100 of stage 40 removed (reluc's metadata for the spec)."""
    import dataclasses

    import numpy as np

    from reluc import formats
    from reluc.compiler import compile_spec
    from reluc.constructors.comparators.layout import comparator_net
    from reluc.constructors.comparators.schedules import sort_stages

    stages = list(sort_stages(1024, "best"))
    lo, hi = stages[40]
    keep = np.arange(lo.size) != 100
    stages[40] = (lo[keep], hi[keep])
    compiled = compile_spec("sort n=1024", "float32")
    formats.write(dataclasses.replace(compiled, source=comparator_net(1024, stages)), path,
                  "onnx")


def main():
    rows = []
    cases = [(spec, ["--layout", "sparse"], None) for spec in SPECS]
    cases += [(spec, [], None) for spec in _examples()]
    cases += [("sort n=1024, one weight one ulp up", None, _one_ulp),
              ("sort n=1024, one comparator removed", None, _removed)]
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        for spec, options, make in cases:
            path = os.path.join(tmp, "net.onnx")
            if make is None:
                subprocess.run(RELUC + ["build", spec, "-o", path, "-q", *options], check=True)
            else:
                make(path)
            argv = RELUC + ["verify", "--complete", "--json", path]
            # a tampered file must fail (exit 1): measured as a command that succeeds then
            timing = measure(argv if make is None else
                             ["sh", "-c", '"$@"; test $? -eq 1', "sh", *argv])
            out = json.loads(subprocess.run(RELUC + ["verify", "--complete", "--json", path],
                                            capture_output=True, text=True).stdout)
            report = out["files"][0]
            complete = report["checks"]["complete"]
            rows.append({"spec": spec, "verdict": report["verdict"], **timing,
                         "complete": complete["detail"],
                         "counterexample": (report["counterexample"] or {}).get("input")})
            print(rows[-1], file=sys.stderr)
    with open(os.path.join(OUT, "proofs.json"), "w") as f:
        json.dump({"machine": machine(), "rows": rows}, f, indent=1)
    lines = ["| file | verdict | seconds | peak MiB | the complete check |", "|---|---|---|---|---|"]
    lines += [f"| `{r['spec']}` | {r['verdict']} | {r['seconds']} | {r['peak_rss_mib']} | "
              f"{r['complete'][:300]} |" for r in rows]
    with open(os.path.join(OUT, "proofs.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
