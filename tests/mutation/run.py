"""``make mutants``: run the test suite against every deliberate bug of the table in
:mod:`mutants` and print the share it kills.

Each mutant is applied to a fresh copy of the tracked files (never to this tree), and
the whole suite runs against it with ``-x``: the tests the mutant names first, then
every other test, so a mutant counts as killed by *any* failing test, and a surviving
one has run the whole suite. A mutant whose text is not found exactly once, or that
makes its module fail to compile, is an error of the table, not a kill.

    python tests/mutation/run.py            # every mutant, two at a time
    python tests/mutation/run.py -k verify  # those whose id or file contains 'verify'
    python tests/mutation/run.py -j 1 --list

The suite runs once without any mutant first: if it fails on its own, nothing is
counted (it would "kill" every mutant).

Exit status: 0 when every mutant is killed, 1 when one survives, 2 for a table error
or a suite that fails without mutants.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from mutants import MUTANTS, Mutant  # noqa: E402

TIMEOUT = 600  # seconds for one run of the suite; a mutant that hangs it is killed


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [f for f in out.splitlines() if os.path.isfile(os.path.join(ROOT, f))]


def copy_tree(dest: str) -> None:
    """The files of this tree that git would commit (tracked, or new and not ignored)."""
    for f in tracked_files():
        os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(dest, f))


def apply(m: Mutant, tree: str) -> str:
    """The mutated text of ``m.file`` in ``tree``; ValueError if the table is stale."""
    with open(os.path.join(tree, m.file), encoding="utf-8") as f:
        text = f.read()
    count = text.count(m.find)
    if count != 1:
        raise ValueError(f"{m.id}: the text to mutate occurs {count} times in {m.file}")
    mutated = text.replace(m.find, m.replace)
    compile(mutated, m.file, "exec")  # SyntaxError: a table error
    return mutated


def suite(tree: str, first: list[str], mutant: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=tree, PYTHONDONTWRITEBYTECODE="1",
               HYPOTHESIS_PROFILE="ci", RELUC_MUTANT=mutant)
    args = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
            "-o", "addopts=", *first, "tests"]
    return subprocess.run(args, cwd=tree, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)


def run_one(m: Mutant, tree: str) -> dict:
    path = os.path.join(tree, m.file)
    with open(path, encoding="utf-8") as f:
        original = f.read()
    start = time.monotonic()
    try:
        mutated = apply(m, tree)
    except (ValueError, SyntaxError) as e:
        return {"id": m.id, "result": "table error", "detail": str(e), "seconds": 0.0}
    with open(path, "w", encoding="utf-8") as f:
        f.write(mutated)
    first = [t for t in m.tests if os.path.exists(os.path.join(tree, t))]
    try:
        r = suite(tree, first, m.id)
        out = r.stdout + r.stderr
        if r.returncode == 0:
            result, detail = "SURVIVED", "the whole suite passed"
        elif r.returncode in (1, 3):  # tests failed / internal error of pytest
            result = "killed"
            failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.M)
            detail = failed[0] if failed else out.strip().splitlines()[-1]
        else:
            result, detail = "table error", f"pytest exit {r.returncode}: " + \
                (out.strip().splitlines() or [""])[-1]
    except subprocess.TimeoutExpired:
        result, detail = "killed", f"timeout after {TIMEOUT} s"
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(original)
    return {"id": m.id, "result": result, "detail": detail,
            "seconds": round(time.monotonic() - start, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", default="", help="only mutants whose id or file contains this")
    ap.add_argument("-j", type=int, default=2, help="mutants run at once (default 2)")
    ap.add_argument("--list", action="store_true", help="list the table and stop")
    opts = ap.parse_args()
    chosen = [m for m in MUTANTS if opts.k in m.id or opts.k in m.file]
    if opts.list:
        for m in chosen:
            print(f"{m.id:32} {m.file:34} {m.why}")
        return 0
    workers = max(1, min(opts.j, len(chosen)))
    trees = [tempfile.mkdtemp(prefix=f"reluc-mutants-{i}-") for i in range(workers)]
    free = list(trees)
    try:
        for t in trees:
            copy_tree(t)
        # a suite that fails on its own would "kill" every mutant: it must pass first
        clean = suite(trees[0], [], "none")
        if clean.returncode != 0:
            print("the suite fails without any mutant; fix it first:\n"
                  + "\n".join((clean.stdout + clean.stderr).strip().splitlines()[-5:]))
            return 2

        def job(m: Mutant) -> dict:
            tree = free.pop()
            try:
                return run_one(m, tree)
            finally:
                free.append(tree)

        results = []
        start = time.monotonic()
        print(f"{len(chosen)} mutants, {workers} at a time, the whole suite against each",
              flush=True)
        with ThreadPoolExecutor(workers) as pool:
            for res in pool.map(job, chosen):
                results.append(res)
                print(f"  {res['result']:11} {res['id']:32} {res['seconds']:6.1f} s  "
                      f"{res['detail']}", flush=True)
    finally:
        for t in trees:
            shutil.rmtree(t, ignore_errors=True)
    killed = sum(r["result"] == "killed" for r in results)
    errors = [r for r in results if r["result"] == "table error"]
    survived = [r for r in results if r["result"] == "SURVIVED"]
    valid = len(results) - len(errors)
    share = 100.0 * killed / valid if valid else 0.0
    print(f"\nmutants killed: {killed} of {valid} ({share:.1f}%) in "
          f"{time.monotonic() - start:.0f} s" + (f"; {len(errors)} table errors" if errors
                                                  else ""))
    for r in survived:
        print(f"  survived: {r['id']}")
    return 2 if errors else (1 if survived else 0)


if __name__ == "__main__":
    sys.exit(main())
