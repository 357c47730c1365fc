"""Constructor families; importing this package registers every constructor.

One module per family of constructions:

- :mod:`.elementary`: identity, relu, abs
- :mod:`.comparators`: minmax, max, min, sort, topk, kth, median
  (schedules in :mod:`.schedules`)
- :mod:`.pwl`: sawtooth, pwl
- :mod:`.approx`: square, mul (approximations with exponentially small error)
- :mod:`.arora`: maxaffine, hard, hardcomp (Arora, Basu, Mianjy, Mukherjee 2018)
- :mod:`.unfolding`: exp, sincos (Huybrechs's fold-and-unfold recursion)
"""

from reluc.constructors import (  # noqa: F401
    approx,
    arora,
    comparators,
    elementary,
    pwl,
    unfolding,
)
