"""Every check verify makes, and every bound reluc states, fed a wrong input and seen to
fail; and every bound shown to cover a measured error without being loose beyond a
stated factor.

A proof is tested on networks that differ from a correct one in one place (a comparator
removed or reversed, a bias changed, an output row swapped, a weight doubled) and on
claims that are wrong (a bound tightened below the true error); the checks are read off
verify's report one by one, so a failure of one check cannot hide a check that passes
when it should not.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

from reluc import exact, formats, registry
from reluc import pieces as pieces_mod
from reluc.analysis.evaluate import Runner
from reluc.analysis.rounding import rounding_bound
from reluc.analysis.verify import verify_file
from reluc.compiler import compile_spec, perturbation_bound
from reluc.constructors.comparators import comparator_net
from reluc import formulas
from reluc.constructors.comparators.schedules import binary_inputs, sort_stages
from reluc.net import Layer, Net
from reluc.registry import Box


def write_as(path, spec: str, net: Net, dtype: str = "float64") -> str:
    """A file holding ``net`` that says it is ``spec`` (reluc's metadata for the spec)."""
    compiled = compile_spec(spec, dtype)
    formats.write(dataclasses.replace(compiled, source=net), str(path), "onnx")
    return str(path)


def checks(path, **kwargs) -> dict:
    report = verify_file(str(path), **kwargs)
    assert report.verdict != "error", report.error
    return {c.name: c for c in report.checks} | {"report": report}


def reproduces(report) -> None:
    """The counterexample is real: the file's own weights, exactly, miss the reference."""
    cex = report.counterexample
    net = formats.read(report.file)[0]
    x = [Fraction(v) for v in cex["input"]]
    got = exact.evaluate(net, [x])[0]
    assert [Fraction(v) for v in cex["actual"]] == got
    errs = [abs(Fraction(a) - Fraction(e)) for a, e in zip(cex["actual"], cex["expected"])]
    assert max(errs) > 0 and errs[cex["output_index"]] == max(errs) == Fraction(cex["error"])


def sorts_every_binary_input(stages, n) -> bool:
    """An independent 0-1 check (not verify's): the comparators applied one by one."""
    for row in binary_inputs(n):
        v = list(row)
        for lo, hi in stages:
            for i, j in zip(lo, hi):
                v[i], v[j] = min(v[i], v[j]), max(v[i], v[j])
        if v != sorted(v):
            return False
    return True


# -- comparator networks: exact check, decompilation, 0-1 principle ---------------------


def _without(stages, s, c):
    lo, hi = stages[s]
    keep = np.arange(lo.size) != c
    out = list(stages)
    out[s] = (lo[keep], hi[keep])
    return [st for st in out if st[0].size]


def test_every_missing_comparator_fails_both_the_exact_check_and_the_proof(tmp_path):
    n = 8
    stages = sort_stages(n, "best")
    cases = [(s, c) for s in range(len(stages)) for c in range(stages[s][0].size)]
    assert len(cases) == 19  # the best 8-sorter: every comparator is needed
    for s, c in cases:
        broken = _without(stages, s, c)
        assert not sorts_every_binary_input(broken, n)
        path = write_as(tmp_path / f"s{s}c{c}.onnx", "sort n=8", comparator_net(n, broken))
        ch = checks(path, complete=True)
        assert ch["complete"].status == "fail", (s, c, ch["complete"].detail)
        assert "0-1 principle" in ch["complete"].detail
        assert ch["exact"].status == "fail", (s, c)
        reproduces(ch["report"])


def test_the_zero_one_check_tries_every_binary_input(tmp_path):
    """(0,2), (1,2) on three wires misses (0,1): its only failing 0-1 input is (1, 0, 1),
    the last of the 2^3 in the order they are generated (top wire 1)."""
    stages = [(np.array([0]), np.array([2])), (np.array([1]), np.array([2]))]
    path = write_as(tmp_path / "s.onnx", "sort n=3", comparator_net(3, stages))
    ch = checks(path, complete=True)
    assert ch["complete"].status == "fail" and "0-1 principle on 8 inputs" in \
        ch["complete"].detail


def test_a_reversed_comparator_fails(tmp_path):
    stages = sort_stages(6, "best")
    lo, hi = stages[2]
    reversed_ = stages[:2] + [(np.r_[hi[:1], lo[1:]], np.r_[lo[:1], hi[1:]])] + stages[3:]
    path = write_as(tmp_path / "r.onnx", "sort n=6", comparator_net(6, reversed_))
    ch = checks(path, complete=True)
    assert ch["complete"].status == "fail" and ch["exact"].status == "fail"
    reproduces(ch["report"])


@pytest.mark.parametrize("n,method", [(21, "oddeven"), (64, "bitonic"), (100, "oddeven"),
                                      (100, "bitonic")])
def test_large_sorters_are_proved_by_their_merge_structure(tmp_path, n, method):
    path = write_as(tmp_path / "s.onnx", f"sort n={n} method={method}",
                    comparator_net(n, sort_stages(n, method)))
    ch = checks(path, complete=True)
    assert ch["complete"].status == "pass" and "by merges" in ch["complete"].detail
    assert f"instead of 2^{n}" in ch["complete"].detail


def test_every_missing_comparator_of_a_64_sorter_is_found_with_a_counterexample(tmp_path):
    from reluc.constructors.comparators.proofs import prove_sort

    n = 64
    stages = sort_stages(n, "oddeven")
    rng = np.random.default_rng(0)
    # every comparator of the last two stages (the top merge) and 30 others at random
    late = [(s, c) for s in (len(stages) - 2, len(stages) - 1)
            for c in range(stages[s][0].size)]
    early = [(s, int(rng.integers(stages[s][0].size)))
             for s in rng.integers(0, len(stages) - 2, size=30)]
    for s, c in late + early:
        broken = _without(stages, s, c)
        proof = prove_sort(comparator_net(n, broken), {"n": n})
        assert proof.status == "failed", (s, c, proof.method)
        x = np.array(proof.counterexample)[None, :]
        assert set(x[0].tolist()) <= {0, 1}
        from reluc.constructors.comparators.schedules import run_stages

        assert np.any(np.diff(run_stages(x, broken), axis=1) < 0)  # really not sorted
    path = write_as(tmp_path / "b.onnx", f"sort n={n} method=oddeven",
                    comparator_net(n, _without(stages, *late[0])))
    ch = checks(path, complete=True)
    assert ch["complete"].status == "fail" and "by merges" in ch["complete"].detail
    reproduces(ch["report"])


def test_a_sorter_whose_groups_are_not_halves_is_still_proved():
    # a comparator across the halves before anything else: still a sorter, but the
    # groups the first stages leave apart are no longer the halves
    from reluc.constructors.comparators.merges import merge_proof
    from reluc.constructors.comparators.proofs import prove_sort

    n = 32
    stages = [(np.array([0]), np.array([31]))] + sort_stages(n, "oddeven")
    proof = prove_sort(comparator_net(n, stages), {"n": n})
    assert proof.status == "proved", proof.method
    assert merge_proof(n, stages) > merge_proof(n, sort_stages(n, "oddeven"))


@pytest.mark.parametrize("seed", range(40))
def test_the_merge_proof_agrees_with_all_zero_one_inputs(monkeypatch, seed):
    # small groups forced (BRUTE = 2), on networks near a sorter: a comparator removed,
    # reversed or added; every verdict checked against all 2^n 0-1 inputs
    import reluc.constructors.comparators.merges as merges
    from reluc.constructors.comparators.schedules import run_stages

    monkeypatch.setattr(merges, "BRUTE", 2)
    rng = np.random.default_rng(seed)
    n = int(rng.choice([9, 12, 16]))
    stages = sort_stages(n, str(rng.choice(["oddeven", "bitonic"])))
    s = int(rng.integers(len(stages)))
    c = int(rng.integers(stages[s][0].size))
    lo, hi = stages[s]
    kind = seed % 4
    if kind == 1:
        stages = _without(stages, s, c)
    elif kind == 2:
        lo, hi = lo.copy(), hi.copy()
        lo[c], hi[c] = hi[c], lo[c]
        stages = stages[:s] + [(lo, hi)] + stages[s + 1:]
    elif kind == 3:
        a, b = rng.choice(n, size=2, replace=False)
        stages = stages[:s] + [(np.array([a]), np.array([b]))] + stages[s:]
    x = binary_inputs(n)
    sorts = not np.any(np.diff(run_stages(x, stages), axis=1) < 0)
    try:
        merges.merge_proof(n, stages)
        assert sorts
    except merges.Unsorted as e:
        assert np.any(np.diff(run_stages(np.array([e.args[0]]), stages), axis=1) < 0)
    except merges.NotSplit:
        pass


@pytest.mark.parametrize("spec", ["topk n=32 k=2", "kth n=40 k=7", "median n=33",
                                  "median n=64 domain=0,1"])
def test_large_selections_are_proved_as_pruned_sorters(tmp_path, spec):
    from reluc.compiler import compile_spec

    path = tmp_path / "t.onnx"
    formats.write(compile_spec(spec, "float64"), str(path), "onnx")
    ch = checks(path, complete=True)
    assert ch["complete"].status == "pass", ch["complete"].detail
    assert "only neurons removed that reach no output or are always 0" in \
        ch["complete"].detail and "by merges" in ch["complete"].detail


def test_a_pruning_that_removes_a_live_neuron_or_changes_a_weight_is_refused():
    from reluc.calculus import compose, select
    from reluc.constructors.comparators.proofs import _is_pruning

    n = 24
    sorter = comparator_net(n, sort_stages(n, "oddeven"))
    whole = Net(list(sorter.layers[:-1]) +
                list(compose(Net([sorter.layers[-1]]), select(n, [n - 1])).layers))
    pruned = Net(_pruned_layers(whole))
    assert pruned.layers[1].weight.shape[0] < whole.layers[1].weight.shape[0]
    assert _is_pruning(pruned, whole) is None
    # a live neuron of the first hidden layer dropped (its column too): the max is lost
    layers = list(pruned.layers)
    l0, l1 = layers[0], layers[1]
    col = int(sp.csr_array(l1.weight).tocoo().col[0])
    keep = np.arange(l0.weight.shape[0]) != col
    layers[0] = Layer(sp.csr_array(l0.weight)[keep], l0.bias[keep])
    layers[1] = Layer(sp.csr_array(l1.weight)[:, keep], l1.bias)
    assert "not the kept part" in _is_pruning(Net(layers), whole)
    changed = list(pruned.layers)
    w = sp.lil_array(changed[2].weight)
    w[0, int(sp.csr_array(changed[2].weight).indices[0])] += 1
    changed[2] = Layer(w.tocsr(), changed[2].bias)
    assert "layer 3 is not the kept part" in _is_pruning(Net(changed), whole)


def test_a_pruning_rule_that_drops_a_live_neuron_is_caught_on_the_file(monkeypatch):
    # the kept rows come from the pruning pass itself; were it to drop a neuron that
    # still feeds the output, the file would match its (wrong) rows, and only the check
    # that every lost input is always 0 stands between it and a false proof
    from reluc import passes
    from reluc.calculus import compose, select
    from reluc.constructors.comparators.proofs import _is_pruning

    n = 24
    sorter = comparator_net(n, sort_stages(n, "oddeven"))
    whole = Net(list(sorter.layers[:-1]) +
                list(compose(Net([sorter.layers[-1]]), select(n, [n - 1])).layers))
    rows = passes.kept_rows(whole)
    rows[0] = rows[0][1:]  # a neuron the output needs
    cols = [np.arange(n)] + rows[:-1]
    layers = [Layer(sp.csr_array(layer.weight)[r][:, c], layer.bias[r])
              for layer, r, c in zip(whole.layers, rows, cols)]
    monkeypatch.setattr(passes, "kept_rows", lambda source: rows)
    assert "layer 2 loses an input that is not always 0" in _is_pruning(Net(layers), whole)


def _pruned_layers(whole):
    from reluc import passes

    return passes.prune_dead(whole).layers


def test_beyond_the_merge_tests_only_batchers_own_schedules_are_recognised(monkeypatch):
    import reluc.constructors.comparators.proofs as proofs

    monkeypatch.setattr(proofs, "MAX_MERGE_WORK", 1000)  # as if n were far larger
    n = 100
    for method, name in [("oddeven", "odd-even merge sort"), ("bitonic", "bitonic sorter")]:
        proof = proofs.prove_sort(comparator_net(n, sort_stages(n, method)), {"n": n})
        assert proof.status == "proved" and f"recognised as exactly Batcher's {name} of " \
            "128 wires pruned to 100" in proof.method
    stages = sort_stages(n, "oddeven")
    lo, hi = stages[-1]
    reversed_ = stages[:-1] + [(np.r_[hi[:1], lo[1:]], np.r_[lo[:1], hi[1:]])]
    for changed in (_without(stages, len(stages) - 1, 0),  # not a sorter
                    reversed_,  # not a sorter, with the same stage sizes
                    [(np.array([0]), np.array([99]))] + stages):  # a sorter, not Batcher's
        proof = proofs.prove_sort(comparator_net(n, changed), {"n": n})
        assert proof.status == "unsupported" and "would run" in proof.method


def test_the_merge_proof_in_small_chunks_agrees(monkeypatch):
    import reluc.constructors.comparators.merges as merges

    whole = merges.merge_proof(100, sort_stages(100, "bitonic"))
    monkeypatch.setattr(merges, "CHUNK_BYTES", 64)  # a few vectors a chunk
    assert merges.merge_proof(100, sort_stages(100, "bitonic")) == whole
    broken = _without(sort_stages(100, "bitonic"), -1, 3)
    with pytest.raises(merges.Unsorted):
        merges.merge_proof(100, broken)


def _edited(net: Net, k: int, weight=None, bias=None) -> Net:
    layers = list(net.layers)
    w, b = layers[k].weight.copy(), layers[k].bias.copy()
    if weight is not None:
        w = weight(sp.lil_array(w)).tocsr()
    if bias is not None:
        bias(b)
    layers[k] = Layer(w, b)
    return Net(layers)


def _swap_rows(w, i=0, j=1):
    w[[i, j]] = w[[j, i]]
    return w


def _double_first(w):
    r, c = sp.csr_array(w).nonzero()
    w[r[0], c[0]] = 2 * w[r[0], c[0]]
    return w


def _add_one(b, i=0):
    b[i] += 1


def _flip_sign(b):
    b[np.flatnonzero(b)[0]] *= -1


@pytest.mark.parametrize("spec, k, weight, bias", [
    ("sort n=8", -1, _swap_rows, None),  # the output layer: two outputs swapped
    ("sort n=8", 2, None, _add_one),  # a bias in a merged layer
    ("sort n=8", -1, None, _add_one),  # the output bias
    ("sort n=8", 0, _double_first, None),  # a weight 1 -> 2, same sparsity
    ("sort n=8 domain=0,4", 0, None, _add_one),  # the bounded shift
    ("sort n=5 domain=2,6", 0, None, _flip_sign),  # the shift's sign
    ("max n=4 domain=-8,-1", -1, None, _flip_sign),
    ("max n=6", 1, None, _add_one),
    ("min n=5", 0, _double_first, None),
    ("topk n=6 k=2", 3, None, _add_one),
    ("kth n=5 k=2", 1, None, _add_one),
    ("median n=5", -1, None, _add_one),
])
def test_a_comparator_network_changed_in_one_place_is_never_proved(tmp_path, spec, k, weight,
                                                                   bias):
    net = compile_spec(spec, "float64").net
    path = write_as(tmp_path / "n.onnx", spec, _edited(net, k, weight, bias))
    ch = checks(path, complete=True)
    assert ch["exact"].status == "fail"
    assert ch["complete"].status != "pass", ch["complete"].detail
    reproduces(ch["report"])
    assert checks(write_as(tmp_path / "ok.onnx", spec, net), complete=True)["complete"] \
        .status == "pass"  # the unchanged network is proved


# -- one input: the exact piece proof ---------------------------------------------------


def _affine(a: float, b: float) -> Net:
    return Net([Layer(np.array([[a]]), np.array([b]))])


@pytest.mark.parametrize("spec, net, where", [
    # the identity on [0, 1] against the zero map: they agree at 0 only
    ("pwl points=0:0,1:1", _affine(0.0, 0.0), 1),
    # the tent on [0, 2] against zero: they agree at both ends, not at the inner kink
    ("pwl points=0:0,1:1,2:0", _affine(0.0, 0.0), 1),
    # |x| on R against relu(x) + 2 relu(-x): they agree on [0, inf) only
    ("abs n=1", Net([Layer(np.array([[1.0], [-1.0]]), np.zeros(2)),
                     Layer(np.array([[1.0, 2.0]]), np.zeros(1))]), None),
    # sawtooth with one bias's sign flipped: relu(u + 1/2) for relu(u - 1/2)
    ("sawtooth k=3", _edited(compile_spec("sawtooth k=3", "float64").net, 1, None, _flip_sign),
     None),
    # the tent off by 1/4 on [0, 2]
    ("pwl points=0:0,1:1,2:0", Net([Layer(np.array([[1.0], [1.0]]), np.array([0.0, -1.0])),
                                    Layer(np.array([[1.0, -2.0]]), np.array([0.25]))]), 0),
])
def test_the_piece_proof_fails_where_network_and_reference_differ(tmp_path, spec, net, where):
    ch = checks(write_as(tmp_path / "n.onnx", spec, net), complete=True)
    assert ch["complete"].status == "fail" and ch["complete"].data["result"] == "failed"
    cex = ch["report"].counterexample
    if where is not None and ch["exact"].status == "pass":
        assert Fraction(cex["input"][0]) == where


def test_a_one_input_network_with_negative_outputs_is_proved(tmp_path):
    """Pieces must not pass the output layer through ReLU."""
    spec = "pwl points=0:-1,1:1,2:-3 domain=-1,3"
    path = write_as(tmp_path / "n.onnx", spec, compile_spec(spec, "float64").net)
    ch = checks(path, complete=True)
    assert ch["complete"].status == "pass", ch["complete"].detail
    assert "2 exact linear pieces on [-1, 3]" in ch["complete"].detail


SMOOTH = ["square L=3", "exp L=3", "sincos L=3", "monomials L=3 d=4", "sincos L=2"]


@pytest.mark.parametrize("spec", SMOOTH)
def test_every_sup_error_rule_covers_its_piece_and_is_attained(spec):
    """The rule's value on each exact piece is at least the error measured at 400
    points of the piece (and at its critical points), and at most 1% above it: the
    rule finds the maximum, not just some bound."""
    c = compile_spec(spec, "float64")
    ctor = registry.get(c.spec.name)
    ref = ctor.reference
    box = ctor.domain(c.spec.values)
    for p in pieces_mod.pieces(c.net, box.lo[0], box.hi[0]):
        rule = ctor.sup_error(c.spec.values, p.t0, p.t1, p.slope, p.intercept)
        ts = [p.t0 + (p.t1 - p.t0) * Fraction(j, 400) for j in range(401)]
        for r in range(len(rule)):
            measured = max(abs(float(ref(c.spec.values, [t])[r]) - float(p.value(t)[r]))
                           for t in ts)
            assert measured <= float(rule[r]) * (1 + 1e-9) + 1e-15, (spec, p.t0, r)
            assert float(rule[r]) <= measured * 1.01 + 1e-15, (spec, p.t0, r)


@pytest.mark.parametrize("spec, tight", [("square L=4", 1.0), ("sincos L=4", 0.99),
                                         ("exp L=4", 0.95), ("monomials L=4 d=3", 0.9)])
def test_the_proved_worst_error_meets_the_declared_bound_and_the_bound_is_tight(tmp_path, spec,
                                                                              tight):
    """measured <= proved worst case <= declared bound <= measured / tight: the theory
    says the interpolation bound h^2/8 max |f''| is attained (square: exactly)."""
    c = compile_spec(spec, "float64")
    ch = checks(write_as(tmp_path / "n.onnx", spec, c.net), complete=True)
    assert ch["complete"].status == "pass"
    worst = Fraction(ch["complete"].data["worst_error"])
    assert worst <= c.error_bound
    assert worst >= tight * c.error_bound, (float(worst), float(c.error_bound))
    ctor = registry.get(c.spec.name)
    xs = [Fraction(j, 2**10) * ctor.domain(c.spec.values).hi[0] for j in range(2**10 + 1)]
    got = exact.evaluate(c.net, [[x] for x in xs])
    measured = max(abs(float(g) - float(w)) for x, out in zip(xs, got)
                   for g, w in zip(out, ctor.reference(c.spec.values, [x])))
    assert measured <= float(worst) * (1 + 1e-9)


def _tightened(monkeypatch, name, formula):
    ctor = registry.get(name)
    monkeypatch.setitem(registry._REGISTRY, name,
                        dataclasses.replace(ctor, error_bound=formulas.expr(formula)))


@pytest.mark.parametrize("spec, formula", [("square L=4", "2**(-2*L-3)"),
                                           ("sincos L=3", "pi**2/16*4**(-L)"),
                                           ("exp L=3", "e*4**(-L)/16")])
def test_a_bound_tightened_below_the_true_error_fails_both_checks(tmp_path, monkeypatch, spec,
                                                                  formula):
    path = write_as(tmp_path / "n.onnx", spec, compile_spec(spec, "float64").net)
    _tightened(monkeypatch, spec.split()[0], formula)
    ch = checks(path, complete=True)
    assert ch["exact"].status == "fail"
    assert ch["complete"].status == "fail" and "exceeds the bound" in ch["complete"].detail


# -- the float check and the rounding bound ----------------------------------------------


def test_the_float_check_holds_each_row_to_its_own_bound(cli, tmp_path):
    """A runtime off by 1 on a row of small inputs is far outside that row's rounding
    bound, though inside the bound of a row holding 2^50."""
    path = tmp_path / "s.onnx"
    cli("build", "sort n=4", "-o", path, "-q")

    class OffByOne(Runner):
        def __call__(self, x, progress=None):
            y = super().__call__(x).copy()
            small = np.flatnonzero((np.abs(x).max(axis=1) <= 1000) & (np.abs(x).max(axis=1) > 0))
            if small.size:  # (the rows at the input limit come in a call of their own)
                y[small[0], 0] += 1
            return y

    ch = checks(path, runner_factory=OffByOne)
    assert ch["float"].data["max_bound"] > 1  # some row is allowed more than 1
    assert ch["exact"].status == "pass" and ch["float"].status == "fail"


@pytest.mark.parametrize("factor, status", [(0.9, "pass"), (1.1, "fail")])
def test_the_float_check_holds_every_row_to_its_rounding_bound(cli, tmp_path, factor,
                                                               status):
    """verify's rounding bound of each row, made in its pass over the layers, is the bound
    rounding_bound finds for that row: a runtime off by 0.9 of each row's bound passes,
    by 1.1 fails."""
    path = tmp_path / "s.onnx"
    cli("build", "sort n=6", "-o", path, "-q")
    net = formats.read(str(path))[0]

    class Off(Runner):
        def __call__(self, x, progress=None):
            want = np.array([[float(v) for v in row] for row in exact.evaluate(net, x.tolist())])
            return want + factor * rounding_bound(net, x, "float32")[:, None]

    ch = checks(path, runner_factory=Off)
    assert ch["float"].data["max_bound"] > 0 and ch["limit"].data["inputs_at_limit"] > 0
    assert ch["exact"].status == "pass" and ch["float"].status == status


@pytest.mark.parametrize("spec", ["sort n=6", "mul L=4", "pwl points=0:0,1:1,2:0",
                                  "sawtooth k=3"])
def test_verify_s_bound_of_each_row_is_rounding_bound_s_for_that_row(cli, tmp_path,
                                                                   monkeypatch, spec):
    """verify's pass makes the bound from the exact activations, rounding_bound from
    float64 ones: row by row the same bound up to float64's rounding, at the rows at
    the input limit (made after the pass) as at the others."""
    import reluc.analysis.verify as verify_mod

    path = tmp_path / "n.onnx"
    cli("build", spec, "-o", path, "-q")
    net, seen, real = formats.read(str(path))[0], {}, verify_mod.float_check

    def spy(y, x, exact_y, ref_y, bound, dtype):
        seen.update(x=x, bound=bound, dtype=dtype)
        return real(y, x, exact_y, ref_y, bound, dtype)

    monkeypatch.setattr(verify_mod, "float_check", spy)
    checks(path)
    want = rounding_bound(net, seen["x"], seen["dtype"])
    assert len(seen["bound"]) == len(seen["x"]) > 100 and (want > 0).mean() > 0.5
    assert np.allclose(seen["bound"], want, rtol=1e-9, atol=0)


def test_rows_at_the_input_limit_are_left_out_of_a_network_of_many_weights(cli, tmp_path,
                                                                         monkeypatch):
    """Rows at the limit are computed in Python integers: at most MAX_LIMIT_WORK of
    rows times nonzero weights (as the pass counts them) of them."""
    import reluc.analysis.verify as verify_mod

    path = tmp_path / "s.onnx"
    cli("build", "sort n=8", "-o", path, "-q")
    nonzeros = sum(layer.weight.nnz for layer in formats.read(str(path))[0].layers)
    for work, rows in ((nonzeros * 3, 3), (nonzeros - 1, 0)):
        monkeypatch.setattr(verify_mod, "MAX_LIMIT_WORK", work)
        ch = checks(path)
        assert ch["limit"].data["inputs_at_limit"] == rows and ch["limit"].status == "pass"
    assert "too many weights" in ch["limit"].detail


def _float32(net: Net, x: np.ndarray) -> np.ndarray:
    return net.evaluate(x.astype(np.float32), dtype=np.float32).astype(np.float64)


def _exact(net: Net, x: np.ndarray) -> np.ndarray:
    return np.array([[float(v) for v in row] for row in exact.evaluate(net, x.tolist())])


@pytest.mark.parametrize("k", [4, 16, 64])
def test_the_rounding_bound_is_tight_on_a_sum_that_rounds_at_every_step(k):
    """1 + u + u + ... in float32, u = 2^-24: each addition ties to 1, so the float sum
    loses (k-1) u; Higham's bound gamma_(k+1) (|W| |h|) is within (k+1)/(k-1) of that."""
    net = Net([Layer(np.ones((1, k)), [0.0])])
    x = np.array([[1.0] + [2.0**-24] * (k - 1)])
    err = abs(_float32(net, x) - _exact(net, x))[0, 0]
    bound = rounding_bound(net, x, "float32")[0]
    assert err == (k - 1) * 2.0**-24
    assert err <= bound <= (k + 1) / (k - 1) * 1.02 * err


def test_the_rounding_bound_carries_an_error_through_later_layers():
    """A cancellation in the first layer makes an error as large as the value (1 + u - 1
    is 0 in float32); the second layer adds little rounding of its own but must carry
    the first layer's error."""
    net = Net([Layer(np.ones((1, 3)), [0.0]), Layer(np.array([[8.0]]), [0.0])])
    x = np.array([[1.0, 2.0**-24, -1.0]])
    err = abs(_float32(net, x) - _exact(net, x))[0, 0]
    bound = rounding_bound(net, x, "float32")[0]
    assert err == 8 * 2.0**-24
    assert err <= bound <= 10 * err


# -- bounds of rounded networks: the compiler's perturbation bound --------------------------


def test_the_perturbation_bound_of_rounded_weights_is_exact_on_one_layer():
    """One layer, weights 1/3 and -1/7 and bias -1/10 rounded to float32 (up, down and
    down), on the box [-3, 1] x [-1, 2]: at the corner (-3, 2) the three roundings add
    up, so the bound, |dW| max(|lo|, |hi|) + |db|, is attained, and not exceeded."""
    w64 = np.array([[1 / 3, -1 / 7]])
    net64 = Net([Layer(w64, [-0.1])])
    net32 = Net([Layer(w64.astype(np.float32).astype(np.float64),
                       np.array([-0.1], dtype=np.float32).astype(np.float64))])
    box = Box((Fraction(-3), Fraction(-1)), (Fraction(1), Fraction(2)))
    bound = perturbation_bound(net64, net32, box)
    corners = [[a, b] for a in (-3, 1) for b in (-1, 2)]
    measured = max(abs(Fraction(e32[0]) - Fraction(e64[0])) for e32, e64 in
                   zip(exact.evaluate(net32, corners), exact.evaluate(net64, corners)))
    assert measured <= bound <= measured * (1 + Fraction(1, 10**5))


def test_the_perturbation_bound_covers_a_deep_rounded_network():
    """norm2 in float32 (weights cos and sin of pi/2^i, rounded): the rounded network
    stays within the bound of the float64 one on a grid of the domain, and the bound is
    not loose beyond 1000x (interval arithmetic over 8 layers)."""
    c64 = compile_spec("norm2 levels=8", "float64")
    net32 = compile_spec("norm2 levels=8", "float32").net
    bound = perturbation_bound(c64.net, net32, c64.domain)
    pts = [[Fraction(i, 8), Fraction(j, 8)] for i in range(-8, 9) for j in range(-8, 9)]
    measured = max(abs(a[0] - b[0]) for a, b in
                   zip(exact.evaluate(net32, pts), exact.evaluate(c64.net, pts)))
    assert 0 < measured <= bound <= 1000 * measured


def test_a_bias_that_float32_rounds_makes_the_file_inexact(cli, tmp_path):
    """Every weight is +-1; only the kink 1 + 2^-30 (a bias) is not a float32 number."""
    x1 = "1.000000000931322574615478515625"
    spec = f"pwl points=0:0,{x1}:{x1},3:{2 * Fraction(x1) - 3}"
    c64, c32 = compile_spec(spec, "float64"), compile_spec(spec, "float32")
    assert c64.exact
    assert all(set(np.abs(layer.weight.data)) <= {1.0, 2.0} for layer in c64.net.layers)
    assert c32.dtype_rounded and not c32.exact and c32.error_bound > 0
    path = tmp_path / "p.onnx"
    cli("build", spec, "-o", path, "-q")
    assert checks(path)["exact"].status == "pass"


def test_a_stream_whose_declared_values_float32_rounds_is_cast(monkeypatch):
    """The compiler passes a stream through untouched only when its declared values
    are numbers of the dtype."""
    from reluc.net import LayerStream

    big = float(2**30 + 1)
    stream = LayerStream(1, [1], lambda: iter([Layer(np.array([[1.0]]), np.array([big]))]),
                         values=(1, 2**30 + 1))
    ctor = registry.get("sort")
    monkeypatch.setitem(registry._REGISTRY, "sort",
                        dataclasses.replace(ctor, build=lambda n, method, domain: stream))
    c64, c32 = compile_spec("sort n=1", "float64"), compile_spec("sort n=1", "float32")
    assert c64.source is stream and c64.exact
    assert c32.source is not stream and c32.dtype_rounded and not c32.exact


# -- the 1-D bound of rounded networks --------------------------------------------------


def test_the_exact_bound_of_a_rounded_one_input_network_is_its_worst_case():
    """pwl with slopes 1/3 in float32: the stated bound is the exact worst case, attained
    at a breakpoint."""
    c = compile_spec("pwl points=0:0,3:1,6:0", "float32")
    pts = [Fraction(j, 4) for j in range(25)]
    ref = registry.get("pwl").reference
    errs = [abs(g[0] - ref(c.spec.values, [x])[0])
            for g, x in zip(exact.evaluate(c.net, [[x] for x in pts]), pts)]
    assert max(errs) == c.error_bound
    assert 2**-30 < c.error_bound < 2**-20  # the order of float32's rounding of 1/3
