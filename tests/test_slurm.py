"""The SLURM profile on a real (local, single-node) SLURM cluster.

Run with a cluster started for the session:  CIMPIPE_TEST_SLURM=1 python -m pytest tests/test_slurm.py -s
(`-s` prints the wall time of every Snakemake run.) Without a cluster and without the variable, these tests skip.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import polars as pl
import pytest

from slurm_cluster import (  # noqa: F401  (slurm_cluster is a pytest fixture)
    REPO_ROOT,
    SLURM_PROFILE,
    SLURM_TEST_PROFILE,
    SlurmCluster,
    run_snakemake,
    slurm_cluster,
)

PROFILE_ARGS = ("--profile", str(SLURM_PROFILE), "--profile", str(SLURM_TEST_PROFILE))
DEMO_TARGET = "results/pareto_demo.parquet"
TINY_CONFIG = "tests/data/tiny_config.yaml"
# What a user's checkout holds and the DAG needs; copied so each run has its own working directory.
WORKFLOW_FILES = ("Snakefile", "config.yaml", "rules", "workflow", "envs", "profiles", TINY_CONFIG)
# Columns that record when or how long something ran, not what it computed.
TIMING_COLUMN = re.compile(r"(^|_)(wall|elapsed|duration|seconds|timestamp|started|finished)(_|$)")

SMALL_WORKFLOW = textwrap.dedent(
    """
    rule all:
        input: "train/done.txt", "grown.txt"

    rule prepare_data:
        output: "data/ready.txt"
        shell: "echo cpus=$SLURM_CPUS_PER_TASK job=$SLURM_JOB_ID > {output}"

    rule train_supernet:
        input: "data/ready.txt"
        output: "train/done.txt"
        shell:
            "cat {input} > {output}; echo cpus=$SLURM_CPUS_PER_TASK >> {output}; "
            "scontrol show job $SLURM_JOB_ID >> {output}"

    # Fails its own check on the first try (default-resources: mem_mb = 2000 * attempt); the retry gets 4000.
    rule needs_more_memory:
        output: "grown.txt"
        shell: "test {resources.mem_mb} -ge 4000 && echo mem_mb={resources.mem_mb} > {output}"
    """
)


def test_small_workflow_runs_through_the_slurm_profile(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(SMALL_WORKFLOW)

    run = run_snakemake(PROFILE_ARGS, tmp_path, timeout_s=600, label="small workflow on SLURM")

    assert "submitted with SLURM jobid" in run.output
    prepared = (tmp_path / "data" / "ready.txt").read_text()
    trained = (tmp_path / "train" / "done.txt").read_text()
    assert prepared.startswith("cpus=1 ")  # default-resources: 1 CPU
    assert "cpus=2" in trained  # the profile's cpus_per_task for train_supernet reaches sbatch
    # The GPU request of train_supernet went through sbatch and SLURM allocated it.
    assert re.search(r"gres/gpu=1|gres:gpu:1", trained), trained
    # retries: 1 with resources that grow with the attempt.
    assert "Trying to restart job" in run.output
    assert (tmp_path / "grown.txt").read_text().split() == ["mem_mb=4000"]


def _missing_workflow_files() -> list[str]:
    return [name for name in WORKFLOW_FILES if not (REPO_ROOT / name).exists()]


def _copy_workflow(dest: Path) -> Path:
    for name in WORKFLOW_FILES:
        src = REPO_ROOT / name
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", ".snakemake"))
        else:
            shutil.copy2(src, target)
    return dest


def _deterministic_columns(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select([c for c in frame.columns if not TIMING_COLUMN.search(c)])


def test_demo_dag_on_slurm_matches_local_run(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The demo DAG submitted to SLURM gives the same tables as `snakemake -c2` on this machine."""
    missing = _missing_workflow_files()
    if missing:
        pytest.skip(f"the workflow files are not in the repository yet: {', '.join(missing)}")
    request.getfixturevalue("slurm_cluster")
    on_slurm = _copy_workflow(tmp_path / "slurm")
    local = _copy_workflow(tmp_path / "local")
    # The target first: --configfile takes several values. One thread per job in both runs, whatever the profiles
    # set: torch's CPU sums may change order with the thread count, and the runs must agree bit for bit.
    common = (DEMO_TARGET, "--configfile", TINY_CONFIG, "--max-threads", "1")

    run_snakemake(
        (*common, *PROFILE_ARGS),
        on_slurm,
        timeout_s=2400,
        label="demo DAG on SLURM",
    )
    run_snakemake(("-c2", *common), local, timeout_s=1800, label="demo DAG local -c2")

    front_slurm = pl.read_parquet(on_slurm / DEMO_TARGET)
    front_local = pl.read_parquet(local / DEMO_TARGET)
    assert front_slurm.height > 0
    assert front_slurm.equals(front_local), f"fronts differ:\n{front_slurm}\n{front_local}"

    tables_slurm = {p.relative_to(on_slurm) for p in (on_slurm / "results").rglob("*.parquet")}
    tables_local = {p.relative_to(local) for p in (local / "results").rglob("*.parquet")}
    assert tables_slurm == tables_local
    for table in sorted(tables_slurm):
        got = _deterministic_columns(pl.read_parquet(on_slurm / table))
        want = _deterministic_columns(pl.read_parquet(local / table))
        assert got.equals(want), f"{table} differs between the SLURM and the local run"
