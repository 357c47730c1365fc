"""Known bounds on the number of activation regions of a ReLU network's *shape* (input
dimension ``n_0`` and hidden widths ``n_1 .. n_L``), for ``reluc stats``:

- Serra, Tjandraatmadja, Ramalingam (ICML 2018), an upper bound for every network of the
  shape: ``sum over J of prod_l C(n_l, j_l)``, ``J`` the vectors with ``0 <= j_l <=
  min(n_0, n_1 - j_1, ..., n_{l-1} - j_{l-1}, n_l)``. Summed by dynamic programming over
  the running minimum ``d = min(n_0, n_k - j_k)`` (at most ``n_0 + 1`` states), so it
  costs about ``L n_0 min(n_0, width)`` steps; for one input it is ``prod (n_l + 1)``.
- Montufar, Pascanu, Cho, Bengio (NeurIPS 2014), a lower bound on the *largest* count
  some network of the shape reaches: ``prod_{l<L} floor(n_l / n_0)^{n_0} * sum_{j <=
  n_0} C(n_L, j)`` (at least 1).

Both are exact integers; past :data:`MAX_STEPS` (wide inputs: sort n=1024) they are not
computed (None).
"""

from __future__ import annotations

from math import comb, log10

MAX_STEPS = 200_000


def serra_upper(n0: int, widths: list[int] | tuple[int, ...]) -> int | None:
    """Serra et al.'s upper bound on the activation regions (None: too costly to sum)."""
    if len(widths) * (n0 + 1) * (min(n0, max(widths, default=0)) + 1) > MAX_STEPS:
        return None
    states = {n0: 1}  # running minimum d -> sum of the products so far
    for n in widths:
        nxt: dict[int, int] = {}
        for d, acc in states.items():
            for j in range(min(d, n) + 1):
                key = min(d, n - j)
                nxt[key] = nxt.get(key, 0) + acc * comb(n, j)
        states = nxt
    return sum(states.values())


def montufar_lower(n0: int, widths: list[int] | tuple[int, ...]) -> int | None:
    """Montufar et al.'s lower bound on the most activation regions a network of this
    shape can have (1 for a network without hidden layers; None: too costly)."""
    if not widths:
        return 1
    if (len(widths) + n0) * (n0 + 1) > MAX_STEPS:
        return None
    prod = 1
    for n in widths[:-1]:
        prod *= (n // n0) ** n0
    return max(1, prod * sum(comb(widths[-1], j) for j in range(n0 + 1)))


def show_big(x: int | None) -> str | int | None:
    """An exact integer as itself when small, else as ``1.23e+4567`` text (for JSON and
    for people: the integer of a wide network's bound has thousands of digits)."""
    if x is None or x < 10**15:
        return x
    shift = max(0, x.bit_length() - 64)
    top = x >> shift  # x = top * 2^shift, top < 2^64: a float within 2^-52 of it
    e = log10(top) + shift * log10(2)
    exp = int(e)
    return f"{10 ** (e - exp):.2f}e+{exp}"
