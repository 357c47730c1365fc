"""verify's test inputs (reluc.analysis.samples): on any box, the rows lie in the box and
the corner and grid batches are what their names say, coordinate by coordinate, however
the box's bounds are shared between coordinates (the same object, equal objects, or
different values: the bounds' arithmetic is done once per distinct pair)."""

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reluc.analysis.samples import sample_batches
from reluc.domain import Box

POOL = [Fraction(-1500), Fraction(-3), Fraction(-3, 7), Fraction(0), Fraction(5, 2), Fraction(1500),
        Fraction(2**40 + 1)]


@st.composite
def boxes(draw):
    n = draw(st.integers(1, 12))
    lo, hi = [], []
    shared = {}
    for _ in range(n):
        a, b = sorted(draw(st.lists(st.sampled_from(POOL), min_size=2, max_size=2)))
        if b == a:
            b = a + 1
        # the same object again, or an equal one made anew
        fresh = draw(st.booleans())
        a = Fraction(a.numerator, a.denominator) if fresh else shared.setdefault(a, a)
        lo.append(None if draw(st.integers(0, 4)) == 0 else a)
        hi.append(None if draw(st.integers(0, 4)) == 0 else b)
    return Box(tuple(lo), tuple(hi))


@settings(max_examples=60, deadline=None)
@given(boxes(), st.integers(0, 2**32))
def test_sampled_rows_lie_in_the_box_and_name_what_they_are(box, seed):
    batches = dict(sample_batches(box, 40, np.random.default_rng(seed)))
    for name, batch in batches.items():
        for row in batch.rows():
            for v, a, b in zip(row, box.lo, box.hi):
                assert (a is None or v >= a) and (b is None or v <= b), name
    # an open end 2^10 out, or 2^11 past the other end where that lies beyond 2^10
    lo = [a if a is not None else b - 2**11 if b is not None and b <= -(2**10) else
          Fraction(-(2**10)) for a, b in zip(box.lo, box.hi)]
    hi = [b if b is not None else a + 2**11 if a is not None and a >= 2**10 else
          Fraction(2**10) for a, b in zip(box.lo, box.hi)]
    mid = [(a + b) / 2 for a, b in zip(lo, hi)]
    assert batches["domain corners"].rows() == [lo, hi, mid]
    for row in batches["random binary fractions"].rows():  # lo + (hi - lo) k / 2^20
        for v, a, b in zip(row, lo, hi):
            k = (v - a) / ((b - a) / 2**20)
            assert k.denominator == 1 and 0 <= k <= 2**20
