"""The certificate of ``reluc fit`` (:mod:`reluc.fit`): the best convex program's
optimum, solved and checked in rational arithmetic (the KKT conditions), so that the
reported loss is exact."""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def certify_l2(m, g, y, theta, tol: float = 1e-7):
    """The exact optimum of min |M theta - y|^2 subject to G theta <= 0 near the float
    solution ``theta``, with its proof, or None: on the constraints tight at ``theta``
    (the active set A) the least-squares solution theta* is solved in rationals; it is
    optimal if it is feasible (G theta* <= 0, exactly) and multipliers lambda >= 0 on A
    with 2 M^T (M theta* - y) + G_A^T lambda = 0 exist (found exactly on the support of a
    nonnegative least-squares solution): the KKT conditions, sufficient for a convex
    program. Returns (theta*, loss) as Fractions."""
    from scipy.optimize import nnls

    M = [[Fraction(float(v)) for v in row] for row in m]
    G = [[Fraction(float(v)) for v in row] for row in g]
    Y = [Fraction(float(v)) for v in y]
    v = m.shape[1]
    active = [r for r in range(len(G)) if g[r] @ theta >= -tol * (1 + np.abs(g[r]) @
                                                                    np.abs(theta))]
    basis = _null_space([G[r] for r in active], v)  # theta = N z
    if not basis:
        theta_x = [Fraction(0)] * v
    else:
        mn = [[sum(row[i] * col[i] for i in range(v)) for col in basis] for row in M]
        k = len(basis)
        normal = [[sum(mn[j][a] * mn[j][b] for j in range(len(mn))) for b in range(k)] +
                  [sum(mn[j][a] * Y[j] for j in range(len(mn)))] for a in range(k)]
        z = _solve(normal, k)
        if z is None:
            return None
        theta_x = [sum(z[c] * basis[c][i] for c in range(k)) for i in range(v)]
    if any(sum(a * t for a, t in zip(row, theta_x)) > 0 for row in G):
        return None  # not feasible
    resid = [sum(a * t for a, t in zip(row, theta_x)) - yj for row, yj in zip(M, Y)]
    grad = [2 * sum(M[j][i] * resid[j] for j in range(len(M))) for i in range(v)]
    if any(grad):  # multipliers: G_A^T lambda = -grad, lambda >= 0
        cols = [G[r] for r in active]
        guess, _ = nnls(np.array([[float(c[i]) for c in cols] for i in range(v)]),
                        -np.array([float(q) for q in grad])) if cols else (np.zeros(0), 0)
        if _multipliers(cols, [-q for q in grad], guess) is None:
            return None
    return theta_x, sum(r * r for r in resid)


def certify_l1(m, g, y, theta, u, mu, tol: float = 1e-7):
    """The exact optimum of min sum_j |M_j theta - y_j| subject to G theta <= 0 near the
    float solution ``theta`` with float duals (u, mu), with its proof, or None: an exact
    feasible theta* (:func:`vertex`) and an exact feasible point of the dual whose
    objective equals theta*'s loss (:func:`dual_bound`; weak duality makes that loss a
    lower bound on every feasible theta). Returns (theta*, loss) as Fractions."""
    M = [[Fraction(float(v)) for v in row] for row in m]
    G = [[Fraction(float(v)) for v in row] for row in g]
    Y = [Fraction(float(v)) for v in y]
    theta_x = vertex(M, G, Y, m, g, y, theta, tol)
    if theta_x is None:
        return None
    resid = [_dot(row, theta_x) - yj for row, yj in zip(M, Y)]
    loss = sum(abs(r) for r in resid)
    dual = _dual(M, G, resid, [_dot(row, theta_x) == 0 for row in G], u, mu)
    if dual is None or dual_bound(M, G, Y, *dual) != loss:
        return None
    return theta_x, loss


def vertex(M, G, Y, m, g, y, theta, tol):
    """theta* in rationals from the points ``theta`` fits and the constraints tight at
    it (to ``tol``; the LP's solution is a vertex, so these fix it), if feasible
    (G theta* <= 0 exactly); else None."""
    scale = 1 + np.abs(m) @ np.abs(theta) + np.abs(y)
    fitted = [j for j in range(len(M)) if abs(m[j] @ theta - y[j]) <= tol * scale[j]]
    tight = [r for r in range(len(G)) if g[r] @ theta >= -tol * (1 + np.abs(g[r]) @
                                                                   np.abs(theta))]
    theta_x = _solve([M[j] + [Y[j]] for j in fitted] + [G[r] + [Fraction(0)] for r in tight],
                     len(M[0]))
    if theta_x is None or any(_dot(row, theta_x) > 0 for row in G):
        return None
    return theta_x


def _dual(M, G, resid, tight, u, mu):
    """Exact (u, mu) from the float duals by complementary slackness: u_j = sign(r_j)
    where the point is missed, mu = 0 off the tight constraints; duals at a bound in the
    float solution (|u_j| = 1, mu_r = 0) fixed there; the rest solved exactly from
    M^T u + G^T mu = 0. Not checked here (:func:`dual_bound` does)."""
    v = len(M[0])
    uu = [Fraction((r > 0) - (r < 0)) for r in resid]
    free_u = [j for j in range(len(M)) if resid[j] == 0 and abs(u[j]) < 1 - 1e-9]
    for j in range(len(M)):
        if resid[j] == 0 and j not in free_u:
            uu[j] = Fraction(1 if u[j] > 0 else -1)
    free_mu = [r for r in range(len(G)) if tight[r] and mu[r] > 1e-12]
    fixed = [sum(M[j][i] * uu[j] for j in range(len(M)) if j not in free_u) for i in range(v)]
    z = _solve([[M[j][i] for j in free_u] + [G[r][i] for r in free_mu] + [-fixed[i]]
                for i in range(v)], len(free_u) + len(free_mu))
    if z is None:
        return None
    for j, val in zip(free_u, z):
        uu[j] = val
    mm = [Fraction(0)] * len(G)
    for r, val in zip(free_mu, z[len(free_u):]):
        mm[r] = val
    return uu, mm


def dual_bound(M, G, Y, u, mu):
    """-u.y if (u, mu) is feasible for the dual of the l1 program (|u_j| <= 1,
    mu >= 0, M^T u + G^T mu = 0, all exactly), else None. For every feasible theta,
    sum |M theta - y| >= u.(M theta - y) = -mu.(G theta) - u.y >= -u.y."""
    if any(abs(q) > 1 for q in u) or any(q < 0 for q in mu):
        return None
    if any(sum(M[j][i] * u[j] for j in range(len(M))) + sum(G[r][i] * mu[r]
           for r in range(len(G))) != 0 for i in range(len(M[0]))):
        return None
    return -_dot(u, Y)


def _dot(a, b):
    return sum(p * q for p, q in zip(a, b))


def _multipliers(cols: list[list[Fraction]], rhs: list[Fraction], guess: np.ndarray):
    """Exact ``lambda >= 0`` with ``sum_r lambda_r cols[r] = rhs``, on the support of the
    float nonnegative solution ``guess``; None where there is none there."""
    support = [r for r in range(len(cols)) if guess[r] > 0]
    exact = _solve([[cols[r][i] for r in support] + [rhs[i]] for i in range(len(rhs))],
                   len(support))
    if exact is None or any(q < 0 for q in exact):
        return None
    return exact


def _rref(rows: list[list[Fraction]], cols: int) -> tuple[list[list[Fraction]], list[int]]:
    """Reduced row echelon form (over the first ``cols`` columns) and the pivots."""
    rows = [list(r) for r in rows]
    pivots, top = [], 0
    for c in range(cols):
        p = next((r for r in range(top, len(rows)) if rows[r][c] != 0), None)
        if p is None:
            continue
        rows[top], rows[p] = rows[p], rows[top]
        lead = rows[top][c]
        rows[top] = [v / lead for v in rows[top]]
        for r in range(len(rows)):
            if r != top and rows[r][c] != 0:
                f = rows[r][c]
                rows[r] = [a - f * b for a, b in zip(rows[r], rows[top])]
        pivots.append(c)
        top += 1
    return rows, pivots


def _solve(aug: list[list[Fraction]], k: int) -> list[Fraction] | None:
    """A solution of the augmented system (k unknowns, free ones 0), or None."""
    rows, pivots = _rref(aug, k)
    if any(all(v == 0 for v in r[:k]) and r[k] != 0 for r in rows):
        return None
    z = [Fraction(0)] * k
    for r, c in zip(rows, pivots):
        z[c] = r[k]
    return z


def _null_space(rows: list[list[Fraction]], v: int) -> list[list[Fraction]]:
    """A basis of {theta : rows theta = 0}, exactly."""
    if not rows:
        return [[Fraction(int(i == j)) for i in range(v)] for j in range(v)]
    red, pivots = _rref(rows, v)
    out = []
    for f in (c for c in range(v) if c not in pivots):
        vec = [Fraction(0)] * v
        vec[f] = Fraction(1)
        for r, c in zip(red, pivots):
            vec[c] = -r[f]
        out.append(vec)
    return out
