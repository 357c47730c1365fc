"""Shared helpers: drive the CLI the way a user does (click's CliRunner); the Hypothesis
profile."""

from __future__ import annotations

import os

import onnx
import pytest
from click.testing import CliRunner
from hypothesis import settings
from onnx import numpy_helper

# "ci" (the default, what `make test` and CI run): derandomized, so every run draws the
# same examples and a failure reproduces; "dev" (HYPOTHESIS_PROFILE=dev make test)
# explores new examples each run, keeping failures in .hypothesis/ to replay them.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from reluc.cli import main


class Cli:
    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args, input=None, ok=True):
        result = self.runner.invoke(main, [str(a) for a in args], input=input,
                                    catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise AssertionError(f"reluc {' '.join(map(str, args))} failed "
                                 f"({result.exit_code}): {result.stderr}")
        return result


@pytest.fixture
def cli():
    return Cli()


def assert_one_line_error(result, *fragments, code=2):
    """A user error: the exit code, exactly one line on stderr, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def build(cli, tmp_path, spec, name, *extra):
    """``reluc build SPEC -o tmp_path/name -q``; the path."""
    path = tmp_path / name
    cli("build", spec, "-o", path, "-q", *extra)
    return path


def edit_onnx(path, fn):
    """Apply fn(model) to an ONNX file in place (external data stays where it is)."""
    m = onnx.load(str(path), load_external_data=False)
    fn(m)
    onnx.save(m, str(path))


def edit_initializer(m, name, fn):
    """Replace initializer ``name`` of model ``m`` by fn(its array): fn changes the
    array in place (returning None) or returns a new one."""
    tensor = next(t for t in m.graph.initializer if t.name == name)
    a = numpy_helper.to_array(tensor).copy()
    new = fn(a)
    tensor.CopyFrom(numpy_helper.from_array(a if new is None else new, name))


def data_file(model):
    """The one external data file beside ``model`` (named ``<model>.<digest>.data``)."""
    import glob

    found = glob.glob(glob.escape(str(model)) + ".*.data")
    assert len(found) == 1, found
    return type(model)(found[0]) if not isinstance(model, str) else found[0]
