"""The CLI as a user drives it: build, eval, stats, list; errors and exit codes."""

import json
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
from conftest import assert_one_line_error, build, former_sparse


def test_three_spec_forms_give_byte_identical_files(cli, tmp_path):
    spec_file = tmp_path / "sort64.spec"
    spec_file.write_text("# 64 numbers\nsort n=64   # bitonic\n")
    for ext in ("onnx", "npz"):
        outs = [tmp_path / f"{i}.{ext}" for i in range(4)]
        cli("build", "sort", "--n", "64", "-o", outs[0])
        cli("build", "sort n=64", "-o", outs[1])
        cli("build", spec_file, "-o", outs[2])
        cli("build", "sort", "n=064", "-o", outs[3])
        data = {p.read_bytes() for p in outs}
        assert len(data) == 1


def test_build_to_stdout_writes_the_same_bytes(cli, tmp_path):
    cli("build", "max n=5", "-o", tmp_path / "m.onnx")
    r = cli("build", "max n=5", "-o", "-")
    assert r.stdout_bytes == (tmp_path / "m.onnx").read_bytes()
    assert "wrote stdout" in r.stderr
    r = cli("build", "max n=5", "-o", "-", "--format", "npz", "-q")
    assert r.stdout_bytes[:4] == b"PK\x03\x04" and r.stderr == ""


def test_build_reports_what_it_wrote_on_stderr(cli, tmp_path):
    r = cli("build", "sort n=8", "-o", tmp_path / "s.onnx")
    assert r.stdout == ""
    assert "sort n=8 method=best, 6 hidden layers, width 16" in r.stderr


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["sorter", "--n", "4"], ["unknown constructor 'sorter'", "choose from"]),
        (["sort", "--m", "4"], ["unknown parameter 'm'", "valid parameters: n"]),
        (["sort n=abc"], ["n must be an integer"]),
        (["sort", "--n", "0"], ["n must be >= 1"]),
        (["sort", "--n"], ["option --n needs a value"]),
        (["pwl points=0:1,0:2"], ["strictly increasing"]),
        (["missing.spec"], ["cannot read spec file 'missing.spec'"]),
    ],
)
def test_bad_specs_fail_with_one_line_and_write_nothing(cli, tmp_path, args, fragments):
    out = tmp_path / "out.onnx"
    r = cli("build", *args, "-o", out, ok=False)
    assert_one_line_error(r, *fragments)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary files either


def test_a_failed_build_leaves_an_existing_target_untouched(cli, tmp_path):
    out = tmp_path / "s.onnx"
    cli("build", "sort n=4", "-o", out)
    before = out.read_bytes()
    r = cli("build", "sort n=-4", "-o", out, ok=False)
    assert r.exit_code == 2 and out.read_bytes() == before


def test_output_problems_are_one_line_errors(cli, tmp_path):
    r = cli("build", "sort n=4", "-o", tmp_path / "s.txt", ok=False)
    assert_one_line_error(r, "cannot tell the format", "--format")
    r = cli("build", "sort n=4", "-o", tmp_path / "no" / "such" / "dir.onnx", ok=False)
    # the target is named, not a temporary file beside it
    assert_one_line_error(r, "dir.onnx", "no such directory")
    assert ".reluc-" not in r.stderr
    r = cli("build", "sort n=4", ok=False)
    assert r.exit_code == 2 and "Missing option '-o'" in r.stderr
    # a usage error: click's usage hint, then one Error line, last
    assert r.stderr.startswith("Usage: ") and " build [OPTIONS] SPEC" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("Error: Missing option '-o'")


@pytest.fixture
def sort3(cli, tmp_path):
    path = tmp_path / "sort3.onnx"
    cli("build", "sort", "--n", "3", "-o", path)
    return path


def test_eval_reads_rows_on_stdin(cli, sort3):
    r = cli("eval", sort3, input="3 1 2\n")
    assert r.stdout == "1 2 3\n"
    r = cli("eval", sort3, input="# header\n\n3,1,2\n0.5, -2 1e3\n")
    assert r.stdout == "1 2 3\n-2 0.5 1000\n"


def test_eval_files_in_and_out(cli, sort3, tmp_path):
    rows = tmp_path / "rows.txt"
    rows.write_text("3 1 2\n9 8 7\n")
    cli("eval", sort3, "-i", rows, "-o", tmp_path / "y.txt")
    assert (tmp_path / "y.txt").read_text() == "1 2 3\n7 8 9\n"
    np.save(tmp_path / "x.npy", np.array([[3.0, 1, 2], [-1, -2, -3]]))
    cli("eval", sort3, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.float32 and y.tolist() == [[1, 2, 3], [-3, -2, -1]]


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("3 1 2\n4 5\n", ["row 2 has 2 values, expected 3"]),
        ("3 1 2\n1 two 3\n", ["row 2: 'two' is not a number"]),
        ("1 2 inf\n", ["row 1: 'inf' is not a finite number"]),
        ("1 2 -NaN\n", ["row 1: '-NaN' is not a finite number"]),
        ("1 2 1e999\n", ["row 1: '1e999' is not a finite number"]),
        ("1_000 2 3\n", ["row 1: '1_000' is not a number"]),  # float() takes it
        ("\u0661 2 3\n", ["row 1: '\u0661' is not a number"]),  # an Arabic-Indic 1
        ("0x10 2 3\n", ["row 1: '0x10' is not a number"]),
    ],
)
def test_bad_rows_are_one_line_errors(cli, sort3, text, fragments):
    r = cli("eval", sort3, input=text, ok=False)
    assert_one_line_error(r, *fragments)
    assert r.stdout == ""


def test_bad_npy_input(cli, sort3, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 4)))
    r = cli("eval", sort3, "-i", tmp_path / "x.npy", ok=False)
    assert_one_line_error(r, "shape (2, 4), expected (rows, 3)")
    for bad in (np.nan, np.inf, -np.inf):
        x = np.ones((3, 3))
        x[2, 1] = bad
        np.save(tmp_path / "x.npy", x)
        r = cli("eval", sort3, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy", ok=False)
        assert_one_line_error(r, "row 3 of the .npy input holds a non-finite value")
        assert not (tmp_path / "y.npy").exists()
    np.save(tmp_path / "x.npy", np.array([["a", "b", "c"]]))
    assert_one_line_error(cli("eval", sort3, "-i", tmp_path / "x.npy", ok=False),
                          "must hold a numeric array")


NPY_FORMS = {  # how another tool may store the same integer-valued rows
    "float64": lambda x: x, "float32": lambda x: x.astype(np.float32),
    ">f8": lambda x: x.astype(">f8"), ">f4": lambda x: x.astype(">f4"),
    "float16": lambda x: x.astype(np.float16), "int64": lambda x: x.astype(np.int64),
    "int16": lambda x: x.astype(np.int16), "uint8": lambda x: (x + 100).astype(np.uint8),
    "fortran": np.asfortranarray, "fortran32": lambda x: np.asfortranarray(x, np.float32),
    "one row": lambda x: x[0],
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_npy_inputs_of_every_numeric_dtype_give_the_same_outputs(cli, tmp_path, monkeypatch,
                                                                 dtype):
    from reluc import rows

    monkeypatch.setattr(rows, "_CHUNK_BYTES", 64)  # two rows a chunk: seven rows, four chunks
    net = build(cli, tmp_path, "sort n=4", "s.onnx", "--dtype", dtype)
    x = np.random.default_rng(5).integers(-100, 100, size=(7, 4)).astype(np.float64)
    for name, form in NPY_FORMS.items():
        data = form(x)
        np.save(tmp_path / "x.npy", data)
        want = np.sort(np.atleast_2d(data).astype(np.float64), axis=1)
        for runtime in ("scipy", "ort"):
            cli("eval", net, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy",
                "--runtime", runtime)
            y = np.load(tmp_path / "y.npy")
            assert y.dtype == dtype and np.array_equal(y, want), (name, runtime)
        if data.dtype.kind == "f" and data.ndim == 2:  # a non-finite value in row 5
            bad = data.copy()
            bad[4, 2] = np.nan
            np.save(tmp_path / "x.npy", bad)
            assert_one_line_error(cli("eval", net, "-i", tmp_path / "x.npy", ok=False),
                                  "row 5 of the .npy input holds a non-finite value")


def test_the_last_row_needs_no_newline(cli, sort3):
    assert cli("eval", sort3, input="3 1 2\n9 8 7").stdout == "1 2 3\n7 8 9\n"
    assert cli("eval", sort3, input="5,4,6").stdout == "4 5 6\n"


@pytest.mark.parametrize("ext", ["onnx", "npz"])
def test_zero_rows_give_zero_rows_of_the_output_width(cli, tmp_path, ext):
    net = tmp_path / f"m.{ext}"
    cli("build", "max n=3", "-o", net)
    np.save(tmp_path / "x.npy", np.zeros((0, 3)))
    cli("eval", net, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (0, 1) and y.dtype == np.float32
    assert cli("eval", net, input="# nothing\n\n").stdout == ""


def test_eval_help_says_the_output_form_follows_dash_o(cli):
    out = " ".join(cli("eval", "--help").stdout.split())
    assert "the form follows -o" in out and "same form as the inputs" not in out


def test_npz_and_onnx_of_one_spec_evaluate_identically(cli, tmp_path):
    for ext in ("onnx", "npz"):
        cli("build", "sort n=32", "-o", tmp_path / f"s.{ext}")
    rng = np.random.default_rng(1)
    np.save(tmp_path / "ints.npy", rng.integers(-1000, 1000, size=(200, 32)).astype(np.float64))
    np.save(tmp_path / "floats.npy", rng.normal(size=(200, 32)))
    for data in ("ints", "floats"):
        ys = []
        for ext in ("onnx", "npz"):
            cli("eval", tmp_path / f"s.{ext}", "-i", tmp_path / f"{data}.npy",
                "-o", tmp_path / f"y-{ext}.npy")
            ys.append(np.load(tmp_path / f"y-{ext}.npy"))
        np.testing.assert_array_equal(ys[0], ys[1])
        x = np.load(tmp_path / f"{data}.npy").astype(np.float32)
        if data == "ints":
            np.testing.assert_array_equal(ys[0], np.sort(x, axis=1))
        else:  # min(x, y) = y - relu(y - x) rounds: each of the 15 stages may add a
            # rounding of the order of the row's largest magnitude
            scale = np.abs(x).max(axis=1, keepdims=True)
            err = np.abs(ys[0] - np.sort(x, axis=1)) / (scale * np.finfo(np.float32).eps)
            assert 0 < err.max() <= 2 * 15


def test_sawtooth_10_has_1024_pieces_through_onnxruntime(cli, tmp_path):
    path = tmp_path / "saw.onnx"
    cli("build", "sawtooth k=10", "-o", path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = (np.arange(2**12 + 1) / 2**12).astype(np.float32).reshape(-1, 1)
    y = sess.run(None, {"x": x})[0].ravel().astype(np.float64)
    j = np.arange(2**12 + 1)
    phase = (j % 8) / 4  # t^10(x) = 1 - |2^10 x mod 2 - 1| on the grid j / 2^12
    np.testing.assert_array_equal(y, 1 - np.abs(phase - 1))
    slopes = np.diff(y) * 2**12
    assert np.count_nonzero(np.diff(slopes)) + 1 == 1024


def test_stats_json(cli, tmp_path):
    path = tmp_path / "s.onnx"
    cli("build", "sort n=16 method=bitonic", "-o", path)
    s = json.loads(cli("stats", path, "--json").stdout)
    assert s["schema"] == 1 and s["spec"] == "sort n=16 method=bitonic"
    assert (s["inputs"], s["outputs"], s["depth"], s["hidden_layers"]) == (16, 16, 11, 10)
    assert s["neuron_layers"] == 12 and s["width"] == 32 and s["widths"] == [32] * 10
    assert s["neurons"] == 320
    assert s["params"] == 32 * 16 + 32 + 9 * (32 * 32 + 32) + 16 * 32 + 16
    assert s["nonzero_params"] == 9 * 16 * 10 - 3 * 16
    assert s["file_size"] == path.stat().st_size and s["exact"] is True


def test_stats_text_and_npz_agree(cli, tmp_path):
    cli("build", "sawtooth k=5", "-o", tmp_path / "s.onnx")
    cli("build", "sawtooth k=5", "-o", tmp_path / "s.npz")
    a = json.loads(cli("stats", tmp_path / "s.onnx", "--json").stdout)
    b = json.loads(cli("stats", tmp_path / "s.npz", "--json").stdout)
    for key in ("depth", "widths", "params", "nonzero_params", "spec", "exact"):
        assert a[key] == b[key]
    text = cli("stats", tmp_path / "s.onnx").stdout
    assert "hidden layers:  5" in text and "widths:         2 x5" in text


@pytest.mark.parametrize("command", ["stats", "eval"])
def test_damaged_or_missing_network_files(cli, tmp_path, command):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a network at all")
    r = cli(command, bad, input="1\n", ok=False)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli(command, tmp_path / "missing.onnx", input="1\n", ok=False)
    assert r.exit_code == 2


def test_list_shows_every_constructor_and_explains_one(cli):
    out = cli("list").stdout
    for name in ("sort", "max", "min", "minmax", "sawtooth", "pwl", "abs", "relu", "identity"):
        assert f"\n{name} " in out
    assert "continuous" in out
    one = cli("list", "sort").stdout
    assert "n: integer" in one and "default 8" in one and "hidden_layers" in one
    data = json.loads(cli("list", "--json").stdout)
    assert data["schema"] == 1 and {c["name"] for c in data["constructors"]} >= {"sort", "pwl"}
    assert_one_line_error(cli("list", "sorter", ok=False), "unknown constructor")


@pytest.mark.parametrize("command", [[], ["build"], ["eval"], ["stats"], ["list"]])
def test_every_command_has_help_with_an_example(cli, command):
    out = cli(*command, "--help").stdout
    assert "Usage:" in out and "Example" in out


def test_python_dash_m_runs_the_cli(tmp_path):
    r = subprocess.run([sys.executable, "-m", "reluc", "build", "sort n=3", "-o", "-"],
                       capture_output=True, check=True)
    r2 = subprocess.run([sys.executable, "-m", "reluc", "stats", "-", "--json"],
                        input=r.stdout, capture_output=True, check=True)
    assert json.loads(r2.stdout)["spec"] == "sort n=3 method=best"
    r3 = subprocess.run([sys.executable, "-m", "reluc", "--help"], capture_output=True, text=True)
    assert r3.stdout.startswith("Usage: reluc")


def test_a_file_named_like_a_constructor_does_not_take_over_the_spec(cli, tmp_path,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sort").write_text("")  # `touch sort`: it was read as an empty spec file
    r = cli("build", "sort", "--n", "3", "-o", "a.onnx")
    assert "note: 'sort' is a constructor and a file here; building the constructor " \
           "(write ./sort for the file)" in r.stderr
    assert "sort n=3 method=best" in r.stderr
    assert cli("build", "sort", "--n", "3", "-o", "b.onnx", "-q").stderr == ""
    (tmp_path / "sort").write_text("max n=4\n")
    r = cli("build", "./sort", "-o", "c.onnx")  # the file, when the path says so
    assert "max n=4" in r.stderr and "note:" not in r.stderr
    (tmp_path / "mine").write_text("min n=2\n")  # not a constructor: the file
    assert "min n=2" in cli("build", "mine", "-o", "d.onnx").stderr


# -- exit codes and messages, as the README promises them ------------------------------------


def test_an_internal_error_exits_3_in_one_line_and_shows_a_traceback_when_debugging(
        cli, tmp_path, monkeypatch):
    from reluc.analysis import stats

    def broken(path):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(stats, "file_stats", broken)
    cli("build", "sort n=3", "-o", tmp_path / "s.onnx", "-q")
    r = cli("stats", tmp_path / "s.onnx", ok=False)
    assert_one_line_error(r, "internal error (ZeroDivisionError: a bug)", "RELUC_DEBUG=1",
                          code=3)
    monkeypatch.setenv("RELUC_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli("stats", tmp_path / "s.onnx", ok=False)


def test_warnings_go_to_stderr_and_the_file_to_stdout(cli):
    r = cli("build", "pwl points=0:0,3:1,6:0", "-o", "-", "--format", "npz", "-q")
    assert r.stderr.startswith("warning: ") and len(r.stderr.splitlines()) == 1
    assert r.stdout_bytes[:4] == b"PK\x03\x04" and r.exit_code == 0


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(cli, tmp_path,
                                                                        monkeypatch):
    from reluc.formats import onnxwrite  # (the writer formats.write imports)

    out = tmp_path / "s.onnx"
    cli("build", "sort n=4", "-o", out, "-q")
    before = out.read_bytes()

    def failing(*args, **kwargs):
        args[2].write(b"half a network")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnxwrite, "write_onnx", failing)
    r = cli("build", "sort n=5", "-o", out, ok=False)
    assert_one_line_error(r, f"cannot write '{out}': No space left on device")
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.onnx"]


def test_stats_counts_nonzero_biases(cli, tmp_path):
    path = tmp_path / "s.onnx"
    cli("build", "sawtooth k=5", "-o", path, "-q")  # each hidden layer: relu(u - 1/2)
    s = json.loads(cli("stats", path, "--json").stdout)
    assert (s["nonzero_weights"], s["nonzero_biases"], s["nonzero_params"]) == (20, 5, 25)


def run_then(args, expr: str, env: dict | None = None
             ) -> tuple[subprocess.CompletedProcess, str]:
    """``reluc args`` in a fresh Python (environment ``env``); its result, and the value
    of the Python expression ``expr`` after it (printed on the last line of its output)."""
    script = ("import os, sys\nfrom reluc.cli import run\ntry:\n    run(sys.argv[2:])\n"
              "except SystemExit:\n    pass\nprint(eval(sys.argv[1]))")
    r = subprocess.run([sys.executable, "-c", script, expr, *map(str, args)],
                       capture_output=True, text=True, timeout=60, env=env)
    return r, r.stdout.strip().splitlines()[-1]


def imported(args, modules: list[str]) -> tuple[subprocess.CompletedProcess, str]:
    """``reluc args`` in a fresh Python; its result, and which of ``modules`` it imported
    (a list)."""
    return run_then(args, f"sorted(m for m in {modules!r} if m in sys.modules)")


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["build", "--help"],
                                  ["verify", "--help"], ["list", "--help"]])
def test_start_up_imports_nothing_heavy(args):
    """--help and --version need click alone: numpy, scipy, onnx, onnxruntime and
    importlib.metadata are imported by the commands that use them, not at start-up."""
    r, heavy = imported(args, ["numpy", "scipy", "onnx", "onnxruntime", "importlib.metadata"])
    assert heavy == "[]", r.stdout + r.stderr


@pytest.mark.parametrize("layout", ["sparse", "dense", "slots", "rows"])
def test_stats_of_an_onnx_file_makes_no_matrix_and_imports_no_scipy(cli, tmp_path, layout):
    """stats counts reluc's tables as they are read: scipy.sparse, imported where a matrix
    is made, is not imported at all (0.1 s of its start-up); in both layouts, and in the
    sparse layouts of earlier versions (``slots``, ``rows``)."""
    path = tmp_path / "s.onnx"
    cli("build", "sort n=8", "-o", path, "-q", "--layout", "dense" if layout == "dense" else
        "sparse")
    if layout in ("slots", "rows"):
        path = former_sparse(path, tmp_path / "f.onnx", layout)
    r, scipy = imported(["stats", path, "--json"], ["scipy"])
    counts = json.loads(r.stdout.splitlines()[0])
    assert counts["nonzero_weights"] == json.loads(cli("stats", path, "--json").stdout)[
        "nonzero_weights"] > 0
    assert scipy == "[]", r.stdout + r.stderr


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or (os.cpu_count() or 1) < 2,
                    reason="threads counted in Linux's /proc, on two cores or more")
@pytest.mark.parametrize("setting, threads", [(None, 1), ("2", 2)])
@pytest.mark.parametrize("command", ["stats", "eval"])
def test_stats_and_eval_start_no_idle_blas_thread_unless_asked(cli, tmp_path, setting,
                                                               threads, command):
    """stats and eval do no dense linear algebra: numpy's import starts no second
    OpenBLAS thread to spin idle, unless the user's OPENBLAS_NUM_THREADS asks for it."""
    path, rows = tmp_path / "s.onnx", tmp_path / "x.txt"
    cli("build", "sort n=8", "-o", path, "-q")
    rows.write_text("5 -1 3 3 0 2.5 -7 1\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env.update({"OPENBLAS_NUM_THREADS": setting} if setting else {})
    args = ["stats", path, "--json"] if command == "stats" else ["eval", path, "-i", rows]
    # (the least count over a second: eval's worker threads, joined, may take a moment
    # to leave /proc; OpenBLAS's stay)
    r, seen = run_then(args, "min((__import__('time').sleep(0.05) or 0) + "
                       "len(os.listdir('/proc/self/task')) for _ in range(20))", env)
    first = r.stdout.splitlines()[0]
    assert (json.loads(first)["nonzero_weights"] > 0 if command == "stats" else
            first.split() == ["-7", "-1", "0", "1", "2.5", "3", "3", "5"]), r.stderr
    assert int(seen) == threads


def test_the_version_constant_is_the_installed_packages():
    from importlib.metadata import version

    import reluc

    assert reluc.__version__ == version("reluc")
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "pyproject.toml"), encoding="utf-8") as f:
        assert f'version = "{reluc.__version__}"' in f.read()
