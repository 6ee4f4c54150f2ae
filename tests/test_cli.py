"""Reading results from the command line: `cimpipe show / compare / techs / plot` on fronts the search wrote."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from cimpipe.cli import main
from cimpipe.hw.technology import builtin_technologies
from cimpipe.results import compare_fronts, read_front
from cimpipe.search import SearchFiles, SearchSettings, run_search
from test_search import small_objective, small_space

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config.yaml"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """results/pareto_demo.parquet and results/demo/search_history.parquet, as the search writes them."""
    root = tmp_path_factory.mktemp("run") / "results"
    space = small_space()
    settings = SearchSettings(budget=300, batch=50, seed=3, population=30)
    run_search(space, small_objective(space), settings, SearchFiles.of(
        root / "demo" / "search_history.parquet", root / "pareto_demo.parquet", root / "demo" / "search_summary.json"))
    return root


@pytest.fixture(scope="module")
def worse(results) -> Path:
    """The demo front with every design made worse in every objective: each is dominated by its original."""
    front = pl.read_parquet(results / "pareto_demo.parquet")
    worse = front.with_columns(pl.col("accuracy") - 0.05, pl.col("energy_uj") * 2, pl.col("latency_ms") * 1.5,
                               pl.col("area_mm2") * 3)
    path = results.parent / "worse" / "pareto_worse.parquet"
    path.parent.mkdir()
    worse.write_parquet(path)
    return path


def _rows(text: str) -> list[list[str]]:
    """The data rows of a plain (non-terminal) table: the numbered lines after the header rule, split on spaces."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"}) + 1
    out = []
    for line in lines[start:]:
        cells = line.split()
        if not cells or cells[0] != str(len(out) + 1):
            break
        out.append(cells)
    return out


def test_show_sorts_best_first_by_the_chosen_objective(results, capsys):
    front = read_front(results / "pareto_demo.parquet")
    assert main(["show", str(results / "pareto_demo.parquet"), "--sort", "energy_uj",
                 "--columns", "energy_uj,accuracy,technology"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert len(rows) == front.height
    assert float(rows[0][1]) == pytest.approx(front["energy_uj"].min(), rel=1e-3)
    assert float(rows[-1][1]) == pytest.approx(front["energy_uj"].max(), rel=1e-3)

    assert main(["show", str(results / "pareto_demo.parquet"), "--limit", "3"]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert len(rows) == 3 and "3 of" in out and "sorted by accuracy (descending)" in out
    assert float(rows[0][1]) == pytest.approx(100 * front["accuracy"].max(), abs=0.006)
    assert {"rram_22nm", "sram_22nm"} & set(rows[0])          # technology and the hardware summary are shown
    assert any(cell.startswith(("flash", "sar")) for cell in rows[0])

    assert main(["show", str(results / "pareto_demo.parquet"), "--sort", "accuracy", "--asc", "--limit", "1"]) == 0
    assert float(_rows(capsys.readouterr().out)[0][1]) == pytest.approx(100 * front["accuracy"].min(), abs=0.006)


def test_show_csv_is_the_whole_sorted_front(results, capsys):
    assert main(["show", str(results / "pareto_demo.parquet"), "--sort", "edap", "--desc", "--csv",
                 "--columns", "edap_uj_ms_mm2,edap_reduction_vs_reference,bits"]) == 0
    table = pl.read_csv(io.StringIO(capsys.readouterr().out))
    assert table.columns == ["edap_uj_ms_mm2", "edap_reduction_vs_reference", "bits"]
    edap = table["edap_uj_ms_mm2"].to_list()
    assert edap == sorted(edap, reverse=True)
    assert table["edap_reduction_vs_reference"].to_list() == sorted(table["edap_reduction_vs_reference"].to_list())
    assert all(b.startswith("d") and " w" in b and " a" in b for b in table["bits"])


def test_compare_finds_the_dominating_front_better(results, worse, capsys):
    good = results / "pareto_demo.parquet"
    n = read_front(good).height
    c = compare_fronts(read_front(good), read_front(worse))
    assert (c.a_dominating, c.b_dominated, c.b_dominating, c.a_dominated) == (n, n, 0, 0)
    assert c.a_share_undominated == 1.0 and c.b_share_undominated == 0.0
    assert c.hv_a > c.hv_b > 0 and c.better == "a"

    assert main(["compare", str(worse), str(good)]) == 0
    out = capsys.readouterr().out
    assert f"B ({good}) is better by hypervolume" in out
    assert "100.0%" in out and "0.0%" in out

    assert main(["compare", str(good), str(good)]) == 0
    assert "tie by hypervolume" in capsys.readouterr().out


def test_techs_lists_the_configured_or_builtin_technologies(capsys, tmp_path, monkeypatch):
    assert main(["techs", "--config", str(REPO_CONFIG)]) == 0
    out = capsys.readouterr().out
    names = list(yaml.safe_load(REPO_CONFIG.read_text())["technologies"])
    assert names and all(name in out for name in names)
    assert "Ron (kOhm)" in out and "sigma" in out

    monkeypatch.chdir(tmp_path)                 # no config.yaml here: the package's own set
    assert main(["techs"]) == 0
    out = capsys.readouterr().out
    assert "built-in" in out and all(name in out for name in builtin_technologies())

    (tmp_path / "config.yaml").write_text("technologies: {}\n")
    assert main(["techs"]) == 2
    assert "config key" in capsys.readouterr().err


def test_plot_writes_pngs_with_or_without_the_history(results, tmp_path, capsys):
    assert main(["plot", str(results / "pareto_demo.parquet"), "--out", str(tmp_path / "full")]) == 0
    written = [Path(line) for line in capsys.readouterr().out.split()]
    assert {p.name for p in written} >= {"explorer.html", "front_energy.png", "front_edap.png", "hypervolume.png",
                                         "index.html"}
    for p in written:
        assert p.is_file()
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    alone = tmp_path / "elsewhere" / "pareto_demo.parquet"  # no results/demo/ folder beside it
    alone.parent.mkdir()
    shutil.copy(results / "pareto_demo.parquet", alone)
    assert main(["plot", str(alone)]) == 0
    written = [Path(line) for line in capsys.readouterr().out.split()]
    assert sorted(p.name for p in written) == ["explorer.html", "front_area.png", "front_edap.png", "front_energy.png",
                                               "front_latency.png"]
    assert all(p.parent == alone.with_name("pareto_demo_plots") and p.is_file() for p in written)


def test_user_errors_name_the_file_or_column(results, tmp_path, capsys):
    missing = tmp_path / "nope.parquet"
    assert main(["show", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err and err.count("\n") == 1

    text = tmp_path / "front.parquet"
    text.write_text("accuracy,energy_uj\n0.9,1.0\n")
    assert main(["compare", str(results / "pareto_demo.parquet"), str(text)]) == 2
    assert f"{text} is not a Parquet file" in capsys.readouterr().err

    partial = tmp_path / "partial.parquet"
    pl.read_parquet(results / "pareto_demo.parquet").drop("latency_ms", "area_mm2").write_parquet(partial)
    assert main(["plot", str(partial)]) == 2
    err = capsys.readouterr().err
    assert str(partial) in err and "'latency_ms'" in err and "Traceback" not in err

    assert main(["show", str(results / "demo" / "search_history.parquet")]) == 2
    assert "not a cimpipe Pareto front" in capsys.readouterr().err

    assert main(["show", str(results / "pareto_demo.parquet"), "--sort", "speed"]) == 2
    assert "'speed'" in capsys.readouterr().err

    assert main(["plot", str(results / "pareto_demo.parquet"), "--history", str(missing)]) == 2
    assert f"history file {missing} does not exist" in capsys.readouterr().err


def test_space_prints_the_size_of_a_workloads_space(capsys, tmp_path):
    """VGG-16 on Tiny-ImageNet: 10^41.5 gene combinations; with the ADC bits chosen per layer one ADC gene per
    weight layer (16) lifts it to 10^53.2. The dataset's shape comes from its kind before it is prepared."""
    assert main(["space", "vgg16", "--config", str(REPO_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "16 weight layers" in out and "10^41.5 designs over 74 genes" in out

    config = yaml.safe_load(REPO_CONFIG.read_text())
    config["hardware_space"]["per_layer"] = ["adc_bits"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["space", "vgg16", "--config", str(tmp_path / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "adc_bits per layer" in out and "10^53.2 designs over 89 genes" in out
    adc_row = next(line for line in out.splitlines() if line.startswith("adc_bits"))
    assert adc_row.split()[1:3] == ["16", "6"]  # 16 genes of 6 choices

    assert main(["space", "vgg16", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml does not exist" in capsys.readouterr().err
    config["workloads"]["vgg16"]["dataset"] = "own"
    config["datasets"]["own"] = {"kind": "imagefolder", "root": "data/raw/own"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["space", "vgg16", "--config", str(tmp_path / "config.yaml")]) == 2
    assert "run `snakemake data/prepared/own` first" in capsys.readouterr().err
