"""A stage's code is the import closure of its rule's script: what it reaches reruns it, nothing else does."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from cimpipe.imports import import_closure, imported_names, script_modules

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "workflow" / "scripts"
STAGES = sorted(p.stem for p in SCRIPTS.glob("*.py"))


def modules_of(stage: str) -> set[str]:
    return set(script_modules(SCRIPTS / f"{stage}.py"))


def test_training_reaches_the_data_loader_and_the_config_but_not_the_search() -> None:
    train = modules_of("train_supernet")
    assert {"cimpipe.train", "cimpipe.data.loader", "cimpipe.config", "cimpipe.stages.train", "cimpipe.nn.cim"} <= train
    assert not {"cimpipe.accuracy", "cimpipe.search", "cimpipe.predictor", "cimpipe.hw", "cimpipe.report"} & train


def test_the_accuracy_shards_reach_training_and_the_data() -> None:
    shard = modules_of("accuracy_shard")
    assert {"cimpipe.accuracy", "cimpipe.train", "cimpipe.data.prepare", "cimpipe.workload"} <= shard


def test_the_report_reaches_its_own_code_and_not_the_search_or_the_hardware() -> None:
    report = modules_of("report")
    assert {"cimpipe.io", "cimpipe.report", "cimpipe.report.explorer", "cimpipe.stages.report"} <= report
    assert not {"cimpipe.search", "cimpipe.predictor", "cimpipe.accuracy", "cimpipe.hw"} & report


def test_an_import_runs_the_packages_above_it() -> None:
    closure = import_closure("cimpipe.hw.latency")
    assert {"cimpipe", "cimpipe.hw", "cimpipe.hw.characterize"} <= set(closure)  # hw/__init__ imports characterize


def test_relative_and_lazy_imports_are_followed(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("from . import space\nfrom .hw import evaluate\n\ndef f():\n    import cimpipe.report\n"
                      "    from numpy import array\n")
    names = imported_names(source, "cimpipe.stages.mod")
    assert {"cimpipe.stages.space", "cimpipe.stages.hw.evaluate", "cimpipe.report"} <= names
    assert not any(n.startswith("numpy") for n in names)


def load_copy(tmp_path: Path):
    """cimpipe.imports of a copy of the package, so the copy's files can change."""
    shutil.copytree(REPO / "cimpipe", tmp_path / "cimpipe", ignore=shutil.ignore_patterns("__pycache__"))
    spec = importlib.util.spec_from_file_location("imports_copy", tmp_path / "cimpipe" / "imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("changed, stages", [
    # the report reads the training recipe (the bit phases the training plot shades), so training code reaches it
    ("data/loader.py", {"prepare_data", "train_supernet", "accuracy_shard", "accuracy_table", "fit_predictor",
                        "search_island", "search", "report"}),
    ("train.py", {"train_supernet", "accuracy_shard", "accuracy_table", "fit_predictor", "search_island", "search",
                  "report"}),
    ("hw/data/nodes.yaml", {"hw_cost", "search_island", "search"}),
    ("pareto.py", {"search_island", "search", "report", "front"}),
    ("stages/search.py", {"search"}),
    ("report/explorer.js", {"report", "front"}),
    ("hw/chip.py", {"hw_cost", "search_island", "search"}),
])
def test_a_change_alters_the_digest_of_exactly_the_stages_that_reach_it(tmp_path: Path, changed: str,
                                                                         stages: set[str]) -> None:
    imports = load_copy(tmp_path)
    before = {stage: imports.script_digest(SCRIPTS / f"{stage}.py") for stage in STAGES}
    path = tmp_path / "cimpipe" / changed
    path.write_text(path.read_text() + "\n# changed\n")
    after = {stage: imports.script_digest(SCRIPTS / f"{stage}.py") for stage in STAGES}
    assert {stage for stage in STAGES if before[stage] != after[stage]} == stages


def test_a_missing_script_is_named() -> None:
    with pytest.raises(FileNotFoundError, match="stage script .*nowhere.py does not exist"):
        script_modules(SCRIPTS / "nowhere.py")
