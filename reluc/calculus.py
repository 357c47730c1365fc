"""The network calculus: how networks are combined.

Every function returns a new :class:`~reluc.net.Net`. Size rules, with ``h(f)`` the
number of hidden layers and ``widths(f)`` the hidden widths:

``affine(W, b)``
    one affine layer; ``h = 0``, width 0.
``select(n, idx)``
    affine coordinate selection ``x -> x[idx]``; ``h = 0``.
``identity(n, hidden=h)``
    ``x = relu(x) - relu(-x)`` carried through ``h`` hidden layers of width ``2n``
    (``h = 0`` gives the affine identity).
``compose(f, g, ...)``
    sequential composition in pipeline order: ``compose(f, g)(x) = g(f(x))``. The last
    affine map of ``f`` and the first of ``g`` are merged into one (as the seed paper's
    ``hcat_model`` does), so ``h = h(f) + h(g)``, ``depth = depth(f) + depth(g) - 1``,
    ``widths = widths(f) + widths(g)``.
``parallel(f, g, ...)``
    block-diagonal stacking on concatenated inputs and outputs. Shallower networks are
    first padded with identity layers at their end (2 neurons per output per extra
    hidden layer), so ``h = max h(f_i)`` and each hidden width is the sum of the
    (padded) widths of that layer.

Merging affine maps multiplies weights. With ``exact=True`` (the default) the product
is computed in integer arithmetic and :class:`~reluc.errors.InexactError` is raised if
the result is not exactly representable in float64, so exact constructors stay exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from reluc.errors import InexactError, NetworkError
from reluc.exact import dyadic_exponent
from reluc.net import Layer, Net

# -- exact arithmetic on float64 sparse matrices ------------------------------------------


def _max_abs_rowsum(m: sp.csr_array) -> float:
    if m.nnz == 0:
        return 0.0
    absm = sp.csr_array((np.abs(m.data).astype(np.float64), m.indices, m.indptr), shape=m.shape)
    return float(absm.sum(axis=1).max())


def exact_matmul(a: sp.csr_array, b: sp.csr_array) -> sp.csr_array:
    """``a @ b`` for float64 CSR matrices; InexactError if any entry would round.

    Both factors are scaled to integers (``a = ai / 2^ea``), multiplied in int64 when a
    bound proves there is no overflow (in Python integers otherwise), and the product
    is accepted only if every entry has at most 53 significant bits.
    """
    ea, eb = dyadic_exponent(a.data), dyadic_exponent(b.data)
    ia = sp.csr_array((np.ldexp(a.data, ea), a.indices, a.indptr), shape=a.shape)
    ib = sp.csr_array((np.ldexp(b.data, eb), b.indices, b.indptr), shape=b.shape)
    bound = _max_abs_rowsum(ia) * (float(np.max(np.abs(ib.data))) if ib.nnz else 0.0)
    if ea == 0 and eb == 0 and bound < 2.0**53:
        # integer factors, every partial sum an integer below 2^53: float64 is exact
        out = sp.csr_array(a @ b)
        out.sum_duplicates()
        out.eliminate_zeros()
        return out
    if bound < 2.0**61:
        prod = sp.csr_array(ia.astype(np.int64) @ ib.astype(np.int64))
        prod.sum_duplicates()
        vals = prod.data.astype(np.float64)
        representable = np.all(vals.astype(np.int64) == prod.data)
    else:
        prod, ints = _python_int_product(a, ea, b, eb)
        vals = np.array([float(i) for i in ints], dtype=np.float64)
        representable = all(int(v) == i for v, i in zip(vals, ints))
    if not representable:
        raise InexactError("merging two affine maps would round a weight")
    out = sp.csr_array((np.ldexp(vals, -(ea + eb)), prod.indices, prod.indptr), shape=prod.shape)
    if not np.all(np.ldexp(out.data, ea + eb) == vals):  # underflow to subnormals
        raise InexactError("merging two affine maps would round a weight")
    out.eliminate_zeros()
    return out


def _python_int_product(a, ea, b, eb):
    """Sparse product in Python integers, for weights with a huge dynamic range."""
    from fractions import Fraction

    def ints(m, e):
        return [int(Fraction(float(v)) * (1 << e)) for v in m.data]

    ad, bd = ints(a, ea), ints(b, eb)
    indptr, indices, data = [0], [], []
    for r in range(a.shape[0]):
        acc: dict[int, int] = {}
        for k in range(a.indptr[r], a.indptr[r + 1]):
            j, v = a.indices[k], ad[k]
            for t in range(b.indptr[j], b.indptr[j + 1]):
                c = int(b.indices[t])
                acc[c] = acc.get(c, 0) + v * bd[t]
        for c in sorted(acc):
            indices.append(c)
            data.append(acc[c])
        indptr.append(len(indices))
    shape = (a.shape[0], b.shape[1])
    pattern = sp.csr_array((np.ones(len(indices)), indices, indptr), shape=shape)
    return pattern, data


def exact_affine(w: sp.csr_array, x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``w @ x + b`` for a vector ``x``; InexactError if any entry would round."""
    wb = sp.hstack([w, sp.csr_array(b.reshape(-1, 1))], format="csr")
    x1 = sp.csr_array(np.append(x, 1.0).reshape(-1, 1))
    return sp.csr_array(exact_matmul(sp.csr_array(wb), x1)).toarray().ravel()


# -- primitive networks -------------------------------------------------------------------


def affine(weight, bias=None) -> Net:
    """The affine map ``x -> W x + b`` as a network with no hidden layer."""
    w = sp.csr_array(weight, dtype=np.float64)
    b = np.zeros(w.shape[0]) if bias is None else bias
    return Net([Layer(w, b)])


def select(n: int, indices: Sequence[int]) -> Net:
    """``x -> x[indices]`` for ``x`` of length ``n`` (indices may repeat)."""
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size == 0 or np.any((idx < 0) | (idx >= n)):
        raise NetworkError(f"selection indices must lie in 0..{n - 1}")
    w = sp.csr_array((np.ones(idx.size), idx, np.arange(idx.size + 1)), shape=(idx.size, n))
    return affine(w)


def identity(n: int, hidden: int = 0) -> Net:
    """The identity on ``R^n`` with ``hidden`` hidden layers of width ``2n``.

    Layout of every hidden layer: ``[relu(x_0..x_{n-1}), relu(-x_0..-x_{n-1})]``.
    """
    if n < 1 or hidden < 0:
        raise NetworkError("identity needs n >= 1 and hidden >= 0")
    eye = sp.identity(n, format="csr")
    if hidden == 0:
        return affine(eye)
    split = sp.vstack([eye, -eye], format="csr")  # x -> [x, -x]
    join = sp.hstack([eye, -eye], format="csr")  # [p, q] -> p - q
    middle = sp.csr_array(split @ join)  # [p, q] -> [p - q, q - p]
    layers = [Layer(split, np.zeros(2 * n))]
    layers += [Layer(middle, np.zeros(2 * n)) for _ in range(hidden - 1)]
    layers.append(Layer(join, np.zeros(n)))
    return Net(layers)


# -- combinators --------------------------------------------------------------------------


def _merge(first: Layer, second: Layer, exact: bool) -> Layer:
    """The affine map ``second(first(x))`` as one layer."""
    if exact:
        w = exact_matmul(second.weight, first.weight)
        b = exact_affine(second.weight, first.bias, second.bias)
    else:
        w = second.weight @ first.weight
        b = second.weight @ first.bias + second.bias
    return Layer(w, b)


def compose(*nets: Net, exact: bool = True) -> Net:
    """Pipeline-order composition: ``compose(f, g)(x) == g(f(x))``; see module rules."""
    if not nets:
        raise NetworkError("compose needs at least one network")
    layers = list(nets[0].layers)
    for net in nets[1:]:
        if net.n_in != layers[-1].n_out:
            raise NetworkError(
                f"cannot compose: {layers[-1].n_out} outputs feed a network with {net.n_in} inputs"
            )
        layers[-1] = _merge(layers[-1], net.layers[0], exact)
        layers.extend(net.layers[1:])
    return Net(layers)


def pad(net: Net, hidden_layers: int) -> Net:
    """``net`` followed by identity layers so that it has ``hidden_layers`` hidden layers."""
    extra = hidden_layers - net.hidden_layers
    if extra < 0:
        raise NetworkError("cannot pad a network to fewer hidden layers")
    return net if extra == 0 else compose(net, identity(net.n_out, extra))


def _block_diag(mats: Sequence[sp.csr_array]) -> sp.csr_array:
    return sp.csr_array(sp.block_diag(mats, format="csr"))


def parallel(*nets: Net) -> Net:
    """Block-diagonal stacking; inputs and outputs are concatenated in argument order."""
    if not nets:
        raise NetworkError("parallel needs at least one network")
    h = max(net.hidden_layers for net in nets)
    padded = [pad(net, h) for net in nets]
    layers = []
    for k in range(h + 1):
        parts = [net.layers[k] for net in padded]
        layers.append(
            Layer(_block_diag([p.weight for p in parts]), np.concatenate([p.bias for p in parts]))
        )
    return Net(layers)
