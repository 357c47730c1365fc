"""``reluc regions`` measured: against Regioncam 0.5.2 on seeded random networks in the
plane, sawtooth k=20 on a line, and the LP search with 3 and 5 inputs; and ``reluc plot``
of sawtooth k=12 and of a map of about 6000 regions (``make bench``).

Random networks 2 -> w -> w on [-1, 1]^2: first-layer weights N(0, 1), later ones
N(0, 1/fan-in), biases N(0, 1) (numpy's default_rng(seed)); a last layer sums the
neurons. Both tools run in this one run, on the same weights: Regioncam in float32 (its
only precision), reluc with every sign exact. Times are the fastest of three, in-process
(library calls, after imports), and for reluc also the whole command in a fresh process
(start-up, reading the file, all six counts, the report). Results go to
``bench/out/regions.json`` and ``bench/out/regions.md``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import OUT, RELUC, machine, measure  # noqa: E402


def random_layers(widths, seed):
    rng = np.random.default_rng(seed)
    sizes = [2, *widths]
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        w = rng.normal(size=(b, a)) * (1.0 if i == 0 else 1 / np.sqrt(a))
        layers.append((w, rng.normal(size=b)))
    return layers


def write_npz(path, layers):
    from reluc.formats.metadata import FileInfo
    from reluc.formats.npzfile import write_npz as write
    from reluc.net import Layer, Net

    with open(path, "wb") as f:
        write(Net([Layer(np.asarray(w, float), np.asarray(b, float)) for w, b in layers]),
              FileInfo(), f, "float64")


def best_of(fn, repeat=3):
    best, out = None, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return round(best, 3), out


def regioncam_faces(layers):
    import regioncam

    def run():
        rc = regioncam.Regioncam(size=1.0)  # the box [-1, 1]^2
        for w, b in layers:
            rc.linear(np.asarray(w.T, np.float32), np.asarray(b, np.float32))
            rc.relu()
        return rc.num_faces
    return best_of(run)


def plane_case(widths, seed, tmp):
    from reluc.analysis.planar import Slice, Subdivision
    from reluc.analysis.regions import on_plane
    from reluc.net import Layer, Net

    layers = random_layers(widths, seed)
    full = layers + [(np.ones((1, widths[-1])), np.zeros(1))]
    net = Net([Layer(w, b) for w, b in full])
    sl = Slice((0, 0), ((1, 0), (0, 1)), (-1, 1, -1, 1))
    row = {"case": f"2->{'->'.join(map(str, widths))} on [-1,1]^2 (seed {seed})"}
    row["reluc_faces_seconds"], sub = best_of(lambda: Subdivision(net, sl))
    row["reluc_counts_seconds"], r = best_of(lambda: on_plane(net, sl, certify_up_to=0))
    row["faces"] = len(sub.faces)
    row["counts"] = r.counts
    path = os.path.join(tmp, "net.npz")
    write_npz(path, full)
    row["reluc_cli"] = measure(RELUC + ["regions", path, "--box", "-1:1", "--json"], repeat=3)
    try:
        row["regioncam_seconds"], row["regioncam_faces"] = regioncam_faces(layers)
        row["ratio_faces"] = round(row["reluc_faces_seconds"] / row["regioncam_seconds"], 2)
        row["ratio_counts"] = round(row["reluc_counts_seconds"] / row["regioncam_seconds"], 2)
    except ImportError:
        row["regioncam_seconds"] = None  # pip install 'reluc[bench]'
    return row


def cli_case(name, spec, args, tmp, layers=None):
    path = os.path.join(tmp, "case.npz" if layers else "case.onnx")
    if layers:
        write_npz(path, layers)
    else:
        import subprocess
        subprocess.run(RELUC + ["build", spec, "-o", path, "-q"], check=True)
    row = {"case": name, "reluc_cli": measure(RELUC + ["regions", path, "--json", *args])}
    import subprocess
    out = json.loads(subprocess.run(RELUC + ["regions", path, "--json", *args],
                                    capture_output=True, text=True, check=True).stdout)
    row["counts"] = out["counts"]
    return row


def plot_case(name, path, args, tmp):
    """``reluc plot`` as a whole command in a fresh process (needs the plot extra)."""
    out = os.path.join(tmp, "picture.png")
    return {"case": name, "reluc_cli": measure(RELUC + ["plot", path, "-o", out, "-q", *args])}


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    results = {"schema": 1, "machine": machine(), "plane": [], "other": []}
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        for widths in [(100, 100), (300, 300)]:
            row = plane_case(widths, 0, tmp)
            results["plane"].append(row)
            print(json.dumps(row), file=sys.stderr)
        rng = np.random.default_rng(1)
        three = [(rng.normal(size=(10, 3)), rng.normal(size=10))] + \
            [(rng.normal(size=(10, 10)) / np.sqrt(10), rng.normal(size=10)) for _ in range(2)] + \
            [(np.ones((1, 10)), np.zeros(1))]
        for row in [cli_case("sawtooth k=20 on [0, 1]", "sawtooth k=20", [], tmp),
                    cli_case("3 -> 10 -> 10 -> 10 on [-1,1]^3 (LP search)", None,
                             ["--box", "-1:1"], tmp, three),
                    cli_case("sort n=5 on [-1,1]^5 (LP search)", "sort n=5", ["--box", "-1:1"],
                             tmp)]:
            results["other"].append(row)
            print(json.dumps(row), file=sys.stderr)
        results["plot"] = []
        import importlib.util
        if importlib.util.find_spec("matplotlib"):  # (the plot extra)
            import subprocess
            saw = os.path.join(tmp, "saw12.onnx")
            subprocess.run(RELUC + ["build", "sawtooth k=12", "-o", saw, "-q"], check=True)
            net = os.path.join(tmp, "plane.npz")
            layers = random_layers((115, 115), 0)
            write_npz(net, layers + [(np.ones((1, 115)), np.zeros(1))])
            for row in [plot_case("sawtooth k=12 (4096 pieces)", saw, [], tmp),
                        plot_case("2->115->115 on [-1,1]^2 (5963 regions, certified)", net,
                                  ["--box", "-1:1"], tmp)]:
                results["plot"].append(row)
                print(json.dumps(row), file=sys.stderr)
    with open(os.path.join(OUT, "regions.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    table = to_markdown(results)
    with open(os.path.join(OUT, "regions.md"), "w") as f:
        f.write(table)
    print(table)


def to_markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"Measured on {m['cpu']} ({m['cores']} cores), Python {m['python']}, in one run.",
             "", "| network | faces (reluc) | faces (Regioncam) | reluc faces s | reluc all "
             "counts s | Regioncam s | ratio faces | ratio all counts | reluc command s "
             "| command peak MiB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["plane"]:
        rc = r.get("regioncam_seconds")
        lines.append(
            f"| {r['case']} | {r['faces']} | {r.get('regioncam_faces', '-')} | "
            f"{r['reluc_faces_seconds']} | {r['reluc_counts_seconds']} | {rc or '-'} | "
            f"{r.get('ratio_faces', '-')} | {r.get('ratio_counts', '-')} | "
            f"{r['reluc_cli']['seconds']} | {r['reluc_cli']['peak_rss_mib']} |")
    lines += ["", "| case | command s | peak MiB | full-dimensional activation regions "
              "| affine regions |", "|---|---|---|---|---|"]
    for r in results["other"]:
        c = r["counts"]
        lines.append(f"| {r['case']} | {r['reluc_cli']['seconds']} | "
                     f"{r['reluc_cli']['peak_rss_mib']} | "
                     f"{c['full_dimensional_activation_regions']} | {c['affine_regions']} |")
    if results.get("plot"):
        lines += ["", "| picture (`reluc plot ... -o x.png`) | command s | peak MiB |",
                  "|---|---|---|"]
        for r in results["plot"]:
            lines.append(f"| {r['case']} | {r['reluc_cli']['seconds']} | "
                         f"{r['reluc_cli']['peak_rss_mib']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
