"""reluc against its floor (``make bench``): each command of issue 18's table next to a
program written for the same work with numpy and scipy doing exactly the arithmetic and
nothing else, both measured in this run, each in a fresh process, as CPU seconds (user +
system of the child, the fastest of ``--repeat`` runs). Results go to
``bench/out/floors.md`` and ``bench/out/floors.json``.

Floors:
- eval: a Python process that imports numpy and scipy, loads the network's CSR arrays
  (extracted beforehand into an uncompressed ``.npz``) and the rows, runs the layers
  (one CSR product, the bias, ReLU), and saves the outputs; the rows are integers
  within the file's input limit (past it, eval checks each partial sum for overflow);
- stats: a Python process that reads the file's bytes (1 MiB at a time); and, as the
  issue's table has it, one that loads the model with onnx and counts the nonzeros of
  its float tensors (numpy, no matrices);
- start-up (``--help`` and ``--version``): ``python -c "import click"``.
- eval of the dense layout through onnxruntime, also against the dense arithmetic: numpy's
  BLAS multiplying by every weight, zeros included, as onnxruntime's Gemm does.
``verify`` (sort n=16384 and 65536, as in the issue's table) has no such floor (its
exact arithmetic is its own); its target is absolute (60 s at n=65536), and its wall time
is shown beside its CPU time.

Run: ``.venv/bin/python bench/floors.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import OUT, RELUC, compile_reluc  # noqa: E402

EVAL_FLOOR = """
import sys
import numpy as np, scipy.sparse as sp
z = np.load(sys.argv[1])
h = np.ascontiguousarray(np.load(sys.argv[2]).T)
depth = int(z["depth"])
for i in range(depth):
    w = sp.csr_array((z[f"d{i}"], z[f"i{i}"], z[f"p{i}"]), shape=tuple(z[f"s{i}"]))
    h = w @ h
    h += z[f"b{i}"][:, None]
    if i < depth - 1:
        np.maximum(h, 0, out=h)
np.save(sys.argv[3], np.ascontiguousarray(h.T))
"""

# the dense layout's arithmetic: every weight, zeros too (what onnxruntime's Gemm does
# with a dense file), through numpy's BLAS in the file's dtype
DENSE_FLOOR = """
import sys
import numpy as np, scipy.sparse as sp
z = np.load(sys.argv[1])
h = np.load(sys.argv[2])
depth = int(z["depth"])
for i in range(depth):
    w = sp.csr_array((z[f"d{i}"], z[f"i{i}"], z[f"p{i}"]), shape=tuple(z[f"s{i}"])).toarray()
    h = h @ w.T
    h += z[f"b{i}"]
    if i < depth - 1:
        np.maximum(h, 0, out=h)
np.save(sys.argv[3], h)
"""

READ_FLOOR = """
import sys
buf = bytearray(1 << 20)
with open(sys.argv[1], "rb", buffering=0) as f:
    while f.readinto(buf):
        pass
"""

COUNT_FLOOR = """
import sys
import numpy as np, onnx
from onnx import numpy_helper
model = onnx.load(sys.argv[1])
print(sum(int(np.count_nonzero(numpy_helper.to_array(t))) for t in model.graph.initializer
          if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE)))
"""


def cpu(argv: list[str], repeat: int) -> float:
    """The least CPU seconds (user + system) of ``repeat`` runs of ``argv``."""
    return timed(argv, repeat)[0]


def timed(argv: list[str], repeat: int) -> tuple[float, float]:
    """The least CPU seconds (user + system) and the least wall seconds of ``repeat``
    runs of ``argv``."""
    best = None
    for _ in range(repeat):
        before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        if r.returncode:
            raise SystemExit(f"{' '.join(map(str, argv))} failed: {r.stderr}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = (t, wall) if best is None else (min(best[0], t), min(best[1], wall))
    return round(best[0], 3), round(best[1], 3)


def extract(path: str, out: str) -> None:
    """The network's CSR arrays in the file's dtype, for the eval floor (not timed)."""
    from reluc import formats

    layers, info = formats.read_layers(path)
    arrays, depth = {}, 0
    for i, layer in enumerate(layers):
        w = layer.weight
        arrays.update({f"d{i}": w.data.astype(info.dtype), f"i{i}": w.indices,
                       f"p{i}": w.indptr, f"s{i}": np.array(w.shape),
                       f"b{i}": layer.bias.astype(info.dtype)})
        depth = i + 1
    np.savez(out, depth=depth, **arrays)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    compile_reluc()
    rep = args.repeat
    py = sys.executable
    rows = []

    def row(work, target, mine, floor, note=""):
        rows.append({"work": work, "reluc_cpu_s": mine, "floor_cpu_s": floor,
                     "ratio": round(mine / floor, 2) if floor else None, "target": target,
                     "note": note})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)

    os.makedirs(OUT, exist_ok=True)
    evals = [(1024, "sparse", 1024), (4096, "sparse", 1024), (1024, "dense", 1024),
             (4096, "npz", 1024), (16384, "sparse", 256), (65536, "sparse", 256)]
    if args.quick:
        evals = [(256, "sparse", 256), (256, "npz", 256)]
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        for n, layout, count in evals:
            path = os.path.join(tmp, f"sort{n}.{'npz' if layout == 'npz' else 'onnx'}")
            extra = [] if layout == "npz" else ["--layout", layout]
            subprocess.run(RELUC + ["build", f"sort n={n}", "-o", path, "-q", *extra],
                           check=True)
            csr, x, y = (os.path.join(tmp, f) for f in ("w.npz", "x.npy", "y.npy"))
            extract(path, csr)
            # integers within the file's input limit: past it eval checks every partial
            # sum for overflow (a second product a layer), which the floor does not do
            limit = json.loads(subprocess.run(RELUC + ["stats", path, "--json"], check=True,
                                              capture_output=True).stdout)["input_limit"]
            top = int(min(2**20, limit))
            rng = np.random.default_rng(0)
            np.save(x, rng.integers(-top, top, size=(count, n)).astype(np.float32))
            floor = cpu([py, "-c", EVAL_FLOOR, csr, x, y], rep)
            want = np.load(y)
            case = f"sort n={n} ({layout}), {count} rows"
            mine = cpu(RELUC + ["eval", path, "-i", x, "-o", y], rep)
            assert np.array_equal(np.load(y), want), case
            row(f"eval {case}", "1.3x", mine, floor)
            if layout != "npz":
                theirs = cpu(RELUC + ["eval", path, "-i", x, "-o", y, "--runtime", "ort"],
                             rep)
                assert np.array_equal(np.load(y), want), case
                row(f"eval --runtime ort {case}", "2x", theirs, floor,
                    "the ONNX file in onnxruntime")
            if layout == "dense":  # onnxruntime does every weight's arithmetic, zeros too
                row(f"eval --runtime ort {case}", "-", theirs,
                    cpu([py, "-c", DENSE_FLOOR, csr, x, y], rep),
                    "floor: the dense arithmetic (numpy's BLAS, every weight)")
                assert np.array_equal(np.load(y), want), case
            if n >= 4096 and layout == "sparse" or args.quick:
                mine = cpu(RELUC + ["stats", path, "--json"], rep)
                # the target is at n=65536; a smaller file's read is shorter
                # than the imports of any command that reads ONNX
                row(f"stats sort n={n} ({layout})", "4x" if n == 65536 else "-", mine,
                    cpu([py, "-c", READ_FLOOR, path], rep), "floor: reading the file's bytes")
                if layout != "npz":
                    row(f"stats sort n={n} ({layout})", "-", mine,
                        cpu([py, "-c", COUNT_FLOOR, path], rep),
                        "floor: onnx.load and counting the float tensors' nonzeros")
            if n in (16384, 65536) or args.quick:
                spent, wall = timed(RELUC + ["verify", path, "-q"], 1)
                row(f"verify sort n={n} ({layout})", "60 s" if n == 65536 else "-", spent, None,
                    f"no floor; {wall:.1f} s wall")
            for f in (path, csr, x, y):
                os.unlink(f)
    click_floor = cpu([py, "-c", "import click"], 10)
    for flag in ("--help", "--version"):
        row(f"reluc {flag}", "0.1 s", cpu(RELUC + [flag], 10), click_floor,
            "floor: python -c 'import click'")
    lines = ["| work | reluc CPU s | floor CPU s | ratio | target | |", "|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
        lines.append(f"| {r['work']} | {r['reluc_cpu_s']} | {r['floor_cpu_s'] or '-'} | "
                     f"{ratio} | {r['target']} | {r['note']} |")
    with open(os.path.join(OUT, "floors.json"), "w") as f:
        json.dump(rows, f, indent=2)
    with open(os.path.join(OUT, "floors.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
