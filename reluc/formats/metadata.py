"""What every reluc file carries besides its weights.

Stored as ONNX ``metadata_props`` (and as a JSON object in ``.npz``), keys sorted:

==================  ===================================================================
``reluc.spec``      the canonical spec, e.g. ``sort n=64``
``reluc.constructor`` the constructor name
``reluc.params``    the parameters as canonical JSON (rationals as exact strings)
``reluc.domain``    the input domain as JSON ``{"dim", "lo", "hi"}`` (null = unbounded)
``reluc.exact``     ``true`` if the file's own weights compute the reference exactly
``reluc.error_bound`` sup-norm error bound on the domain (exact rational string, rounded
                    up to a float64 where its exact text would pass the readers' limit
                    of 400 characters; absent when unknown)
``reluc.input_limit`` R: evaluating the file in its dtype cannot overflow on inputs with
                    ``|x|_inf <= R`` (a sound bound from the weights, :mod:`reluc.ranges`)
``reluc.rounding``  an approximation on a bounded box: JSON ``{"at_least", "at_most",
                    "near", "at"}``, how far evaluating the file in its dtype can be from its
                    exact value over the whole domain (``at_least``: at an input of the
                    domain (``at``, for up to 16 inputs) the exact output ``near`` is
                    that far from every number of the dtype; ``at_most``: a sound bound, null if none;
                    :func:`reluc.compiler.runtime_rounding`)
``reluc.dtype``     ``float32`` or ``float64``
``reluc.format``    version of this layout (``1``)
``reluc.version``   the reluc version that wrote the file
``reluc.origin``    a converted file (``reluc convert``): the file it came from and that
                    file's SHA-256
``reluc.fit``       a fitted network (``reluc fit``): JSON with the data's SHA-256, rows,
                    the loss and its value, the width, the convex programs solved and
                    the certificate
==================  ===================================================================

A foreign file (no ``reluc.*`` keys) reads as a :class:`FileInfo` with ``spec=None``.
A damaged entry (not what this table says, a number out of range, a domain wider than
:data:`MAX_DIM`) is refused with the key's name: a file is a contract, and reading past
a broken clause of it would let ``verify`` check something else than what was promised.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fractions import Fraction

from reluc import __version__
from reluc.errors import NetworkFileError
from reluc.domain import Box
from reluc.numbers import MAX_NUMBER_CHARS, clip_text, format_number, parse_number

FORMAT_VERSION = "1"
MAX_DIM = 1 << 26  # widest domain a file may declare (sort n=2^24 is refused as too big)
MAX_PROP_CHARS = 1 << 20  # longest metadata entry reluc reads


def bound_text(bound: Fraction) -> str:
    """An error bound as metadata text: exact, or (when that would be longer than a
    reader accepts) the nearest float64 above it, still a bound."""
    text = format_number(bound)
    if len(text) <= MAX_NUMBER_CHARS:
        return text
    up = float(bound)
    if Fraction(up) < bound:
        up = math.nextafter(up, math.inf)
    return format_number(Fraction(up))  # a binary fraction: at most about 340 characters


@dataclass(frozen=True)
class FileInfo:
    spec: str | None = None
    constructor: str | None = None
    params: dict | None = None
    domain: Box | None = None
    exact: bool | None = None
    error_bound: Fraction | None = None
    dtype: str | None = None
    version: str | None = None
    format: str | None = None
    input_limit: float | None = None
    origin: str | None = None  # a converted file: the file it came from and its digest
    fit: dict | None = None  # a fitted network: its data's digest, loss, width, certificate
    rounding: dict | None = None  # runtime rounding over the domain: at_least, at_most, near

    @classmethod
    def for_build(cls, compiled) -> FileInfo:
        return cls(
            spec=compiled.spec.canonical(), constructor=compiled.spec.name,
            params=compiled.spec.params_json(), domain=compiled.domain,
            exact=compiled.exact, error_bound=compiled.error_bound,
            dtype=compiled.dtype, version=__version__, format=FORMAT_VERSION,
            rounding=compiled.rounding,
        )  # fmt: skip

    def to_props(self) -> dict[str, str]:
        props = {
            "reluc.spec": self.spec,
            "reluc.constructor": self.constructor,
            "reluc.params": None if self.params is None else _canonical_json(self.params),
            "reluc.domain": None if self.domain is None else _canonical_json(self.domain.to_json()),
            "reluc.exact": None if self.exact is None else ("true" if self.exact else "false"),
            "reluc.error_bound": None if self.error_bound is None else bound_text(self.error_bound),
            "reluc.dtype": self.dtype,
            "reluc.format": self.format,
            "reluc.input_limit": None if self.input_limit is None else repr(self.input_limit),
            "reluc.origin": self.origin,
            "reluc.fit": None if self.fit is None else _canonical_json(self.fit),
            "reluc.rounding": None if self.rounding is None else _canonical_json(self.rounding),
            "reluc.version": self.version,
        }
        return {k: props[k] for k in sorted(props) if props[k] is not None}

    @classmethod
    def from_props(cls, props: dict[str, str], dtype: str | None = None) -> FileInfo:
        def get(key, conv=lambda v: v):
            v = props.get(key)
            if v is None:
                return None
            try:
                if not isinstance(v, str) or len(v) > MAX_PROP_CHARS:
                    raise ValueError("not a string of at most 1 MiB")
                return conv(v)
            except (ValueError, KeyError, TypeError, ZeroDivisionError, OverflowError,
                    AttributeError, RecursionError) as e:
                reason = str(e) if isinstance(e, ValueError) and str(e) else type(e).__name__
                raise NetworkFileError(f"damaged metadata '{key}': {clip_text(reason, 80)}") from None

        def limit(v: str) -> float:
            r = float(parse_number(v))
            if r < 0:
                raise ValueError("negative")
            return r

        return cls(
            spec=get("reluc.spec"), constructor=get("reluc.constructor"),
            params=get("reluc.params", _json_object),
            domain=get("reluc.domain", _domain),
            exact=get("reluc.exact", lambda v: {"true": True, "false": False}[v]),
            error_bound=get("reluc.error_bound", parse_number),
            dtype=dtype or get("reluc.dtype"), version=get("reluc.version"),
            format=get("reluc.format"), input_limit=get("reluc.input_limit", limit),
            origin=get("reluc.origin"), fit=get("reluc.fit", _json_object),
            rounding=get("reluc.rounding", _rounding),
        )  # fmt: skip


def _rounding(text: str) -> dict:
    obj = _json_object(text)
    if set(obj) != {"at_least", "at_most", "near", "at"}:
        raise ValueError("not {at_least, at_most, near, at}")
    at = obj.pop("at")
    if at is not None and not (isinstance(at, list) and len(at) <= 16 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in at)):
        raise ValueError("at is not a list of at most 16 numbers")
    obj = {**obj, "at": at}
    for key, v in obj.items():
        if key == "at":
            continue
        if not (v is None and key == "at_most") and not (
                isinstance(v, (int, float)) and not isinstance(v, bool) and
                math.isfinite(v) and (v >= 0 or key == "near")):
            raise ValueError(f"{key} is not a {'number' if key == 'near' else 'number >= 0'}")
    return obj


def _json_object(text: str) -> dict:
    obj = json.loads(text)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    return obj


def _domain(text: str) -> Box:
    """A domain entry, checked before anything of its declared size is made."""
    obj = _json_object(text)
    dim = obj["dim"]
    if not isinstance(dim, int) or isinstance(dim, bool) or not 1 <= dim <= MAX_DIM:
        raise ValueError(f"dim must be an integer from 1 to {MAX_DIM}")

    def end(v):
        if v is None:
            return None
        if not isinstance(v, str):
            raise ValueError("bounds are numbers written as strings")
        return parse_number(v)

    ends = []
    for side in (obj["lo"], obj["hi"]):
        if isinstance(side, list):
            if len(side) != dim:
                raise ValueError(f"{len(side)} bounds for dim {dim}")
            ends.append(tuple(end(v) for v in side))
        else:
            ends.append((end(side),) * dim)
    return Box(*ends)


def _canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
