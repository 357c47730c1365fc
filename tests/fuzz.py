"""``make fuzz``: hostile specs, files and input rows against reluc for a time budget.

Runs cases from :mod:`hostile_cases` (each a ``python -m reluc`` subprocess with a time
and memory limit), two at a time, until the budget is spent; prints the cases tried and
the promises broken, by category, with up to three examples of each, and exits 1 when
any promise was broken. ``--seed`` makes a run reproducible; ``--budget`` is in seconds.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hostile_cases as hc  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=180, help="seconds (default 180)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: the time)")
    ap.add_argument("-j", type=int, default=2, help="cases run at once (default 2)")
    args = ap.parse_args(argv)
    seed = int(time.time()) if args.seed is None else args.seed
    with tempfile.TemporaryDirectory() as base:
        seeds = hc.seed_files(base)
        makers = [("spec", lambda r: hc.spec_case(r)), ("file", lambda r: hc.file_case(r, seeds)),
                  ("rows", lambda r: hc.rows_case(r, seeds))]
        tried = collections.Counter()
        broken = collections.defaultdict(list)
        stop = time.monotonic() + args.budget

        def worker(k: int) -> None:
            wrng = random.Random(f"{seed}-{k}")
            directory = os.path.join(base, f"w{k}")
            os.makedirs(directory)
            while time.monotonic() < stop:
                category, make = wrng.choice(makers)
                case = make(wrng)
                promise = hc.judge(case, directory)
                tried[category] += 1
                if promise:
                    broken[(category, promise)].append(case.describe())

        with ThreadPoolExecutor(args.j) as pool:
            list(pool.map(worker, range(args.j)))
    print(f"fuzz (seed {seed}, {args.budget:.0f} s): {sum(tried.values())} cases: "
          + ", ".join(f"{tried[c]} {c}" for c, _ in makers))
    if not broken:
        print("promises broken: 0")
        return 0
    print(f"promises broken: {sum(len(v) for v in broken.values())}")
    for (category, promise), cases in sorted(broken.items()):
        print(f"  {category} / {promise}: {len(cases)}")
        for c in cases[:3]:
            print(f"    {c}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
