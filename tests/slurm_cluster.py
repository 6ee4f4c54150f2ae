"""A real single-node SLURM cluster for the tests, and a helper to run Snakemake against it.

The session fixture `slurm_cluster` uses a cluster that already answers `sinfo`, or starts one with
`.ci/slurm-up.sh` when CIMPIPE_TEST_SLURM=1 (CI sets it) and stops it with `.ci/slurm-down.sh` at the end of
the session. Without either, tests that use it are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SLURM_UP = REPO_ROOT / ".ci" / "slurm-up.sh"
SLURM_DOWN = REPO_ROOT / ".ci" / "slurm-down.sh"
SLURM_PROFILE = REPO_ROOT / "profiles" / "slurm"
SLURM_TEST_PROFILE = REPO_ROOT / "profiles" / "slurm-test"
ENABLE_VAR = "CIMPIPE_TEST_SLURM"
SLURM_CONF = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))
LOCAL_CLUSTER_MARKER = "cimpipe-local-cluster"  # written into the files .ci/slurm-up.sh owns

# slurm-up installs packages on a fresh machine (about a minute); starting installed daemons takes seconds.
SLURM_UP_TIMEOUT_S = 900
SLURM_DOWN_TIMEOUT_S = 120


@dataclass(frozen=True)
class SlurmCluster:
    """The cluster the tests submit to."""

    started_here: bool
    up_wall_s: float | None  # time slurm-up.sh took, when this session started the cluster


@dataclass(frozen=True)
class SnakemakeRun:
    """One finished `python -m snakemake` invocation."""

    args: tuple[str, ...]
    workdir: Path
    wall_s: float
    output: str


def _own_cluster_is_down() -> bool:
    """The config of .ci/slurm-up.sh is in place but its controller is not running (so `sinfo` would hang ~10 s)."""
    try:
        ours = LOCAL_CLUSTER_MARKER in SLURM_CONF.read_text()
    except OSError:
        return False
    running = subprocess.run(["pgrep", "-x", "slurmctld"], capture_output=True, check=False).returncode == 0
    return ours and not running


def sinfo_works() -> bool:
    """True when a SLURM controller answers `sinfo` from this machine."""
    if shutil.which("sinfo") is None or _own_cluster_is_down():
        return False
    try:
        done = subprocess.run(
            ["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=5, check=False
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def _run_script(script: Path, timeout_s: int) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        ["bash", str(script)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    wall_s = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return wall_s, done.stderr


def start_cluster() -> float:
    """Run .ci/slurm-up.sh; return its wall time in seconds."""
    wall_s, _ = _run_script(SLURM_UP, SLURM_UP_TIMEOUT_S)
    return wall_s


def stop_cluster() -> None:
    """Run .ci/slurm-down.sh (stops only the daemons slurm-up.sh started)."""
    _run_script(SLURM_DOWN, SLURM_DOWN_TIMEOUT_S)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A working SLURM cluster for the session: reused if present, else started (and stopped) here."""
    if sinfo_works():
        yield SlurmCluster(started_here=False, up_wall_s=None)
        return
    if os.environ.get(ENABLE_VAR) != "1":
        pytest.skip(
            f"no SLURM cluster answers `sinfo`; set {ENABLE_VAR}=1 to start a local one with .ci/slurm-up.sh "
            "(needs root and apt-get)"
        )
    try:
        up_wall_s = start_cluster()
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        try:
            stop_cluster()  # whatever part of it did start
        except (RuntimeError, subprocess.TimeoutExpired) as stop_err:
            err = RuntimeError(f"{err}\nand stopping it failed too: {stop_err}")
        pytest.fail(f"{ENABLE_VAR}=1 but the local SLURM cluster did not start: {err}")
    print(f"\nslurm-up.sh: {up_wall_s:.1f} s")
    try:
        yield SlurmCluster(started_here=True, up_wall_s=up_wall_s)
    finally:
        stop_cluster()


def run_snakemake(args: Sequence[str], workdir: Path, timeout_s: int, label: str) -> SnakemakeRun:
    """Run the venv's Snakemake (`sys.executable -m snakemake`) in `workdir`; fail the test with its log tail."""
    cmd = [sys.executable, "-m", "snakemake", *args]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            cmd,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        tail = (err.output or "")[-4000:] if isinstance(err.output, str) else ""
        pytest.fail(f"{label}: snakemake did not finish within {timeout_s} s\n{tail}")
    wall_s = time.perf_counter() - start
    print(f"\n{label}: {wall_s:.1f} s wall ({' '.join(args)})")
    if done.returncode != 0:
        slurm_logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
        details = "".join(f"\n--- {p} ---\n{p.read_text()[-2000:]}" for p in slurm_logs[-3:])
        pytest.fail(f"{label}: snakemake exited {done.returncode}\n{done.stdout[-6000:]}{details}")
    return SnakemakeRun(args=tuple(args), workdir=workdir, wall_s=wall_s, output=done.stdout)
