"""Domain exceptions. The library raises these; only :mod:`reluc.cli` turns them into
one-line ``Error: ...`` messages and exit codes (2 for everything below)."""


class RelucError(Exception):
    """Base class: a problem the user can fix (bad spec, bad input, bad file)."""


class SpecError(RelucError):
    """The spec names an unknown constructor or parameter, or a value is invalid."""


class InputError(RelucError):
    """Input data for ``eval`` is malformed (wrong row length, not a number, ...)."""


class NetworkFileError(RelucError):
    """A network file cannot be read: corrupted, foreign in an unsupported way, ..."""


class UnreadableGraph(NetworkFileError):
    """An ONNX graph that is sound but not a chain reluc reads (an operator it does not
    know, a branch): ``eval`` can still run it through onnxruntime."""


class NetworkError(RelucError):
    """A network is malformed (inconsistent shapes, non-finite weights, ...)."""


class InexactError(RelucError):
    """An operation that must be exact would round (e.g. merging two affine maps)."""
