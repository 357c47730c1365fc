"""``reluc verify --complete`` measured (``make bench``): the comparator proofs at the
sizes people build, each a whole command in a fresh process (start-up, reading the file,
decompiling, the proof, the other checks). Results go to ``bench/out/proofs.json`` and
``bench/out/proofs.md``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import OUT, RELUC, machine, measure  # noqa: E402

SPECS = ["sort n=64", "sort n=256", "sort n=1024", "sort n=1024 method=bitonic", "sort n=2048",
         "sort n=4096", "topk n=1024 k=16", "median n=1024", "sort n=65536"]


def main():
    rows = []
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        for spec in SPECS:
            path = os.path.join(tmp, "net.onnx")
            subprocess.run(RELUC + ["build", spec, "-o", path, "-q", "--layout", "sparse"],
                           check=True)
            timing = measure(RELUC + ["verify", "--complete", "--json", path])
            out = json.loads(subprocess.run(RELUC + ["verify", "--complete", "--json", path],
                                            capture_output=True, text=True).stdout)
            report = out["files"][0]
            complete = report["checks"]["complete"]
            rows.append({"spec": spec, "verdict": report["verdict"], **timing,
                         "complete": complete["detail"]})
            print(rows[-1], file=sys.stderr)
    with open(os.path.join(OUT, "proofs.json"), "w") as f:
        json.dump({"machine": machine(), "rows": rows}, f, indent=1)
    lines = ["| file | verdict | seconds | peak MiB | the complete check |", "|---|---|---|---|---|"]
    lines += [f"| `{r['spec']}` | {r['verdict']} | {r['seconds']} | {r['peak_rss_mib']} | "
              f"{r['complete']} |" for r in rows]
    with open(os.path.join(OUT, "proofs.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
