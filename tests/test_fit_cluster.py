"""``reluc fit`` spread out: local processes and a Dask cluster give the same network,
byte for byte, as one process; a cluster that cannot be reached, or dask.distributed
missing, is a one-line error."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import assert_one_line_error


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(12)
    x = rng.uniform(-1, 1, size=12)
    y = np.abs(x) - np.maximum(x - 0.4, 0) + 0.1 * rng.normal(size=12)
    path = tmp_path_factory.mktemp("fit") / "d.csv"
    path.write_text("".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(x, y)))
    return path


def test_one_process_two_and_a_dask_cluster_write_the_same_bytes(cli, data, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                      dashboard_address=None) as cluster:
        runs = {name: cli("fit", data, "--width", "3", "-o", tmp_path / f"{name}.onnx", *opts)
                for name, opts in [("one", ["--workers", "1"]), ("two", ["--workers", "2"]),
                                   ("dask", ["--scheduler", cluster.scheduler_address])]}
    assert "solved" in runs["dask"].stderr and "ruled out by a lower bound" in runs["dask"].stderr
    one = (tmp_path / "one.onnx").read_bytes()
    assert one == (tmp_path / "two.onnx").read_bytes() == (tmp_path / "dask.onnx").read_bytes()
    assert len({r.stdout for r in runs.values()}) == 1 and "certified" in runs["one"].stdout


def test_a_scheduler_that_is_no_address_is_one_line(cli, data, tmp_path):
    r = cli("fit", data, "--width", "2", "--scheduler", "nowhere", "-o", tmp_path / "f.onnx",
            ok=False)
    assert_one_line_error(r, "cannot reach the Dask scheduler at nowhere")
    assert not (tmp_path / "f.onnx").exists()


def test_without_dask_the_scheduler_says_what_to_install(cli, data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    r = cli("fit", data, "--width", "2", "--scheduler", "tcp://127.0.0.1:8786", "-o",
            tmp_path / "f.onnx", ok=False)
    assert_one_line_error(r, "pip install 'reluc[dist]'")
    assert cli("fit", data, "--width", "2", "-o", tmp_path / "f.onnx").exit_code == 0
