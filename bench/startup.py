"""Start-up (``make bench``): ``reluc --help`` and ``reluc --version`` against the floor of
``python -c "import click"``; ``stats`` and ``eval`` of a small network (sort n=8, where
the start-up is the cost) against ``python -c "import numpy, click"`` (numpy with one
OpenBLAS thread, as those commands ask for); each the fastest
of 10 runs in a fresh process (CPU seconds). Results go to ``bench/out/startup.md``."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import OUT, RELUC, compile_reluc  # noqa: E402

CASES = [("reluc --help", RELUC + ["--help"]), ("reluc --version", RELUC + ["--version"]),
         ("floor: python -c 'import click'", [sys.executable, "-c", "import click"])]


def small_cases(tmp: str) -> list[tuple[str, list[str]]]:
    """The commands that read a network, on sort n=8 (numpy's import is their floor)."""
    net, rows = os.path.join(tmp, "sort8.onnx"), os.path.join(tmp, "rows.txt")
    subprocess.run(RELUC + ["build", "sort n=8", "-o", net, "-q"], check=True)
    with open(rows, "w") as f:
        f.write("5 -1 3 3 0 2.5 -7 1\n")
    return [("reluc stats sort8.onnx", RELUC + ["stats", net]),
            ("reluc eval sort8.onnx -i rows.txt", RELUC + ["eval", net, "-i", rows]),
            ("floor: python -c 'import numpy, click' (one OpenBLAS thread)",
             [sys.executable, "-c", "import os; os.environ['OPENBLAS_NUM_THREADS'] = '1'; "
              "import numpy, click"])]


def cpu_of(argv: list[str], runs: int = 10) -> float:
    best = None
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = cpu if best is None else min(best, cpu)
    return best


def main():
    compile_reluc()
    lines = ["| command | CPU s (best of 10) | ratio to the floor |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for cases in (CASES, small_cases(tmp)):
            rows = [(name, cpu_of(argv)) for name, argv in cases]
            floor = rows[-1][1]
            lines += [f"| `{name}` | {cpu:.3f} | {cpu / floor:.2f}x |" for name, cpu in rows]
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "startup.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
