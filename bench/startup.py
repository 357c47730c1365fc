"""Start-up (``make bench``): ``reluc --help`` and ``reluc --version`` against the floor of
``python -c "import click"``, each the fastest of 10 runs in a fresh process (wall and
CPU seconds). Results go to ``bench/out/startup.md``."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import OUT, RELUC, compile_reluc  # noqa: E402

CASES = [("reluc --help", RELUC + ["--help"]), ("reluc --version", RELUC + ["--version"]),
         ("floor: python -c 'import click'", [sys.executable, "-c", "import click"])]


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
    rows = [(name, cpu_of(argv)) for name, argv in CASES]
    floor = rows[-1][1]
    lines = ["| command | CPU s (best of 10) | ratio to the floor |", "|---|---|---|"]
    lines += [f"| `{name}` | {cpu:.3f} | {cpu / floor:.2f}x |" for name, cpu in rows]
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "startup.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
