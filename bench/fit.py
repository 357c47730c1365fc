"""``reluc fit`` measured (``make bench``): time against the number of data points D
for n = 1 (width 2 and 3) and n = 2 (width 2), the convex programs there are and those
solved, one local process against two and against a Dask LocalCluster of two workers;
the QP solvers we could use, per program; and the data set of the README where 100
gradient-descent restarts stay above the certified optimum.

Data: x uniform on [-1, 1]^n, y = relu(x.1 + 0.2) - relu(x_1 - 0.1) + N(0, 0.1^2) noise
(numpy's default_rng(D)); one row of pure noise, where the bounds prune least. Times are
library calls in this process (after imports), the fastest of two; the cluster's start
is not counted. Results go to ``bench/out/fit.json`` and ``bench/out/fit.md``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import OUT, machine  # noqa: E402

CASES = [(1, 2, [10, 20, 30, 50, 100]), (1, 3, [10, 20, 30, 50]), (2, 2, [10, 15, 20, 30])]


def data(n, d, noise_only=False):
    rng = np.random.default_rng(d)
    x = rng.uniform(-1, 1, (d, n))
    y = np.maximum(x.sum(axis=1) + 0.2, 0) - np.maximum(x[:, 0] - 0.1, 0)
    return x, (rng.normal(size=d) if noise_only else y + 0.1 * rng.normal(size=d))


def timed(fn, repeat=2):
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return round(best, 3), out


def scaling(address):
    from reluc.fit import fit

    rows = []
    for n, width, ds in CASES:
        for d in ds:
            for noise in ([False, True] if (n, width, d) == (2, 2, 20) else [False]):
                x, y = data(n, d, noise)
                one, r = timed(lambda: fit(x, y, width, workers=1))
                two, r2 = timed(lambda: fit(x, y, width, workers=2))
                dask, r3 = timed(lambda: fit(x, y, width, scheduler=address))
                assert r.units == r2.units == r3.units and r.exact_loss == r3.exact_loss
                rows.append({"n": n, "width": width, "D": d, "noise_only": noise,
                             "programs": r.total, "solved": r.programs, "pruned": r.pruned,
                             "loss": r.loss, "certified": r.exact_loss is not None,
                             "one": one, "two": two, "dask_two": dask})
                print(rows[-1], file=sys.stderr)
    return rows


def solvers(samples=300):
    """Per-program time, the largest error against the exact optimum (certified in
    rationals from HiGHS's active set) and the largest constraint violation, on random
    unit choices of the n = 2, D = 20, width-2 problem."""
    from reluc.fit import partitions
    from reluc.fit.certificate import certify_l2
    from reluc.fit.programs import _l2, matrices

    x, y = data(2, 20)
    sets = partitions(x)
    rng = np.random.default_rng(0)
    programs = []
    for _ in range(samples):
        ks = rng.integers(1, len(sets), size=2)
        programs.append(matrices(x, [(int(rng.choice([1, -1])), sets[k]) for k in ks]))
    exact = [certify_l2(m, g, y, _l2(m, g, y)[1]) for m, g in programs]
    candidates = {"HiGHS QP (highspy, active set)": lambda m, g: _l2(m, g, y)[1],
                  "Clarabel (interior point)": lambda m, g: _clarabel(m, g, y),
                  "OSQP (ADMM, polished)": lambda m, g: _osqp(m, g, y),
                  "SLSQP (scipy.optimize.minimize)": lambda m, g: _slsqp(m, g, y)}
    out = []
    for name, solve in candidates.items():
        try:
            t, thetas = timed(lambda: [solve(m, g) for m, g in programs], repeat=1)
        except ImportError:
            continue
        err = viol = 0.0
        for (m, g), theta, ex in zip(programs, thetas, exact):
            viol = max(viol, float(np.max(g @ theta)))
            if ex is not None:
                v = float(np.sum((m @ theta - y) ** 2))
                err = max(err, abs(v - float(ex[1])) / (1 + float(ex[1])))
        out.append({"solver": name, "ms_per_program": round(1000 * t / samples, 3),
                    "worst_relative_error": err, "worst_violation": viol,
                    "certified": sum(ex is not None for ex in exact)})
    return out


def _slsqp(m, g, y):
    from scipy.optimize import minimize

    return minimize(lambda t: np.sum((m @ t - y) ** 2), np.zeros(m.shape[1]),
                    jac=lambda t: 2 * m.T @ (m @ t - y), method="SLSQP",
                    constraints=[{"type": "ineq", "fun": lambda t: -g @ t,
                                  "jac": lambda t: -g}],
                    options={"maxiter": 500, "ftol": 1e-12}).x


def _osqp(m, g, y):
    import osqp
    import scipy.sparse as sp

    solver = osqp.OSQP()
    solver.setup(sp.csc_matrix(2 * m.T @ m), -2 * m.T @ y, sp.csc_matrix(g),
                 np.full(g.shape[0], -np.inf), np.zeros(g.shape[0]), verbose=False,
                 eps_abs=1e-10, eps_rel=1e-10, polishing=True, max_iter=20000)
    return solver.solve().x


def _clarabel(m, g, y):
    import clarabel
    import scipy.sparse as sp

    settings = clarabel.DefaultSettings()
    settings.verbose = False
    solver = clarabel.DefaultSolver(sp.csc_matrix(np.triu(2 * m.T @ m)), -2 * m.T @ y,
                                    sp.csc_matrix(g), np.zeros(g.shape[0]),
                                    [clarabel.NonnegativeConeT(g.shape[0])], settings)
    return np.array(solver.solve().x)


def descent_example():
    """specs/fit/sin12.csv (the README's): the certified optimum of width 2 against
    the best of 100 scikit-learn L-BFGS restarts."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    from reluc.fit import fit, load

    x, y, _ = load(os.path.join(os.path.dirname(OUT), "..", "specs", "fit", "sin12.csv"), None)
    exact = fit(x, y, 2, workers=1)
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(100):
            m = MLPRegressor(hidden_layer_sizes=(2,), activation="relu", solver="lbfgs",
                             alpha=0.0, max_iter=2000, tol=1e-12, random_state=seed)
            losses.append(float(np.sum((m.fit(x, y).predict(x) - y) ** 2)))
    losses = np.array(losses)
    return {"fit": exact.loss, "fit_exact": str(exact.exact_loss), "gd_best": losses.min(),
            "gd_median": float(np.median(losses)),
            "gd_within_1e-6_of_fit": int(np.sum(losses <= exact.loss + 1e-6))}


def main():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        rows = scaling(cluster.scheduler_address)
    result = {"machine": machine(), "scaling": rows, "solvers": solvers(),
              "descent": descent_example()}
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "fit.json"), "w") as f:
        json.dump(result, f, indent=1)
    lines = ["| n | W | D | programs | solved | 1 process | 2 processes | Dask 2 workers |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['n']} | {r['width']} | {r['D']}{' (noise)' if r['noise_only'] else ''}"
                     f" | {r['programs']} | {r['solved']} | {r['one']} s | {r['two']} s "
                     f"({r['one'] / r['two']:.2f}x) | {r['dask_two']} s "
                     f"({r['one'] / r['dask_two']:.2f}x) |")
    lines += ["", "| QP solver | ms per program | worst relative error | worst violation |",
              "|---|---|---|---|"]
    lines += [f"| {s['solver']} | {s['ms_per_program']} | {s['worst_relative_error']:.1e} | "
              f"{s['worst_violation']:.1e} |" for s in result["solvers"]]
    d = result["descent"]
    lines += ["", f"sin12.csv, width 2: reluc fit {d['fit']:.6f} (certified); best of 100 "
              f"L-BFGS restarts {d['gd_best']:.6f}, median {d['gd_median']:.6f}; "
              f"{d['gd_within_1e-6_of_fit']} restarts within 1e-6 of the optimum"]
    with open(os.path.join(OUT, "fit.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
