"""Constructor families; importing this package registers every constructor.

One module per family of constructions:

- :mod:`.elementary`: identity, relu, abs
- :mod:`.comparators`: minmax, max, min, sort
- :mod:`.pwl`: sawtooth, pwl
"""

from reluc.constructors import comparators, elementary, pwl  # noqa: F401
