"""The IR and the calculus: validation, semantics in exact arithmetic, size rules."""

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from reluc import exact
from reluc.calculus import affine, compose, identity, parallel, select
from reluc.errors import InexactError, NetworkError
from reluc.net import Layer, Net
from reluc.passes import prune_dead


def test_layer_validation_fires():
    with pytest.raises(NetworkError, match="bias has length 3"):
        Layer(np.ones((2, 2)), np.zeros(3))
    with pytest.raises(NetworkError, match="finite"):
        Layer(np.array([[np.inf]]), np.zeros(1))
    with pytest.raises(NetworkError, match="takes 3 inputs but layer 0 produces 2"):
        Net([Layer(np.ones((2, 2)), np.zeros(2)), Layer(np.ones((1, 3)), np.zeros(1))])
    with pytest.raises(NetworkError, match="at least one"):
        Net([])


def test_networks_are_immutable_and_negative_zero_is_normalised():
    layer = Layer(np.array([[-0.0, 1.0]]), np.array([-0.0]))
    assert not layer.bias.flags.writeable and not layer.weight.data.flags.writeable
    assert np.signbit(layer.bias).sum() == 0
    stored = sp.csr_array(([-0.0, 1.0, -0.0], [0, 1, 1], [0, 2, 3]), shape=(2, 2))
    assert Layer(stored, [0.0, 0.0]).weight.nnz == 1  # a stored -0.0 goes with the zeros
    with pytest.raises(ValueError):
        layer.bias[0] = 1.0


def test_identity_size_rule_and_semantics():
    for h in range(4):
        net = identity(3, h)
        assert net.hidden_layers == h and net.widths == (6,) * h
        assert exact.evaluate(net, [[-1, Fraction(1, 3), 5]]) == [[-1, Fraction(1, 3), 5]]


def test_select_affine():
    assert exact.evaluate(select(3, [2, 2, 0]), [[1, 2, 3]]) == [[3, 3, 1]]
    assert exact.evaluate(affine([[1, 2]], [Fraction(1, 2)]), [[1, 1]]) == [[Fraction(7, 2)]]


def small_nets(n_in):
    """Random small networks with dyadic weights, for exact-arithmetic properties."""
    dy = st.integers(-8, 8).map(lambda k: k / 4)

    @st.composite
    def build(draw):
        widths = [n_in] + draw(st.lists(st.integers(1, 4), min_size=0, max_size=3))
        widths.append(draw(st.integers(1, 3)))
        layers = []
        for a, b in zip(widths, widths[1:]):
            w = np.array(draw(st.lists(dy, min_size=a * b, max_size=a * b))).reshape(b, a)
            layers.append(Layer(w, np.array(draw(st.lists(dy, min_size=b, max_size=b)))))
        return Net(layers)

    return build()


inputs = st.lists(st.integers(-16, 16).map(lambda k: Fraction(k, 8)), min_size=2, max_size=2)


@settings(max_examples=60, deadline=None)
@given(small_nets(2), st.data(), inputs)
def test_compose_is_sequential_application_and_adds_hidden_layers(f, data, x):
    g = data.draw(small_nets(f.n_out))
    h = compose(f, g)
    assert h.hidden_layers == f.hidden_layers + g.hidden_layers
    assert h.widths == f.widths + g.widths
    assert exact.evaluate(h, [x]) == exact.evaluate(g, exact.evaluate(f, [x]))


@settings(max_examples=60, deadline=None)
@given(small_nets(2), small_nets(2), inputs, inputs)
def test_parallel_stacks_and_pads_the_shallower_network(f, g, x, z):
    p = parallel(f, g)
    assert p.hidden_layers == max(f.hidden_layers, g.hidden_layers)
    for k in range(p.hidden_layers):
        wf = f.widths[k] if k < f.hidden_layers else 2 * f.n_out
        wg = g.widths[k] if k < g.hidden_layers else 2 * g.n_out
        assert p.widths[k] == wf + wg
    out = exact.evaluate(p, [x + z])[0]
    assert out == exact.evaluate(f, [x])[0] + exact.evaluate(g, [z])[0]


def test_compose_refuses_to_round_and_checks_shapes():
    with pytest.raises(InexactError):
        compose(affine([[1 / 3]]), affine([[3.0]]))
    with pytest.raises(InexactError):  # 2^40 + 2^-40 needs 81 bits
        compose(affine([[1.0], [1.0]]), affine([[2.0**40, 2.0**-40]]))
    with pytest.raises(NetworkError, match="cannot compose"):
        compose(identity(2), identity(3))
    inexact = compose(affine([[1 / 3]]), affine([[3.0]]), exact=False)
    assert inexact.layers[0].weight.toarray()[0, 0] == 1 / 3 * 3.0


def test_exact_evaluation_handles_huge_and_tiny_values():
    net = compose(affine([[2.0**-60]]), identity(1, 2), affine([[2.0**70]], [2.0**-50]))
    big = Fraction(3, 7) * 10**30
    assert exact.evaluate(net, [[big]]) == [[big * 2**10 + Fraction(1, 2**50)]]


def test_prune_removes_neurons_that_cannot_reach_the_output():
    # the input twice, each copy through an identity: 4 outputs, widths 8
    both = compose(select(2, [0, 1, 0, 1]), parallel(identity(2, 2), identity(2, 2)))
    keep_first = compose(both, select(4, [0, 1]))
    pruned = prune_dead(keep_first)
    assert keep_first.widths == (8, 8) and pruned.widths == (4, 4)
    x = [[3, -5]]
    assert exact.evaluate(pruned, x) == exact.evaluate(keep_first, x) == [[3, -5]]


def test_prune_removes_always_zero_neurons_but_keeps_a_layer_nonempty():
    net = Net([Layer(sp.csr_array((2, 1)), [0.0, -1.0]), Layer(np.ones((1, 2)), [2.0])])
    pruned = prune_dead(net)
    assert pruned.widths == (1,)
    assert exact.evaluate(pruned, [[5]]) == [[2]]


def test_exact_evaluation_of_zero_activations_beside_a_tiny_bias():
    # found by hypothesis: zero activations and a bias of 2^-100 made the integer fast
    # path scale the (zero) products by 2^100, past int64
    net = Net([Layer(np.zeros((1, 3)), np.zeros(1)),
               Layer(np.array([[0.0], [1.0]]), np.array([2.0**-100, 0.0]))])
    assert exact.evaluate(net, [[0, 0, 0]]) == [[Fraction(1, 2**100), Fraction(0)]]


_rationals = st.one_of(
    st.fractions(max_denominator=10**6).filter(lambda v: abs(v) < 10**12),
    st.builds(lambda m, e: Fraction(m) * Fraction(2) ** e, st.integers(-(2**60), 2**60),
              st.integers(-80, 40)),
    st.floats(-(2.0**60), 2.0**60, width=32).map(Fraction))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(_rationals, min_size=3, max_size=3), min_size=1, max_size=4),
       st.sampled_from(["float32", "float64"]))
def test_scaled_batches_know_which_rows_a_dtype_holds_exactly(rows, dtype):
    batch = exact.Scaled.of(rows)
    assert batch.rows() == [[Fraction(v) for v in r] for r in rows]
    x, ok = batch.floats(dtype)
    t = np.dtype(dtype).type
    want = [all(Fraction(float(t(float(v)))) == v for v in r) for r in rows]
    assert ok.tolist() == want
    for r, xr, k in zip(rows, x, ok):
        if k:
            assert [Fraction(float(v)) for v in xr] == r


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_rationals, min_size=2, max_size=2), min_size=2, max_size=2),
       st.lists(st.lists(_rationals, min_size=2, max_size=2), min_size=2, max_size=2))
def test_scaled_max_abs_difference_is_exact(a, b):
    err, row = exact.max_abs_difference(exact.Scaled.of(a), exact.Scaled.of(b))
    per_row = [max(abs(x - y) for x, y in zip(ra, rb)) for ra, rb in zip(a, b)]
    assert err == max(per_row) and per_row[row] == err


def _prune_by_sweeps(net: Net) -> Net:
    """The dead-neuron sweeps done plainly on the layers, slicing as they go: the
    reference the pattern-based pass is held to."""
    layers = list(net.layers)
    changed = True
    while changed:
        changed = False
        for k in range(len(layers) - 1, 0, -1):
            prev, nxt = layers[k - 1], layers[k]
            used = np.diff(nxt.weight.tocsc().indptr) > 0
            keep = used & ((np.diff(prev.weight.indptr) > 0) | (prev.bias > 0))
            if not keep.any():
                keep[0] = True
            if keep.all():
                continue
            idx = np.flatnonzero(keep)
            layers[k - 1] = Layer(prev.weight[idx], prev.bias[idx])
            layers[k] = Layer(nxt.weight[:, idx], nxt.bias)
            changed = True
    return Net(layers)


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_streamed_pruning_removes_exactly_what_the_sweeps_remove(data):
    from reluc.net import LayerStream
    from reluc.passes import prune_dead_stream

    widths = data.draw(st.lists(st.integers(1, 6), min_size=2, max_size=6))
    layers = []
    for a, b in zip(widths, widths[1:]):
        # sparse, with empty rows and columns, and biases of every sign
        w = np.array(data.draw(st.lists(st.sampled_from([0, 0, 0, 1, -1, 2]), min_size=a * b,
                                        max_size=a * b)), dtype=float).reshape(b, a)
        bias = np.array(data.draw(st.lists(st.sampled_from([0, 0, -1, 1]), min_size=b,
                                           max_size=b)), dtype=float)
        layers.append(Layer(w, bias))
    net = Net(layers)
    stream = LayerStream(net.n_in, [layer.n_out for layer in layers], lambda: iter(layers))
    pruned = prune_dead_stream(stream)
    want = _prune_by_sweeps(net)
    assert pruned.materialise().equals(want) and prune_dead(net).equals(want)
    assert pruned.widths_out == want.widths_out


def test_exact_evaluation_past_2_53_keeps_every_bit():
    # integers past float64's 2^53 and int64's 2^62 (int64 products, then Python ints)
    net = Net([Layer(np.array([[1.0, 1.0], [1.0, -1.0]]), np.zeros(2)),
               Layer(np.array([[1.0, 1.0]]), np.array([1.0]))])
    for big in (2**52 - 1, 2**53 + 1, 2**60 + 3, 2**70 + 5):
        # relu(x + y) + relu(x - y) + 1
        assert exact.evaluate(net, [[big, 2], [2, big], [-big, 2]]) == \
            [[2 * big + 1], [big + 2 + 1], [1]]


_dyadics = st.builds(lambda m, e: Fraction(m) * Fraction(2) ** e,
                     st.integers(-(2**20), 2**20), st.integers(-30, 10))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=2, max_size=4), st.data())
def test_exact_evaluation_is_rational_arithmetic(widths, data):
    # weights and inputs of both signs, from tiny to near int64's end (the integer fast
    # path and the Python-int one): every output exactly what Fractions give
    layers = []
    for n_in, n_out in zip(widths, widths[1:]):
        w = data.draw(st.lists(st.lists(_dyadics | st.just(Fraction(0)), min_size=n_in,
                                        max_size=n_in), min_size=n_out, max_size=n_out))
        b = data.draw(st.lists(_dyadics | st.just(Fraction(0)), min_size=n_out,
                               max_size=n_out))
        layers.append((w, b))
    x = data.draw(st.lists(st.lists(_rationals, min_size=widths[0], max_size=widths[0]),
                           min_size=1, max_size=3))
    net = Net([Layer(np.array([[float(v) for v in r] for r in w]), [float(v) for v in b])
               for w, b in layers])
    want = []
    for row in x:
        h = list(row)
        for i, (w, b) in enumerate(layers):
            h = [max(v, 0) for v in h] if i else h
            h = [sum((wj * hj for wj, hj in zip(wr, h)), Fraction(0)) + bi
                 for wr, bi in zip(w, b)]
        want.append(h)
    assert exact.evaluate(net, x) == want
