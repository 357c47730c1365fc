"""Constructor families; importing this package registers every constructor.

One module per family of constructions:

- :mod:`.elementary`: identity, relu, abs
- :mod:`.comparators`: minmax, max, min, sort, topk, kth, median
  (a package: schedules, layout, proofs)
- :mod:`.pwl`: sawtooth, pwl
- :mod:`.approx`: square, mul (approximations with exponentially small error)
- :mod:`.arora`: maxaffine, hard, hardcomp, zonotope (Arora, Basu, Mianjy, Mukherjee 2018)
- :mod:`.unfolding`: exp, sincos, monomials (Huybrechs's fold-and-unfold recursion)
- :mod:`.lattice`: lattice, pwl2d (continuous PWL functions of several inputs)
- :mod:`.norms`: norm2, norm, disk (folding the plane across lines)
"""

from reluc.constructors import (  # noqa: F401
    approx,
    arora,
    comparators,
    elementary,
    lattice,
    norms,
    pwl,
    unfolding,
)
