"""reluc's benchmark: large networks, measured as a user runs them (``make bench``).

Each measured command runs in a fresh child process, through the installed ``reluc``
CLI, so wall time and peak resident memory are those of that command alone. Results go
to ``bench/out/results.json`` and a Markdown table to ``bench/out/results.md``.

Run: ``make bench`` (or ``.venv/bin/python bench/run.py [--quick]``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")
RELUC = [sys.executable, "-m", "reluc"]

# Runs argv, then prints "<wall seconds> <peak RSS in KiB>" of that child alone.
_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "dt = time.perf_counter() - t\n"
    "if r.returncode: sys.stderr.write(r.stderr.decode()); sys.exit(r.returncode)\n"
    "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def compile_reluc() -> None:
    """Write the bytecode of reluc's modules, as pip does when it installs a package: an
    editable install leaves that to the first run, and under ``PYTHONDONTWRITEBYTECODE``
    (set on the machines this was measured on) every run compiled every module it
    imported, 50-90 ms a command that an installed reluc does not spend."""
    import compileall

    compileall.compile_dir(os.path.join(os.path.dirname(HERE), "reluc"), quiet=1)


def measure(argv: list[str], repeat: int = 1) -> dict:
    """Wall time and peak RSS of a command; with ``repeat``, the fastest of that many
    runs (builds write large files: the disk's write-back of earlier ones adds noise)."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", _MEASURE, *argv], capture_output=True,
                             text=True, check=True).stdout.split()
        runs.append({"seconds": round(float(out[0]), 3),
                     "peak_rss_mib": round(int(out[1]) / 1024, 1)})
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "runs": len(runs)} if repeat > 1 else best


def cli_json(*args: str) -> dict:
    return json.loads(subprocess.run(RELUC + list(args), capture_output=True, text=True,
                                     check=True).stdout)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


def bench_sort_dense(n: int, tmp: str) -> dict:
    """Build sort n as dense float32 ONNX; stats; evaluate through onnxruntime."""
    import onnxruntime as ort

    path = os.path.join(tmp, f"sort{n}.onnx")
    row = {"case": f"sort n={n} (dense onnx, float32)"}
    row["build"] = measure(RELUC + ["build", f"sort n={n}", "-o", path, "-q", "--layout",
                                    "dense"], repeat=3)
    row["stats"] = measure(RELUC + ["stats", path, "--json"])
    row["verify"] = measure(RELUC + ["verify", path, "-q"])
    s = cli_json("stats", path, "--json")
    row.update({k: s[k] for k in ("hidden_layers", "width", "neurons", "params",
                                  "nonzero_params", "file_size")})
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    ints = rng.integers(-(2**21), 2**21, size=(256, n)).astype(np.float32)
    floats = rng.normal(size=(256, n)).astype(np.float32)
    sess.run(None, {"x": ints[:1]})  # warm up
    t = time.perf_counter()
    y_int = sess.run(None, {"x": ints})[0]
    dt = time.perf_counter() - t
    t = time.perf_counter()
    ref = np.sort(ints, axis=1)
    dt_np = time.perf_counter() - t
    y_float = sess.run(None, {"x": floats})[0]
    err = np.abs(y_float - np.sort(floats, axis=1))
    scale = np.abs(floats).max(axis=1, keepdims=True) * np.finfo(np.float32).eps
    row["eval"] = {
        "rows_per_second_ort": round(256 / dt, 1),
        "rows_per_second_numpy_sort": round(256 / dt_np, 1),
        "integers_exact": bool(np.array_equal(y_int, ref)),
        "float_max_abs_error": float(err.max()),
        "float_max_error_in_eps_of_max_abs_input": round(float((err / scale).max()), 2),
    }
    os.unlink(path)
    return row


_FLOOR = (
    "import os, sys, tempfile, time\n"
    "import numpy as np\n"
    "from reluc.constructors.comparators.schedules import sort_stages\n"
    "n = int(sys.argv[1]); nnz = int(sys.argv[2])\n"
    "t = time.perf_counter()\n"
    "stages = sort_stages(n, 'best')\n"
    "with tempfile.TemporaryFile(dir=sys.argv[3]) as f:\n"
    "    f.write(np.ones(nnz, np.float32).tobytes()); f.write(np.zeros(nnz, np.int32).tobytes())\n"
    "    f.flush(); os.fsync(f.fileno())\n"
    "print(time.perf_counter() - t)\n"
)


def numpy_floor(n: int, nnz: int, tmp: str) -> float:
    """The floor a build is measured against: numpy generating the same comparator
    schedule and writing the nonzeros' values and column indices (8 bytes each)."""
    out = subprocess.run([sys.executable, "-c", _FLOOR, str(n), str(nnz), tmp],
                         capture_output=True, text=True, check=True).stdout
    return round(float(out), 3)


def bench_sort_sparse(n: int, tmp: str, layout: str = "sparse", fmt: str = "onnx",
                      verify: bool = True, eval_rows: int = 1024) -> dict:
    """Build sort n in a given layout; stats; verify; eval through the file's runtime."""
    path = os.path.join(tmp, f"sort{n}.{fmt}")
    row = {"case": f"sort n={n} ({layout if fmt == 'onnx' else 'npz'}, float32)"}
    extra = ["--layout", layout] if fmt == "onnx" else []
    row["build"] = measure(RELUC + ["build", f"sort n={n}", "-o", path, "-q"] + extra, repeat=3)
    row["stats"] = measure(RELUC + ["stats", path, "--json"])
    if verify:
        row["verify"] = measure(RELUC + ["verify", path, "-q"])
    s = cli_json("stats", path, "--json")
    row.update({k: s[k] for k in ("hidden_layers", "width", "neurons", "params",
                                  "nonzero_params", "file_size")})
    row["floor_seconds"] = min(numpy_floor(n, s["nonzero_params"], tmp) for _ in range(3))
    rng = np.random.default_rng(0)
    x = rng.integers(-(2**21), 2**21, size=(eval_rows, n)).astype(np.float32)
    xpath = os.path.join(tmp, "x.npy")
    ypath = os.path.join(tmp, "y.npy")
    np.save(xpath, x)
    row["eval"] = measure(RELUC + ["eval", path, "-i", xpath, "-o", ypath])
    t = time.perf_counter()
    ref = np.sort(x, axis=1)
    dt_np = time.perf_counter() - t
    row["eval"].update({
        "rows": eval_rows,
        "rows_per_second": round(eval_rows / row["eval"]["seconds"], 1),
        "rows_per_second_numpy_sort": round(eval_rows / dt_np, 1),
        "integers_exact": bool(np.array_equal(np.load(ypath), ref)),
    })
    for p in (path, xpath, ypath):
        os.unlink(p)
    return row


def bench_build(spec: str, tmp: str, layout: str = "auto") -> dict:
    path = os.path.join(tmp, "net.onnx")
    row = {"case": f"{spec} ({layout})", "build": measure(RELUC + ["build", spec, "-o", path,
                                                                   "-q", "--layout", layout])}
    s = cli_json("stats", path, "--json")
    row.update({k: s[k] for k in ("hidden_layers", "width", "neurons", "params",
                                  "nonzero_params", "file_size")})
    os.unlink(path)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    args = ap.parse_args()
    compile_reluc()
    os.makedirs(OUT, exist_ok=True)
    results = {"schema": 2, "machine": machine(), "rows": [], "builds": []}
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        if args.quick:
            jobs = [lambda: bench_sort_dense(256, tmp),
                    lambda: bench_sort_sparse(256, tmp, eval_rows=64)]
            builds = ["sawtooth k=10", "square L=10"]
        else:
            jobs = [lambda: bench_sort_dense(1024, tmp)]
            jobs += [lambda n=n: bench_sort_sparse(n, tmp) for n in (2**p for p in range(10, 17))]
            jobs += [lambda n=n: bench_sort_sparse(n, tmp, fmt="npz", verify=False)
                     for n in (4096, 65536)]
            builds = [f"sawtooth k={k}" for k in (12, 18, 24)] + \
                [f"square L={L}" for L in (10, 20, 30)] + ["topk n=65536 k=16"]
        for job in jobs:
            row = job()
            results["rows"].append(row)
            print(json.dumps(row), file=sys.stderr)
        for spec in builds:
            row = bench_build(spec, tmp)
            results["builds"].append(row)
            print(json.dumps(row), file=sys.stderr)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    table = to_markdown(results)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(table)
    print(table)


def to_markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"Measured on {m['cpu']} ({m['cores']} cores), Python {m['python']}.", "",
             "| case | build s | numpy floor s | build peak MiB | file MB | stats s "
             "| stats peak MiB | verify s | verify peak MiB | hidden layers | width | nonzeros "
             "| dense params | eval rows | eval rows/s | eval peak MiB | numpy.sort rows/s "
             "| integers exact |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        e = r["eval"]
        v = r.get("verify", {"seconds": "-", "peak_rss_mib": "-"})
        rate = e.get("rows_per_second", e.get("rows_per_second_ort"))
        lines.append(
            f"| {r['case']} | {r['build']['seconds']} | {r.get('floor_seconds', '-')} | "
            f"{r['build']['peak_rss_mib']} | {r['file_size'] / 1e6:.0f} | "
            f"{r['stats']['seconds']} | {r['stats']['peak_rss_mib']} | {v['seconds']} | "
            f"{v['peak_rss_mib']} | {r['hidden_layers']} | {r['width']} | "
            f"{r['nonzero_params']} | {r['params']:.3g} | {e.get('rows', 256)} | {rate} | "
            f"{e.get('peak_rss_mib', '-')} | {e['rows_per_second_numpy_sort']:.0f} | "
            f"{e['integers_exact']} |"
        )
    lines += ["", "| build | seconds | peak MiB | file MB | hidden layers | width | nonzeros "
              "| dense params |", "|---|---|---|---|---|---|---|---|"]
    for r in results.get("builds", []):
        lines.append(f"| {r['case']} | {r['build']['seconds']} | {r['build']['peak_rss_mib']} "
                     f"| {r['file_size'] / 1e6:.2f} | {r['hidden_layers']} | {r['width']} | "
                     f"{r['nonzero_params']} | {r['params']:.3g} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
