"""Generators of hostile input for reluc, shared by the suite (a fixed sample of cases,
tests/test_hostile.py) and ``make fuzz`` (tests/fuzz.py, for a time budget).

A case is a command line plus what it needs (stdin bytes, files); :func:`judge` runs it
in a subprocess with a time and memory limit and names the promise it breaks, if any:

- ``hang``: not finished within the time limit;
- ``crash``: killed by a signal (the kernel's OOM killer, a segfault in a native library);
- ``internal error``: exit 3, or a Python traceback anywhere in the output;
- ``unclear error``: exit 2 without exactly one ``Error:`` line on stderr (click's usage
  errors excepted: a usage hint, then one ``Error:`` line, last);
- ``lie``: exit 0 from ``eval`` with a non-finite number in its output;
- ``leftover``: a failed build left a file behind;
- ``exit code``: anything but 0, 1 or 2.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field

import numpy as np
import onnx

CONSTRUCTORS = ["sort", "max", "min", "minmax", "topk", "kth", "median", "abs", "relu",
                "identity", "pwl", "pwl2d", "sawtooth", "hard", "hardcomp", "zonotope",
                "square", "mul", "monomials", "exp", "sincos", "norm2", "norm", "disk",
                "lattice", "maxaffine", "nosuch", "Sort", ""]
KEYS = ["n", "k", "L", "d", "depth", "method", "domain", "points", "a", "M", "b", "levels",
        "radius", "planes", "groups", "xs", "ys", "values", "nosuch", "n"]
HOSTILE_NUMBERS = [
    "0", "1", "2", "3", "-1", "7", "64", "1000", "65536", "16777217", "2147483648", "-0",
    "1e5000", "1e-5000", "1e100000000", "1e308", "1e-320", "0.1", "1/3", "1/0", "3/",
    "\u0663", "1\u00a02", "1_000", "nan", "inf", "-inf", "0x10", "", " ", "9" * 5000,
    "1" * 40, "1e", ".", "+", "--1", "1,2", "0,1", "-1,1", "1,0", "0,1e400", "0:0,1:1",
    "0:0,1:1,2:0", "0:0,0:1", "1,2;3,4", "1,2;3", ";", ",", "best", "bitonic", "oddeven",
    "\x00", "\ufeff1", "é", "1" + "0" * 400,
]


@dataclass
class Case:
    category: str  # "spec", "file", "rows"
    args: list[str]
    stdin: bytes = b""
    files: dict[str, bytes] = field(default_factory=dict)
    note: str = ""
    build_target: str | None = None  # a build's output: must not exist after a failure

    def describe(self) -> str:
        shown = " ".join(a if len(a) < 60 else a[:57] + "..." for a in self.args)
        return f"{self.category}: reluc {shown}" + (f" ({self.note})" if self.note else "")


# -- specs ------------------------------------------------------------------------------


def random_spec(rng: random.Random) -> str:
    name = rng.choice(CONSTRUCTORS)
    parts = [name]
    for _ in range(rng.randint(0, 4)):
        key = rng.choice(KEYS)
        value = rng.choice(HOSTILE_NUMBERS)
        if rng.random() < 0.2:
            value = value + rng.choice([",", ":", ";", "/", "e"]) + rng.choice(HOSTILE_NUMBERS)
        parts.append(f"{key}={value}")
    if rng.random() < 0.05:
        parts.append("# a comment")
    if rng.random() < 0.05:
        parts.append("garbage")
    return " ".join(parts)


def spec_case(rng: random.Random) -> Case:
    spec = random_spec(rng)
    target = "out.onnx" if rng.random() < 0.7 else "out.npz"
    extra = rng.choice([[], ["--dtype", "float64"], ["--layout", "sparse"],
                        ["--external-data"], ["--max-size", rng.choice(["1K", "10M", "x"])]])
    if rng.random() < 0.2 or "\x00" in spec:  # as a spec file (argv cannot hold NUL)
        data = (("\ufeff" if rng.random() < 0.5 else "") + spec + "\n").encode()
        return Case("spec", ["build", "s.spec", "-o", target, "--max-size", "50M", *extra],
                    files={"s.spec": data}, build_target=target)
    return Case("spec", ["build", spec, "-o", target, "--max-size", "50M", *extra],
                build_target=target)


# -- files ------------------------------------------------------------------------------


def seed_files(directory: str) -> dict[str, bytes]:
    """Valid files to damage: ONNX dense and sparse, .npz, float64."""
    from reluc.cli import main

    out = {}
    for name, spec, extra in [("d.onnx", "sort n=4", []), ("s.onnx", "sort n=4", ["--layout", "sparse"]),
                              ("n.npz", "sort n=4", []), ("t.onnx", "pwl points=0:0,1:1,2:0", ["--dtype", "float64"]),
                              ("m.onnx", "max n=3", [])]:
        path = os.path.join(directory, name)
        try:
            main(["build", spec, "-o", path, "-q", *extra], prog_name="reluc")
        except SystemExit:
            pass
        with open(path, "rb") as f:
            out[name] = f.read()
    return out


def _bit_flips(data: bytes, rng: random.Random, count: int) -> bytes:
    b = bytearray(data)
    for _ in range(count):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


PROP_VALUES = ["", "x", "1e400", "1e100000000", "-1", "nan", '{"dim":600000000,"lo":"0","hi":"1"}',
               '{"dim":1e400}', "[1,2]", "{}", '{"dim":4,"lo":"1","hi":"0"}', "true", "sort n=\u0663",
               "sort n=100000000", "nosuch n=3", "sort n=5", "0", "1/0", "9" * 10000]
PROP_KEYS = ["reluc.spec", "reluc.domain", "reluc.error_bound", "reluc.exact", "reluc.params",
             "reluc.input_limit", "reluc.dtype", "reluc.format", "reluc.rounding"]


def _edit_model(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    from onnx import numpy_helper

    m = onnx.ModelProto()
    m.ParseFromString(data)
    kind = rng.choice(["prop", "init", "node", "attr", "shape"])
    if kind == "prop":
        key, value = rng.choice(PROP_KEYS), rng.choice(PROP_VALUES)
        for p in m.metadata_props:
            if p.key == key:
                p.value = value
                break
        else:
            m.metadata_props.add(key=key, value=value)
        note = f"{key}={value[:30]}"
    elif kind == "init" and m.graph.initializer:
        t = rng.choice(m.graph.initializer)
        a = numpy_helper.to_array(t).copy()
        how = rng.choice(["nan", "inf", "huge", "resize", "transpose", "zero"])
        if how == "nan" and a.dtype.kind == "f" and a.size:
            a.flat[rng.randrange(a.size)] = np.nan
        elif how == "inf" and a.dtype.kind == "f" and a.size:
            a.flat[rng.randrange(a.size)] = np.inf
        elif how == "huge" and a.dtype.kind == "f" and a.size:
            a.flat[rng.randrange(a.size)] = np.finfo(a.dtype).max
        elif how == "resize":
            a = np.resize(a, (a.size + rng.choice([-1, 1, 7]),)) if a.size > 1 else a
        elif how == "transpose" and a.ndim == 2:
            a = a.T.copy()
        elif how == "zero":
            a = np.zeros_like(a)
        t.CopyFrom(numpy_helper.from_array(a, t.name))
        note = f"initializer {t.name}: {how}"
    elif kind == "node" and m.graph.node:
        n = rng.choice(m.graph.node)
        n.op_type = rng.choice(["Sigmoid", "Add", "Sub", "MatMul", "Identity", "Tanh", "Relu",
                                "Gather", "Mul", "ReduceSum", "Reshape", "Transpose"])
        note = f"node {n.name} -> {n.op_type}"
    elif kind == "attr" and m.graph.node:
        n = rng.choice(m.graph.node)
        for a in n.attribute:
            if a.type == onnx.AttributeProto.INT:
                a.i = rng.choice([0, 1, 2, -1, 10**9])
            elif a.type == onnx.AttributeProto.FLOAT:
                a.f = rng.choice([0.0, -1.0, float("nan"), 1e38])
            elif a.type == onnx.AttributeProto.INTS:
                del a.ints[:]
                a.ints.extend(rng.choice([[0, 1], [1, 0], [2], []]))
        note = f"attributes of {n.name}"
    else:
        inp = m.graph.input[0].type.tensor_type.shape.dim
        if len(inp) == 2:
            inp[rng.randrange(2)].dim_value = rng.choice([1, 3, 5, 10**9])
        note = "input shape"
    return m.SerializeToString(), note


def _edit_npz(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    import io
    import json

    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        members = dict(z)
    name = rng.choice(sorted(members))
    how = rng.choice(["meta", "nan", "resize", "dtype", "drop"])
    if how == "meta":
        meta = json.loads(str(members["meta"][()]))
        key = rng.choice(["layers", "dtype", "metadata", "format"])
        meta[key] = rng.choice([1e300, -1, "complex128", "object", [1], None, 10**12, "x"])
        members["meta"] = np.array(json.dumps(meta))
        note = f"meta.{key}"
    elif how == "nan" and members[name].dtype.kind == "f" and members[name].size:
        members[name] = members[name].copy()
        members[name].flat[0] = np.nan
        note = f"{name}: NaN"
    elif how == "resize" and members[name].size > 1:
        members[name] = np.resize(members[name], members[name].size + rng.choice([-1, 3]))
        note = f"{name}: resized"
    elif how == "dtype" and members[name].dtype.kind in "fiu":
        members[name] = members[name].astype(rng.choice([np.complex64, np.int8, np.float16]))
        note = f"{name}: dtype"
    else:
        members.pop(name)
        note = f"{name}: dropped"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in members.items():
            with zf.open(k + ".npy", "w") as f:
                np.lib.format.write_array(f, np.asanyarray(v), allow_pickle=False)
    return buf.getvalue(), note


def file_case(rng: random.Random, seeds: dict[str, bytes]) -> Case:
    name = rng.choice(sorted(seeds))
    data = seeds[name]
    how = rng.choice(["truncate", "flip", "edit", "edit", "edit", "garbage"])
    if how == "truncate":
        data, note = data[: rng.randrange(len(data))], "truncated"
    elif how == "flip":
        count = rng.choice([1, 2, 8])
        data, note = _bit_flips(data, rng, count), f"{count} bit flips"
    elif how == "garbage":
        data, note = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))), "garbage"
    else:
        try:
            data, note = (_edit_npz if name.endswith(".npz") else _edit_model)(data, rng)
        except Exception as e:  # a seed the editor cannot parse: send the bytes as they are
            note = f"unedited ({type(e).__name__})"
    target = "net" + os.path.splitext(name)[1]
    command = rng.choice([["stats", target], ["eval", target], ["verify", target],
                          ["verify", "--complete", target], ["stats", "--json", target]])
    width = 1 if name == "t.onnx" else 3 if name == "m.onnx" else 4
    rows = " ".join(str(rng.choice([1, -2, 3.5, 0])) for _ in range(width)) + "\n"
    return Case("file", command, stdin=rows.encode(), files={target: data}, note=f"{name} {note}")


def rows_case(rng: random.Random, seeds: dict[str, bytes]) -> Case:
    """Hostile eval input for a valid network."""
    parts = [rng.choice(HOSTILE_NUMBERS + ["1", "2", "1e38", "-3.4e38", "3.5e38", "1e39",
                                           "16777217", "\t", "#", "1e-46"])
             for _ in range(rng.choice([3, 4, 4, 5]))]
    text = rng.choice([" ", ",", ", ", "\t"]).join(parts)
    if rng.random() < 0.1:
        text = "\xff\xfe" + text
    data = (text + "\n").encode("utf-8", "surrogateescape") if rng.random() < 0.9 \
        else text.encode("latin-1", "replace")
    if rng.random() < 0.5:
        return Case("rows", ["eval", "net.onnx"], stdin=data, files={"net.onnx": seeds["d.onnx"]},
                    note=repr(text[:40]))
    return Case("rows", ["eval", "net.onnx", "-i", "rows.txt"],
                files={"net.onnx": seeds["d.onnx"], "rows.txt": data}, note=repr(text[:40]))


# -- judging ----------------------------------------------------------------------------

MEMORY_LIMIT = 4 << 30


def judge(case: Case, directory: str, timeout: float = 30,
          program: list[str] | None = None) -> str | None:
    """Run ``case`` in ``directory`` (emptied first); the broken promise, or None.
    ``program``: what runs instead of ``python -m reluc`` (to test the judge itself)."""
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    for name, data in case.files.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    env = dict(os.environ, PYTHONWARNINGS="ignore")
    try:
        r = subprocess.run([*(program or [sys.executable, "-m", "reluc"]), *case.args],
                           input=case.stdin,
                           cwd=directory, capture_output=True, timeout=timeout,
                           preexec_fn=limit, env=env)
    except subprocess.TimeoutExpired:
        return "hang"
    err = r.stderr.decode("utf-8", "replace")
    out = r.stdout.decode("utf-8", "replace")
    if r.returncode < 0:
        return f"crash ({signal.Signals(-r.returncode).name})"
    if r.returncode == 3 or "Traceback" in err or "Traceback" in out:
        return "internal error"
    if r.returncode not in (0, 1, 2):
        return "exit code"
    lines = err.strip().splitlines()
    if r.returncode == 2:
        usage = lines and lines[0].startswith("Usage:")
        errors = [ln for ln in lines if ln.startswith("Error:")]
        if usage and not (lines[-1].startswith("Error:") and len(errors) == 1):
            return "unclear error"
        if not usage and not (len(lines) == 1 and lines[0].startswith("Error:")):
            return "unclear error"
    if r.returncode == 0 and case.args[0] == "eval":
        if any(tok.lower() in ("nan", "inf", "-inf") for tok in out.split()):
            return "lie"
    if r.returncode != 0 and case.build_target is not None:
        left = [n for n in os.listdir(directory) if n not in case.files]
        if left:
            return "leftover"
    return None
