"""pfa batch --scheduler on a real Dask cluster: a scheduler and two workers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.batch.conftest import ROOT, batch_process, case_content, run_batch

distributed = pytest.importorskip("distributed")
DASK = Path(sys.executable).with_name("dask")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    log = (tmp_path / "dask.log").open("w")
    common = {"env": env, "cwd": tmp_path, "stdout": log, "stderr": subprocess.STDOUT}
    procs = [
        subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            **common,  # type: ignore[call-overload]
        )
    ]
    try:
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        str(DASK),
                        "worker",
                        address,
                        "--host",
                        "127.0.0.1",
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--no-dashboard",
                        "--local-directory",
                        str(tmp_path / "dask-workers"),
                    ],
                    **common,  # type: ignore[call-overload]
                )
            )
        with distributed.Client(address, timeout=120) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def test_dask_cluster_gives_the_same_case(
    cluster: str, first_run: tuple[Path, int], fleet_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "case"
    code = run_batch(str(fleet_dir), "-o", str(out), "-q", "--scheduler", cluster)
    assert code == first_run[1] == 2
    assert case_content(out / "case.sqlite") == case_content(first_run[0] / "case.sqlite")
    run = sqlite3.connect(out / "case.sqlite").execute("SELECT data FROM runs").fetchone()
    assert json.loads(run[0])["options"]["scheduler"] == cluster


def test_regions_of_large_images_run_on_the_cluster(
    cluster: str, drives: Path, split_case: Path, tmp_path: Path
) -> None:
    out = tmp_path / "case"
    code = run_batch(
        str(drives), "-o", str(out), "-q", "--scheduler", cluster, "--region-size", "1M"
    )
    assert code == 1
    assert case_content(out / "case.sqlite") == case_content(split_case)
    hosts = {
        part["host"]
        for (data,) in sqlite3.connect(out / "case.sqlite").execute("SELECT data FROM images")
        for part in json.loads(data)["parts"]
    }
    assert hosts  # each part says where it ran


def test_scheduler_unreachable_is_one_line(fleet_dir: Path, tmp_path: Path) -> None:
    port = _free_port()
    done = batch_process(
        str(fleet_dir),
        *("-o", str(tmp_path / "case"), "--scheduler", f"tcp://127.0.0.1:{port}"),
        env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"},
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("pfa: error: cannot reach the Dask scheduler")
    assert "Traceback" not in done.stderr


def test_scheduler_without_dask_names_the_extra(fleet_dir: Path, tmp_path: Path) -> None:
    # distributed made unimportable in the child, as on an install without the extra.
    code = (
        "import sys; sys.modules['distributed'] = None; "
        "from forensics.batch.__main__ import main; "
        f"sys.exit(main([{str(fleet_dir)!r}, '-o', {str(tmp_path / 'case')!r}, "
        "'--scheduler', 'tcp://127.0.0.1:1']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "pfa: error: --scheduler needs Dask: pip install '.[cluster]' (dask[distributed])"
    ]
