"""What every reluc file carries besides its weights.

Stored as ONNX ``metadata_props`` (and as a JSON object in ``.npz``), keys sorted:

==================  ===================================================================
``reluc.spec``      the canonical spec, e.g. ``sort n=64``
``reluc.constructor`` the constructor name
``reluc.params``    the parameters as canonical JSON (rationals as exact strings)
``reluc.domain``    the input domain as JSON ``{"dim", "lo", "hi"}`` (null = unbounded)
``reluc.exact``     ``true`` if the file's own weights compute the reference exactly
``reluc.error_bound`` sup-norm error bound on the domain (exact rational string; absent
                    when unknown)
``reluc.dtype``     ``float32`` or ``float64``
``reluc.format``    version of this layout (``1``)
``reluc.version``   the reluc version that wrote the file
==================  ===================================================================

A foreign file (no ``reluc.*`` keys) reads as a :class:`FileInfo` with ``spec=None``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction

from reluc import __version__
from reluc.registry import Box
from reluc.spec import format_number

FORMAT_VERSION = "1"


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

    @classmethod
    def for_build(cls, compiled) -> FileInfo:
        return cls(
            spec=compiled.spec.canonical(), constructor=compiled.spec.name,
            params=compiled.spec.params_json(), domain=compiled.domain,
            exact=compiled.exact, error_bound=compiled.error_bound,
            dtype=compiled.dtype, version=__version__, format=FORMAT_VERSION,
        )  # fmt: skip

    def to_props(self) -> dict[str, str]:
        props = {
            "reluc.spec": self.spec,
            "reluc.constructor": self.constructor,
            "reluc.params": None if self.params is None else _canonical_json(self.params),
            "reluc.domain": None if self.domain is None else _canonical_json(self.domain.to_json()),
            "reluc.exact": None if self.exact is None else ("true" if self.exact else "false"),
            "reluc.error_bound": None if self.error_bound is None else format_number(self.error_bound),
            "reluc.dtype": self.dtype,
            "reluc.format": self.format,
            "reluc.version": self.version,
        }
        return {k: props[k] for k in sorted(props) if props[k] is not None}

    @classmethod
    def from_props(cls, props: dict[str, str], dtype: str | None = None) -> FileInfo:
        def get(key, conv=lambda v: v):
            v = props.get(key)
            try:
                return None if v is None else conv(v)
            except (ValueError, KeyError, TypeError, ZeroDivisionError):
                return None  # a damaged entry reads as missing

        return cls(
            spec=get("reluc.spec"), constructor=get("reluc.constructor"),
            params=get("reluc.params", json.loads),
            domain=get("reluc.domain", lambda v: Box.from_json(json.loads(v))),
            exact=get("reluc.exact", lambda v: {"true": True, "false": False}[v]),
            error_bound=get("reluc.error_bound", Fraction),
            dtype=dtype or get("reluc.dtype"), version=get("reluc.version"),
            format=get("reluc.format"),
        )  # fmt: skip


def _canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
