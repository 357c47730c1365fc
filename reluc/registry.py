"""The constructor registry.

Adding an algorithm is one decorated function::

    @register(
        "max",
        summary="Maximum of n numbers (balanced tree of max gadgets).",
        params=[Param("n", Int(min=1), 2, "number of inputs")],
        inputs="n", outputs="1",
        domain=lambda p: Box.real(p["n"]),
        reference=lambda p, x: [max(x)],
        formulas={"hidden_layers": "clog2(n)"},
    )
    def max_net(n: int) -> Net: ...

The metadata is mandatory: a constructor without a reference function, a domain, input
and output dimensions, or an exactness claim (``exact=True`` or an ``error_bound``
formula) cannot be registered. Dimension, size and error formulas are expressions in the
parameters (with ``ceil``, ``floor``, ``log2``, ``clog2`` = ceil(log2), ``min``, ``max``,
...), or :func:`reluc.formulas.code` functions with a text; ``reluc list`` shows their
text, and each is evaluated on the example when it is registered (:mod:`reluc.formulas`).

The function returns a :class:`~reluc.net.Net`, a :class:`Built` (a Net with a note on
rounded weights), or a :class:`~reluc.net.LayerStream` for networks too large to hold:
layers made one at a time as the writer asks for them, with the shape and the set of
weight values declared up front. A stream gets no optimisation pass (the constructor
prunes it itself, e.g. with :func:`reluc.passes.prune_dead_stream`).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from reluc.errors import SpecError
from reluc.net import Net
from reluc.formulas import Formula, as_formula
from reluc.domain import Box  # noqa: F401  (part of the registration API, with register)
from reluc.spec import Param, RawSpec, Spec, parse_text

# Build options of ``reluc build``; parameters may not shadow them.
RESERVED = {"o", "output", "format", "dtype", "help", "quiet", "layout", "max_size",
            "external_data"}


class Lazy(Sequence):
    """A sequence given by its length and a function of the index, made one item at a
    time when asked: the breakpoints of a network with 2^24 pieces cost nothing until
    some are sampled (``reluc verify`` samples them; a proof takes them all)."""

    def __init__(self, count: int, at: Callable[[int], Fraction]):
        self.count, self.at = int(count), at

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.at(j) for j in range(*i.indices(self.count))]
        j = i + self.count if i < 0 else i
        if not 0 <= j < self.count:
            raise IndexError(i)
        return self.at(j)


@dataclass(frozen=True)
class Constructor:
    name: str
    summary: str
    build: Callable[..., Net]
    params: tuple[Param, ...]
    inputs: Formula
    outputs: Formula
    domain: Callable[[dict[str, Any]], Box]
    reference: Callable[[dict[str, Any], Sequence[Fraction]], Sequence[Fraction]]
    exact: bool
    error_bound: Formula | None
    formulas: dict[str, Formula] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None
    example: str = ""
    notes: str = ""
    breakpoints: Callable[[dict[str, Any]], Sequence[Fraction]] | None = None
    prove: Callable[[Net, dict[str, Any]], Any] | None = None
    sup_error: Callable[..., Sequence[Fraction]] | None = None
    # two inputs: lines (a, b, c), a x + b y + c = 0, off which the reference is affine
    # on each cell of their arrangement; or a rule (values, vertices, gradient,
    # constant) -> reluc.polygons.Enclosure of the worst error of an affine map on a face
    kink_lines: Callable[[dict[str, Any]], Sequence[tuple]] | None = None
    plane_error: Callable[..., Any] | None = None
    elementwise: bool = False  # output i is one function of input i (its breakpoints)
    norm_tree: bool = False  # the Euclidean norm by a tree of two-input blocks (four inputs)
    batch_reference: Callable[..., tuple[Any, int]] | None = None
    streams: bool = False  # builds its layers one at a time (memory: a few layers)

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.build.__doc__ or self.summary)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def bind(self, raw: RawSpec) -> Spec:
        """Validate raw parameters; fill in defaults; return the resolved :class:`Spec`."""
        given: dict[str, Any] = {}
        valid = ", ".join(p.name for p in self.params) or "(none)"
        for key, text in raw.items:
            p = self.param(key)
            if p is None:
                hint = difflib.get_close_matches(key, [q.name for q in self.params], 1)
                did = f" (did you mean '{hint[0]}'?)" if hint else ""
                raise SpecError(
                    f"{self.name}: unknown parameter '{key}'{did}; valid parameters: {valid}"
                )
            if key in given:
                raise SpecError(f"{self.name}: parameter '{key}' is given twice")
            try:
                given[key] = p.type.parse(text)
            except ValueError as e:
                raise SpecError(f"{self.name}: {key} {e}") from None
        values: dict[str, Any] = {}
        for p in self.params:  # defaults may depend on earlier parameters
            if p.name in given:
                values[p.name] = given[p.name]
            elif p.default is None:
                raise SpecError(
                    f"{self.name}: missing parameter '{p.name}' ({p.type.describe()}); "
                    f"example: {self.example or self.name}"
                )
            else:
                values[p.name] = p.default(values) if callable(p.default) else p.default
        if self.check is not None:
            try:
                self.check(values)
            except ValueError as e:
                raise SpecError(f"{self.name}: {e}") from None
        return Spec.of(self.name, values, self.params)

    def dims(self, values: dict[str, Any]) -> tuple[int, int]:
        return self.inputs(values), self.outputs(values)

    def formula_values(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k: f(values) for k, f in self.formulas.items()}

    def declared_error(self, values: dict[str, Any]) -> Fraction:
        """The error bound the construction promises (0 when exact), as a Fraction."""
        return Fraction(0) if self.exact else Fraction(self.error_bound(values))

    def _check_formulas(self) -> None:
        """Every formula reads parameters only, and gives a value on the example: a typo
        fails at import, not when the formula is first used."""
        named = {p.name for p in self.params}
        every = {"inputs": self.inputs, "outputs": self.outputs, **self.formulas}
        if self.error_bound is not None:
            every["error_bound"] = self.error_bound
        for key, f in every.items():
            unknown = sorted(f.names - named)
            if unknown:
                raise ValueError(f"constructor '{self.name}': formula {key} '{f.text}' reads "
                                 f"{', '.join(unknown)}, not a parameter")
        values = self.bind(parse_text(self.example)).values
        for key, f in every.items():
            try:
                f(values)
            except Exception as e:
                raise ValueError(f"constructor '{self.name}': formula {key} '{f.text}' fails "
                                 f"on the example {self.example}: {e}") from None


@dataclass(frozen=True)
class Proof:
    """Outcome of a construction-specific complete check (``prove`` hook).

    ``status`` is ``proved``, ``failed`` (``counterexample`` is an input row) or
    ``unsupported`` (the check does not apply; ``method`` says why)."""

    status: str
    method: str
    counterexample: Sequence | None = None
    worst: Fraction | None = None  # the worst-case error the proof computed, if it did


@dataclass(frozen=True)
class Built:
    """What a constructor may return instead of a bare Net: ``rounded=True`` says that
    the float64 weights are roundings of the construction's exact (rational) weights, as
    for pwl points with slopes like 1/3; the compiler then states the error it causes.
    ``rounded_once=True`` adds that every weight and bias is the float64 rounding of its
    exact value (no arithmetic on rounded values), so each is within a relative 2^-53 of
    it, which lets the compiler bound the effect on a bounded domain."""

    net: Net
    rounded: bool = False
    rounded_once: bool = False


_REGISTRY: dict[str, Constructor] = {}
_REFUSED: dict[str, str] = {}  # names that cannot be built, and why


def refuse(name: str, why: str) -> None:
    """Say why ``name`` (a function users ask for, like argmax) cannot be built; asked
    for, it is refused with this reason instead of "unknown constructor"."""
    _REFUSED[name] = why


def register(
    name: str,
    *,
    summary: str,
    params: Sequence[Param],
    inputs: str | Formula,
    outputs: str | Formula,
    domain: Callable[[dict[str, Any]], Box],
    reference: Callable[[dict[str, Any], Sequence[Fraction]], Sequence[Fraction]],
    exact: bool = True,
    error_bound: str | Formula | None = None,
    formulas: dict[str, str | Formula] | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
    example: str = "",
    notes: str = "",
    breakpoints: Callable[[dict[str, Any]], Sequence[Fraction]] | None = None,
    prove: Callable[[Net, dict[str, Any]], Any] | None = None,
    sup_error: Callable[..., Sequence[Fraction]] | None = None,
    kink_lines: Callable[[dict[str, Any]], Sequence[tuple]] | None = None,
    plane_error: Callable[..., Any] | None = None,
    elementwise: bool = False,
    norm_tree: bool = False,
    batch_reference: Callable[..., tuple[Any, int]] | None = None,
    streams: bool = False,
):
    """Register a constructor function; see the module docstring.

    Optional hooks for ``reluc verify --complete``:

    ``breakpoints(params)``
        for a reference of one variable that is continuous piecewise linear: every
        point where its slope may change, in increasing order (the exact 1-D check
        then proves equality); a sequence, :class:`Lazy` when there are many (``verify``
        samples from it, so its cost follows the samples, not the count);
    ``prove(net, params)``
        a complete check specific to the construction (e.g. the 0-1 principle for
        comparator networks), returning a :class:`Proof`;
    ``sup_error(params, t0, t1, slopes, intercepts)``
        for a smooth reference of one variable: per output, an upper bound (exact where
        possible) of ``sup |reference - affine|`` on ``[t0, t1]``; the exact pieces of the
        network then give its worst-case error on the whole domain;
    ``kink_lines(params)``
        for a continuous piecewise-linear reference of two variables: lines ``(a, b,
        c)``, ``a x + b y + c = 0``, such that the reference is affine on every cell of
        their arrangement (the exact 2-D check cuts the network's faces along them and
        proves equality on the box or the whole plane);
    ``plane_error(params, vertices, gradient, constant)``
        for a smooth reference of two variables on a box: a
        :class:`reluc.polygons.Enclosure` of the worst ``|reference - affine|`` over a
        convex polygon (the exact faces then give the worst-case error on the box);
    ``elementwise=True``
        output i of the reference is one function of x_i alone, the same for every i,
        with ``breakpoints``: the file is proved along the diagonal once it is checked
        that each of its outputs reads its own input alone;
    ``norm_tree=True``
        the reference is the Euclidean norm and four inputs are computed by a tree of two
        two-input blocks: proved block by block (:mod:`reluc.analysis.treeproof`).

    And one for ``reluc verify`` on wide networks:

    ``batch_reference(params, num, den)``
        the reference on a whole batch of rows ``num / den`` (integer numpy arrays over
        one denominator), returning ``(num, den)`` of the outputs, exactly: what makes
        checking a network with 65536 inputs cost numpy, not Fractions. Without it the
        reference is called row by row.

    ``streams=True``: the constructor returns a :class:`~reluc.net.LayerStream` at large
    sizes (memory for a few layers); the build's memory check then does not count the
    whole network (:mod:`reluc.budget`).
    """

    def deco(fn: Callable[..., Net]) -> Callable[..., Net]:
        if name in _REGISTRY:
            raise ValueError(f"constructor '{name}' is registered twice")
        if reference is None or domain is None:
            raise ValueError(f"constructor '{name}' needs a reference function and a domain")
        if exact == (error_bound is not None):
            raise ValueError(f"constructor '{name}': give exactly one of exact=True, error_bound")
        for p in params:
            if p.name in RESERVED:
                raise ValueError(f"constructor '{name}': parameter '{p.name}' is reserved")
        sig = inspect.signature(fn)
        if list(sig.parameters) != [p.name for p in params]:
            raise ValueError(f"constructor '{name}': function arguments must match its params")
        ctor = Constructor(
            name=name, summary=summary, build=fn, params=tuple(params),
            inputs=as_formula(inputs), outputs=as_formula(outputs), domain=domain,
            reference=reference, exact=exact,
            error_bound=None if error_bound is None else as_formula(error_bound),
            formulas={k: as_formula(f) for k, f in (formulas or {}).items()}, check=check,
            example=example or name, notes=notes, breakpoints=breakpoints, prove=prove,
            sup_error=sup_error, kink_lines=kink_lines, plane_error=plane_error,
            elementwise=elementwise, norm_tree=norm_tree,
            batch_reference=batch_reference, streams=streams,
        )  # fmt: skip
        ctor._check_formulas()
        _REGISTRY[name] = ctor
        return fn

    return deco


def _load() -> None:
    import reluc.constructors  # noqa: F401  (registers every family)


def get(name: str) -> Constructor:
    _load()
    if name in _REFUSED:
        raise SpecError(
            f"{name} cannot be built: {_REFUSED[name]}, and a ReLU network computes only "
            "continuous (piecewise-linear) functions; see max, min, sort, topk, kth, median"
        )
    try:
        return _REGISTRY[name]
    except KeyError:
        hint = difflib.get_close_matches(name, list(_REGISTRY), 1)
        did = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise SpecError(
            f"unknown constructor '{name}'{did}; choose from: {', '.join(sorted(_REGISTRY))}"
        ) from None


def is_constructor(name: str) -> bool:
    """Whether ``name`` is a constructor's name (or one refused with a reason)."""
    _load()
    return name in _REGISTRY or name in _REFUSED


def all_constructors() -> list[Constructor]:
    _load()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def resolve(raw: RawSpec) -> Spec:
    return get(raw.name).bind(raw)
