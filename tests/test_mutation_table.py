"""The mutation table of ``make mutants`` stays in step with the code: every deliberate
bug applies exactly once, compiles, and changes its file (the runs themselves take
minutes and are not part of the suite)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "mutation"))

# inside a mutant's run the tree holds the mutation: the table is checked on a clean tree
pytestmark = pytest.mark.skipif("RELUC_MUTANT" in os.environ, reason="running a mutant")

from mutants import MUTANTS  # noqa: E402
from run import ROOT, apply  # noqa: E402


def test_mutant_ids_are_unique():
    ids = [m.id for m in MUTANTS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("m", MUTANTS, ids=[m.id for m in MUTANTS])
def test_every_mutant_applies_once_and_compiles(m):
    with open(os.path.join(ROOT, m.file), encoding="utf-8") as f:
        original = f.read()
    assert apply(m, ROOT) != original
    for t in m.tests:
        assert os.path.isfile(os.path.join(ROOT, t)), t
