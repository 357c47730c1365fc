"""The search of :mod:`reluc.fit`: every choice of units, in the order of a lower bound
on its loss, solved in chunks on local processes or a Dask cluster, until the bound of
what is left passes the best loss found.

Units are interchangeable, so a choice is a set of distinct units (sign, set index).
A repeated unit or the zero unit is never needed: setting a unit's (a, b) to 0 is
feasible whatever its set, so a choice with a repeat or a zero unit is a special case of
any choice that replaces it by another unit. With ``k = min(width, units)`` units the
choices are the k-subsets; the network gets zero rows for the rest of its width."""

from __future__ import annotations

import itertools
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from reluc.errors import RelucError
from reluc.fit.partitions import partitions
from reluc.fit.programs import l1_program, lower_bounds, matrices, network, solve
from reluc.net import Net

LOSSES = ("l2", "l1")
CHUNK = 256  # programs per job
# a program whose float optimum is within NEAR (relative to it plus |y|) of the best is a
# near tie: float solvers err by ~1e-9 relative (measured for HiGHS), so near ties are
# all solved (a bound prunes only above that reach) and ranked by their exact optima
NEAR = 1e-7
MAX_TIES = 64  # near ties certified and compared exactly, at most


@dataclass
class Fit:
    net: Net
    loss: float
    programs: int  # convex programs solved (depends on the schedule)
    units: tuple  # the chosen (sign, set index) per unit
    exact_loss: Fraction | None = None  # the certified optimum of the best program
    complete: bool = True  # every program solved or pruned (else stopped by --max-seconds)
    total: int = 0  # the programs there are
    pruned: int = 0  # programs whose lower bound passes the best loss (never solved)
    partition: tuple = ()  # per unit: its sign and the data rows where it is active
    ties: int = 1  # programs near the best compared by their exact optima


def choices(n_sets: int, width: int) -> np.ndarray:
    """Every set of ``min(width, units)`` distinct units, as rows of unit numbers
    (unit u: set ``u // 2 + 1``, sign + for even u), in lexicographic order."""
    units = 2 * (n_sets - 1)
    k = min(width, units)
    flat = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(units), k)),
                       np.int32)
    return flat.reshape(-1, k)


def fit(x: np.ndarray, y: np.ndarray, width: int, loss: str = "l2",
        workers: int | None = None, max_seconds: float | None = None,
        progress=None, scheduler: str | None = None, prune: bool = True) -> Fit:
    """The width-``width`` one-hidden-layer network with the least ``loss`` on (x, y).
    The programs go out in chunks, in the order of their lower bounds, to ``workers``
    processes (default: every core) or the Dask scheduler at ``scheduler``; the answer
    does not depend on where (ties go to the first program in lexicographic order).
    Past ``max_seconds``: the best network found so far, not proved optimal
    (:attr:`Fit.complete` False). ``progress(done, total)`` after each chunk."""
    if loss not in LOSSES:
        raise RelucError(f"unknown loss '{loss}'; choose from {', '.join(LOSSES)}")
    deadline = None if max_seconds is None else time.time() + max_seconds
    x, y = np.asarray(x, float), np.asarray(y, float)
    sets = partitions(x)
    combos = choices(len(sets), width)
    total = len(combos)
    if prune and total:
        groups, inverse = np.unique(combos // 2 + 1, axis=0, return_inverse=True)
        bounds = lower_bounds(x, y, sets, groups, loss)[inverse.reshape(-1)]
    else:
        bounds = np.zeros(total)
    order = np.argsort(bounds, kind="stable")
    scale = NEAR * (float(np.abs(y).sum()) if loss == "l1" else float(y @ y))
    near, solved, done, pos, stopped, inflight = [], 0, 0, 0, False, set()
    with _executor(workers, scheduler, total) as (executor, slots):
        while True:
            limit = np.inf if not near else min(near)[0] * (1 + NEAR) + scale
            while pos < total and len(inflight) < slots and not stopped:
                if bounds[order[pos]] > limit:
                    pos = total  # pruned: every bound from here on is larger
                    break
                if deadline is not None and time.time() > deadline and pos:
                    stopped = True  # (the first chunk always goes: some network is found)
                    break
                idx = order[pos:pos + CHUNK]
                inflight.add(executor.submit(_chunk, (x, y, sets, loss, idx, combos[idx],
                                                      bounds[idx], limit, scale, deadline)))
                pos += len(idx)
            if not inflight:
                break
            finished, inflight = wait(inflight, return_when=FIRST_COMPLETED)
            for future in finished:
                found, count, covered, late = future.result()
                solved, done, stopped = solved + count, done + covered, stopped or late
                near += found
            if near:
                reach = min(near)[0] * (1 + NEAR) + scale
                near = [c for c in near if c[0] <= reach]
            if progress:
                progress(done if pos < total or inflight else total, total)
    if not near:
        raise RelucError("no convex program was solved (the solver failed on every one)")
    exact, theta, chosen, value, ties = _select(x, y, sets, loss, near)
    complete = not stopped
    best = min(near)[0]
    pruned = int(np.sum(bounds > best * (1 + NEAR) + scale)) if complete else 0
    partition = tuple((s, np.flatnonzero(sets[k]).tolist()) for s, k in chosen)
    return Fit(network(x.shape[1], width, theta, chosen), value, solved, chosen,
               exact, complete, total, pruned, partition, ties)


def _select(x, y, sets, loss, near):
    """The winner among the near ties (value, index, solution, units): each certified
    (the exact optimum of its program) in the order of its float value, the least exact
    optimum winning (an uncertified one ranks by its float value; ties to the first
    index); an exact 0 ends the search. (exact loss or None, solution, units, loss,
    how many were compared)."""
    from reluc.fit.certificate import certify_l1, certify_l2

    ranked = []
    for value, i, theta, chosen in sorted(near)[:MAX_TIES]:
        m, g = matrices(x, [(s, sets[k]) for s, k in chosen])
        if loss == "l2":
            exact = certify_l2(m, g, y, theta)
        else:
            _, theta, u, mu = l1_program(m, g, y, duals=True)
            exact = certify_l1(m, g, y, theta, u, mu)
        if exact is None:
            ranked.append((Fraction(value), i, None, theta, chosen, value))
        else:
            theta = np.array([float(v) for v in exact[0]])
            ranked.append((exact[1], i, exact[1], theta, chosen, float(exact[1])))
            if exact[1] == 0:
                break
    _, _, exact, theta, chosen, value = min(ranked, key=lambda r: r[:2])
    return exact, theta, chosen, value, len(ranked)


def _chunk(job):
    """One chunk of choices, in the order of their bounds: the near ties found (value,
    index, solution, units), how many programs were solved, how many of the chunk are
    settled (solved, or pruned by the bound), and whether the deadline cut it short."""
    x, y, sets, loss, idx, combos, bounds, limit, scale, deadline = job
    near, solved = [], 0
    for i, combo, bound in zip(idx, combos, bounds):
        if near:
            limit = min(limit, min(near)[0] * (1 + NEAR) + scale)
        if bound > limit:
            break
        if deadline is not None and time.time() > deadline and near:
            return near, solved, solved, True
        chosen = tuple((1 if u % 2 == 0 else -1, int(u) // 2 + 1) for u in combo)
        value, theta = solve(x, y, [(s, sets[k]) for s, k in chosen], loss)
        solved += 1
        if theta is not None and value <= limit:
            near.append((value, int(i), theta, chosen))
    if near:
        reach = min(near)[0] * (1 + NEAR) + scale
        near = [c for c in near if c[0] <= reach]
    return near, solved, len(idx), False


class _Inline:
    """An executor that runs each job as it is submitted (one worker)."""

    def submit(self, fn, *args):
        future = Future()
        future.set_result(fn(*args))
        return future


class _executor:
    """(executor, jobs in flight) for the run: inline for one worker, local processes,
    or the Dask cluster at ``scheduler`` (dask.distributed, the ``dist`` extra)."""

    def __init__(self, workers, scheduler, total):
        self.workers, self.scheduler, self.total, self.close = workers, scheduler, total, None

    def __enter__(self):
        if self.scheduler:
            try:
                from distributed import Client
            except ImportError:
                raise RelucError("--scheduler needs dask.distributed: pip install "
                                 "'reluc[dist]'") from None
            try:
                client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as e:
                raise RelucError(f"cannot reach the Dask scheduler at {self.scheduler}: "
                                 f"{e}") from None
            self.close = client.close
            threads = sum(client.nthreads().values()) or 1
            return client.get_executor(pure=False), 2 * threads
        workers = self.workers or os.cpu_count() or 1
        if workers == 1 or self.total <= CHUNK:
            return _Inline(), 1
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # forkserver, not fork: a fork of a process with threads (a Dask client's loop,
        # say) can deadlock; the server imports the search once, so workers start fast
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["reluc.fit.search"])
        pool = ProcessPoolExecutor(workers, mp_context=context)
        self.close = pool.shutdown
        return pool, 2 * workers

    def __exit__(self, *exc):
        if self.close:
            self.close()
