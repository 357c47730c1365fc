"""Sizes before work: what a build will take, known from the spec's size formulas and the
compiled network's declared shape before a dense matrix is made or a byte written.

Two checks, both with the estimate in their message:

- :func:`check_spec` (before the constructor runs): a *lower* bound on the nonzeros from
  the registry's formulas (``nonzero_params`` where known, else ``neurons``, ``width``,
  ``hidden_layers``) times the bytes a nonzero takes in memory, or for a streamed
  constructor the neurons times what its schedule takes per neuron; refused when even
  that passes the memory this machine has available.
- :func:`check_output` (after compiling, before writing): the file's size, estimated
  from the network's shape (dense layout: every entry; sparse layout and ``.npz``: at
  least one nonzero per neuron), against ``--max-size`` and the free space of the target's
  file system. :func:`describe` gives the figure shown on stderr before a large write.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import sys

from reluc.errors import RelucError

# malloc (glibc): arrays under MMAP_BYTES come from the heap, up to TRIM_BYTES of freed
# heap stay with the process, and every thread allocates from the one heap (see
# keep_memory)
MMAP_BYTES, TRIM_BYTES, ARENAS = 32 << 20, 256 << 20, 1
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # <malloc.h>
_mallopt = None  # glibc's mallopt, once keep_memory has set it


def keep_memory() -> bool:
    """Tell glibc's malloc to reuse freed memory instead of giving it back and asking
    again: by default its threshold for mapping an array afresh moves with the sizes
    freed, and every fresh mapping costs a page fault per 4 KiB touched. reluc makes
    arrays of the same sizes layer after layer (measured: ``stats`` of sort n=65536
    0.45 -> 0.11 s of system time, ``verify`` of n=16384 3.1 -> 1.3 s, peak memory +2%).
    Worker threads' own arenas (heaps of 64 MiB at most) gave theirs back all the same:
    one arena for all took verify of n=65536's exact pass from 833,000 page faults to
    47,000 (its threads spend their time in numpy and scipy, not in malloc's lock).
    False where there is no glibc (nothing changes there)."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    global _mallopt
    if all([mallopt(M_MMAP_THRESHOLD, MMAP_BYTES), mallopt(M_TRIM_THRESHOLD, TRIM_BYTES),
            mallopt(M_ARENA_MAX, ARENAS)]):
        _mallopt = mallopt
    return _mallopt is not None


@contextlib.contextmanager
def blocks_mapped(threshold: int = 128 << 10):
    """Within: blocks from ``threshold`` bytes up mapped afresh (glibc's default), for
    foreign code whose large buffers do better that way than in keep_memory's heap
    (onnxruntime opening the dense sort n=1024 file, 0.92 GB: 2.2 s and 1.84 GB of memory
    in the heap, 0.9 s and 1.01 GB mapped). Nothing changes where keep_memory did not."""
    if _mallopt:
        _mallopt(M_MMAP_THRESHOLD, threshold)
    try:
        yield
    finally:
        if _mallopt:
            _mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)


# in memory: a float64 value and an int32 column index, for the network and the copy the
# passes make of it
BYTES_PER_NONZERO = 24
# a streamed constructor's schedule and layers in flight, per neuron of the network
# (measured: 12 bytes for sort n=262144, 17 for n=65536)
STREAM_BYTES_PER_NEURON = 8
LARGE_WRITE = 1 << 30  # announce writes larger than this on stderr


class TooBig(RelucError):
    """The job would take more memory or disk than it may use."""


def parse_size(text: str) -> int:
    """``500M``, ``2G``, ``1.5GiB``, ``100000`` (bytes) -> bytes."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(i?[bB])?\s*", text)
    if not m:
        raise RelucError(f"cannot read the size '{text[:40]}': use bytes or a number with "
                         "K, M, G or T (powers of 1024), e.g. 2G")
    scale = 1024 ** " KMGT".index(m.group(2).upper() or " ")
    return int(float(m.group(1)) * scale)


def show(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError


def memory_limits() -> tuple[int | None, int | None]:
    """(MemAvailable, this process's ulimit -v) in bytes, None where unknown."""
    avail = cap = None
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        avail = int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        cap = None if soft == resource.RLIM_INFINITY else soft
    except (ImportError, ValueError, OSError):
        pass
    return avail, cap


def available_memory() -> int | None:
    """Bytes of memory this process can still get: MemAvailable, capped by ulimit -v."""
    known = [v for v in memory_limits() if v is not None]
    return min(known) if known else None


def guard_memory() -> None:
    """Cap this process's address space at what the machine has available (unless a
    lower cap is set): a job too big for the machine then fails with MemoryError, which
    the CLI reports as out of memory, instead of being killed by the kernel (or taking
    the machine down with it)."""
    try:
        import resource

        avail = available_memory()
        with open("/proc/self/status") as f:
            status = dict(line.split(":", 1) for line in f)
        used = int(status["VmSize"].split()[0]) * 1024
    except (ImportError, OSError, KeyError, ValueError):
        return
    if avail is None:
        return
    cap = used + avail * 85 // 100  # the kernel kills before all of it is used
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft > cap:
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        try:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        except (ValueError, OSError):
            pass


def _formula(ctor, key: str, values) -> int | None:
    if key not in ctor.formulas:
        return None
    try:
        v = ctor.formulas[key](values)
    except (ArithmeticError, ValueError, TypeError, KeyError, IndexError):
        return None
    finite = isinstance(v, int) or (isinstance(v, float) and math.isfinite(v))
    return int(v) if finite else None


def nonzeros_at_least(spec) -> int:
    """A lower bound on the nonzero weights of ``spec``'s network, from its formulas."""
    from reluc import registry  # here, not at the top: the CLI's start-up imports this

    ctor = registry.get(spec.name)
    values = spec.values
    found = [0] + [v for key in ("nonzero_params", "neurons", "width", "hidden_layers")
                   if (v := _formula(ctor, key, values)) is not None]
    n_in, n_out = ctor.dims(values)
    return max(found) + n_out


def memory_at_least(spec, nnz: int) -> tuple[int, str]:
    """A lower bound on the memory building ``spec`` takes, and what it counts. A network
    held whole: its nonzeros (:data:`BYTES_PER_NONZERO` each). A stream holds a few layers
    and the schedule it makes them from, which grows with the neurons
    (:data:`STREAM_BYTES_PER_NEURON`; sort n=262144 peaks at 12 bytes a neuron).
    ``nnz``: :func:`nonzeros_at_least` of the spec."""
    from reluc import registry

    ctor = registry.get(spec.name)
    if ctor.streams:
        neurons = _formula(ctor, "neurons", spec.values) or 0
        return neurons * STREAM_BYTES_PER_NEURON, f"at least {neurons} neurons, streamed"
    return nnz * BYTES_PER_NONZERO, f"at least {nnz} nonzero weights"


def check_spec(spec, max_size: int | None = None, path: str | None = None,
               memory: int | None = None) -> None:
    """Refuse a spec before its constructor runs when, by a lower bound on its nonzeros,
    its network cannot fit in memory (constructors that stream need a few layers only) or
    its smallest file (sparse, float32) cannot fit ``max_size`` or the free space where
    ``path`` goes."""
    nnz = nonzeros_at_least(spec)
    memory = available_memory() if memory is None else memory
    need, counted = memory_at_least(spec, nnz)
    if memory is not None and need > memory:
        raise TooBig(f"{spec.canonical()} needs at least {show(need)} of memory to build "
                     f"({counted}); this machine has {show(memory)} available")
    # a value and an index per stored entry, 8 bytes; an entry stands for two nonzeros
    # in a layer whose rows come in negated pairs (sparse ONNX layout)
    smallest = nnz * 4
    if max_size is not None and smallest > max_size:
        raise TooBig(f"{spec.canonical()} makes a file of at least {show(smallest)} (at least "
                     f"{nnz} nonzero weights), more than --max-size {show(max_size)}")
    if path is not None and path != "-":
        directory = os.path.dirname(os.path.abspath(path))
        try:
            free = shutil.disk_usage(directory).free
        except OSError:
            return
        if smallest > free:
            raise TooBig(f"{spec.canonical()} makes a file of at least {show(smallest)} (at "
                         f"least {nnz} nonzero weights) but {directory} has {show(free)} free")


def file_size_estimate(source, dtype: str, fmt: str, layout: str) -> int:
    """The file's size: exact for a dense ONNX layout (every entry is written), a lower
    bound otherwise (the nonzeros when known, else one per neuron and output; the sparse
    ONNX layout stores one row of each negated pair and no zero bias)."""
    item = {"float32": 4, "float64": 8}[dtype]
    if fmt == "onnx" and layout == "dense":
        return source.params * item
    widths = source.widths_out
    if _is_stream(source):
        nnz = list(widths)
    else:
        nnz = [layer.weight.nnz for layer in source.layers]
    rows = list(widths)
    if fmt == "onnx":
        pairs, zero = source.negated_pairs(), source.zero_biases()
        nnz = [k // 2 if p else k for k, p in zip(nnz, pairs)]
        rows = [0 if z else w for w, z in zip(widths, zero)]
    # a value and an int32 column index per nonzero; a bias (and an npz row pointer) per row
    return sum(nnz) * (item + 4) + sum(rows) * item + (8 * sum(widths) if fmt == "npz" else 0)


def _is_stream(source) -> bool:
    from reluc.net import LayerStream

    return isinstance(source, LayerStream)


def check_output(source, dtype: str, fmt: str, layout: str, path: str | None,
                 max_size: int | None) -> int:
    """The estimated file size; :class:`TooBig` past ``max_size`` or the free space of
    the file system ``path`` goes to (None: a stream, no free-space check)."""
    size = file_size_estimate(source, dtype, fmt, layout)
    exact = fmt == "onnx" and layout == "dense"
    what = f"{show(size)}" if exact else f"at least {show(size)}"
    if max_size is not None and size > max_size:
        raise TooBig(f"the file would take {what}, more than --max-size {show(max_size)}")
    if path is not None:
        directory = os.path.dirname(os.path.abspath(path))
        try:
            free = shutil.disk_usage(directory).free
        except OSError:
            free = None
        if free is not None and size > free:
            raise TooBig(f"the file would take {what} but {directory} has {show(free)} free")
    return size


class Capped:
    """A binary file that raises :class:`TooBig` once a write takes it past ``limit``
    bytes (``--max-size`` held while the file is written; the writer's atomic output
    then leaves nothing behind)."""

    def __init__(self, f, limit: int):
        self._f, self._limit = f, limit

    def write(self, data) -> int:
        n = self._f.write(data)
        if self._f.tell() > self._limit:
            raise TooBig(f"the file passed --max-size {show(self._limit)} while it was written")
        return n

    def __getattr__(self, name):
        return getattr(self._f, name)


def memory_detail(e: MemoryError) -> str:
    """What failed to fit and what this process may use, for the out-of-memory line."""
    avail, cap = memory_limits()
    return "".join([f" ({e})" if str(e) else "",
                    f"; this process may use {show(cap)} (ulimit -v)" if cap else "",
                    f"; the machine has {show(avail)} available" if avail else ""])


def one_blas_thread() -> None:
    """For a command that does no dense linear algebra (its products are scipy's sparse
    ones, or onnxruntime's): the thread a core that OpenBLAS starts on numpy's import
    would spin idle, 0.1 s of CPU (a tenth of ``stats`` of sort n=65536, a fifth of
    ``eval`` of a small network); one thread, unless numpy is already imported or the
    user's own ``OPENBLAS_NUM_THREADS`` says otherwise."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
