"""The report of a search: the front explorer (rendered in headless Chromium), the PNGs, the hypervolume that
the report and `cimpipe compare` state alike."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cimpipe.cli import main
from cimpipe.report import evaluated_text, write_report
from cimpipe.report.explorer import explorer_data, explorer_page
from cimpipe.results import front_hypervolume, staircase, with_reference_gain

N_FRONT = 37


def fabricated_front(n: int = N_FRONT, seed: int = 0) -> pl.DataFrame:
    """A front-shaped table: two technologies, genes, every metric, a design per row."""
    rng = np.random.default_rng(seed)
    tech = np.where(rng.random(n) < 0.5, "rram_22nm", "sram_22nm")
    acc = rng.uniform(0.8, 0.99, n)
    energy, latency, area = 10 ** rng.uniform(-3, -1, n), 10 ** rng.uniform(-3, -1.5, n), 10 ** rng.uniform(0, 1.5, n)
    adc = rng.integers(3, 8, n)
    designs = [json.dumps({"subnet": {"depths": [2, 2], "width_ratios": [1.0] * 5, "kernels": [3] * 4,
                                      "weight_bits": [4] * 6, "act_bits": [6] * 6},
                           "hardware": {"technology": str(t), "subarray": 128, "rows_parallel": 64, "col_mux": 8,
                                        "adc_bits": int(a), "adc_type": "sar", "cell_bits": 1, "pipeline": True}})
               for t, a in zip(tech, adc)]
    return pl.DataFrame({
        "depth_0": np.full(n, 2.0), "wbits_0": rng.integers(2, 9, n).astype(float), "technology": tech,
        "subarray": np.full(n, 128.0), "adc_bits": adc.astype(float), "adc_type": ["sar"] * n,
        "pipeline": rng.random(n) < 0.5, "accuracy": acc, "accuracy_std": np.full(n, 0.01),
        "energy_uj": energy, "latency_ms": latency, "area_mm2": area, "edap_uj_ms_mm2": energy * latency * area,
        "tops_per_w": rng.uniform(5, 50, n), "tops_per_mm2": rng.uniform(0.01, 0.2, n),
        "accuracy_predicted": acc + rng.normal(0, 0.01, n), "accuracy_measured": acc,
        "edap_reduction_vs_reference": 1e-3 / (energy * latency * area),
        "round": rng.integers(0, 2, n).astype(np.int32), "design_json": designs,
    })


SUMMARY = {
    "evaluations": 600, "islands": [{"island": 0, "evaluations": 600}],
    "objectives": [{"metric": "accuracy", "maximize": True, "log_scale": False},
                   {"metric": "energy_uj", "maximize": False, "log_scale": True},
                   {"metric": "latency_ms", "maximize": False, "log_scale": True},
                   {"metric": "area_mm2", "maximize": False, "log_scale": True}],
    "normalizer": {"lo": [-1.0, -3.5, -3.5, -0.5], "hi": [-0.7, -0.5, -1.0, 2.0]}, "hv_reference_point": 1.1,
    "refine": [{"round": 0}, {"round": 1}],
    "reference": {"design": json.loads(fabricated_front(1)["design_json"][0]) | {
        "hardware": {"technology": "rram_22nm", "subarray": 128, "rows_parallel": 128, "col_mux": 8, "adc_bits": 5,
                     "adc_type": "flash", "cell_bits": 2, "pipeline": False}},
        "accuracy": 0.95, "energy_uj": 0.05, "latency_ms": 0.005, "area_mm2": 6.0, "edap_uj_ms_mm2": 1.5e-3},
}


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    """results/ as the workflow leaves it: the front, the history, the summary, the training log."""
    wdir = tmp_path / "results" / "demo"
    (wdir / "search").mkdir(parents=True)
    front = fabricated_front()
    front.write_parquet(tmp_path / "results" / "pareto_demo.parquet")
    history = pl.DataFrame({"island": np.zeros(600, np.int32), "generation": np.repeat(np.arange(6), 100).astype(np.int32),
                            "hypervolume": np.repeat(np.linspace(1.0, 1.6, 6), 100)})
    history.write_parquet(wdir / "search_history.parquet")
    (wdir / "search_summary.json").write_text(json.dumps(SUMMARY))
    pl.DataFrame({"epoch": [1, 2, 3, 4], "lr": [0.02, 0.015, 0.01, 0.0], "loss": [0.6, 0.5, 0.45, 0.4],
                  "largest_acc": [0.7, 0.9, 0.95, 0.96], "smallest_acc": [0.1, 0.1, 0.8, 0.85],
                  "seconds": [1.0] * 4}).write_parquet(wdir / "train_log.parquet")
    (wdir / "predictor_metrics.json").write_text(json.dumps({"kendall_tau": 0.8, "rmse_pct": 1.2, "rows_heldout": 60}))
    return tmp_path / "results"


def report_of(results: Path) -> list[Path]:
    wdir = results / "demo"
    return write_report(results / "pareto_demo.parquet", wdir / "search_history.parquet", wdir / "report",
                        train_log_path=wdir / "train_log.parquet", predictor_metrics=wdir / "predictor_metrics.json",
                        bit_phases=[(0.0, (8,)), (0.5, (2, 4, 8))])


def test_the_report_writes_the_explorer_the_plots_and_an_index_with_captions(run: Path) -> None:
    names = {p.name for p in report_of(run)}
    assert names == {"explorer.html", "front_energy.png", "front_latency.png", "front_area.png", "front_edap.png",
                     "hypervolume.png", "training.png", "predictor.png", "index.html"}
    out = run / "demo" / "report"
    assert all((out / n).stat().st_size > 1000 for n in names - {"index.html"})
    index = (out / "index.html").read_text()
    assert "staircase" in index and "explorer.html" in index
    assert "Reference point: accuracy 67 %" in index  # -(lo + 1.1 (hi - lo)) = 0.67 for accuracy
    # the refinement round's search is counted beside the islands'
    assert "600 designs evaluated by the search, and 600 more by 1 refinement round" in index


def test_the_hypervolume_of_the_report_is_the_one_compare_prints(run: Path, capsys) -> None:
    report_of(run)
    hv = front_hypervolume(fabricated_front(), SUMMARY)
    index = (run / "demo" / "report" / "index.html").read_text()
    assert f"({hv.value:.3f}," in index
    capsys.readouterr()
    assert main(["compare", str(run / "pareto_demo.parquet"), str(run / "pareto_demo.parquet")]) == 0
    out = capsys.readouterr().out
    assert "hypervolume (A's search normalization)" in out and f"{hv.value:.4f}" in out
    assert "reference point accuracy 67 %" in out


def test_the_staircase_keeps_exactly_the_points_no_other_beats_in_the_view() -> None:
    x = np.array([1.0, 2.0, 3.0, 2.5, 0.5, 3.0])  # minimized (a cost)
    y = np.array([0.5, 0.8, 0.9, 0.7, 0.2, 0.85])  # maximized (accuracy)
    assert staircase(x, y, x_maximize=False, y_maximize=True).tolist() == [4, 0, 1, 2]
    rng = np.random.default_rng(1)
    x, y = rng.random(200), rng.random(200)
    stairs = set(staircase(x, y, False, True).tolist())
    for i in range(200):
        beaten = np.any((x <= x[i]) & (y >= y[i]) & ((x < x[i]) | (y > y[i])))
        assert (i in stairs) == (not beaten)


def test_the_edap_gain_compares_only_designs_as_accurate_as_the_reference() -> None:
    front = pl.DataFrame({"accuracy": [0.99, 0.95, 0.80], "edap_uj_ms_mm2": [1e-3, 1e-4, 1e-6]})
    gain = with_reference_gain(front, {"accuracy": 0.95, "edap_uj_ms_mm2": 2e-3})["edap_gain_at_reference_accuracy"]
    assert gain.to_list() == [pytest.approx(2.0), pytest.approx(20.0), None]
    assert with_reference_gain(front, None)["edap_gain_at_reference_accuracy"].null_count() == 3


def test_the_evaluation_count_names_the_refinement_rounds() -> None:
    history = pl.DataFrame({"generation": [0] * 50})
    assert evaluated_text(history, {"evaluations": 50}) == "50 designs evaluated by the search"
    text = evaluated_text(history, {"islands": [{"evaluations": 25}, {"evaluations": 25}],
                                    "refine": [{"round": 0}, {"round": 1}, {"round": 2}]})
    assert text == "50 designs evaluated by the search, and 50 more by 2 refinement rounds (25 each)"


def test_the_explorer_page_is_self_contained() -> None:
    data = explorer_data(fabricated_front(), SUMMARY, "demo")
    assert {"accuracy", "energy_uj", "edap_gain_at_reference_accuracy"} <= {a["key"] for a in data["axes"]}
    assert len(data["table"]["cells"]) == N_FRONT and len(data["hover"]) == N_FRONT
    page = explorer_page(data)
    assert "<script src" not in page and "<link" not in page  # plotly.js and the data are inline, no CDN
    assert "Plotly" in page and "front-data" in page


class _Dom(HTMLParser):
    """What the test reads back from the rendered page: table rows, legend entries, notes, SVG plots."""

    def __init__(self) -> None:
        super().__init__()
        self.rows, self.selected, self.svgs, self.legend, self.text = [], [], 0, [], {}
        self._in = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-row" in a:
            self.rows.append(int(a["data-row"]))
            if "selected" in (a.get("class") or ""):
                self.selected.append(int(a["data-row"]))
        if tag == "svg" and "main-svg" in (a.get("class") or ""):
            self.svgs += 1
        if tag == "text" and "legendtext" in (a.get("class") or ""):
            self._in = "legend"
        if a.get("id") in ("staircase-note", "reference-note", "table-count"):
            self._in = a["id"]

    def handle_data(self, data):
        if self._in == "legend":
            self.legend.append(data)
        elif self._in:
            self.text[self._in] = self.text.get(self._in, "") + data

    def handle_endtag(self, tag):
        if tag in ("text", "p", "span"):
            self._in = None


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def _render(page: Path, fragment: str = "") -> _Dom:
    """The page as headless Chromium leaves it after running its scripts (skips where Chromium cannot run)."""
    browser = _chromium()
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    try:
        out = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                              "--virtual-time-budget=10000", page.as_uri() + fragment], capture_output=True,
                             text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.skip("headless Chromium did not finish rendering within 180 s")
    if out.returncode != 0 or "<body" not in out.stdout:
        pytest.skip(f"headless Chromium cannot run here: {out.stderr.strip().splitlines()[-1:]}")
    dom = _Dom()
    dom.feed(out.stdout)
    return dom


def test_the_explorer_renders_in_headless_chromium(tmp_path: Path) -> None:
    front = fabricated_front()
    page = tmp_path / "explorer.html"
    page.write_text(explorer_page(explorer_data(front, SUMMARY, "demo")))
    dom = _render(page)
    assert sorted(dom.rows) == list(range(N_FRONT))  # the table: one row per front design
    assert dom.svgs >= 2  # the scatter plot and the parallel coordinates were drawn
    assert "2-D best (staircase)" in dom.legend and "NeuroSim reference design" in dom.legend
    stairs = staircase(front["energy_uj"].to_numpy(), front["accuracy"].to_numpy(), False, True)
    assert f"joins the {len(stairs)} of {N_FRONT} shown designs" in dom.text["staircase-note"]
    assert "rram_22nm, 128x128 subarray" in dom.text["reference-note"]
    assert dom.text["table-count"] == f"{N_FRONT} of {N_FRONT} front designs shown."


def test_the_explorers_filters_axes_and_selection_follow_the_address(tmp_path: Path) -> None:
    front = fabricated_front()
    page = tmp_path / "explorer.html"
    page.write_text(explorer_page(explorer_data(front, SUMMARY, "demo")))
    kept = front.with_row_index("i").filter((pl.col("technology") == "sram_22nm") & (pl.col("accuracy") >= 0.9))
    pick = int(kept["i"][0])
    dom = _render(page, f"#x=latency_ms&y=accuracy&floor=90&tech=sram_22nm&select={pick}")
    assert sorted(dom.rows) == kept["i"].to_list()
    assert dom.selected == [pick]
    stairs = staircase(kept["latency_ms"].to_numpy(), kept["accuracy"].to_numpy(), False, True)
    assert f"joins the {len(stairs)} of {kept.height} shown designs" in dom.text["staircase-note"]
    assert "latency (ms) and accuracy (%)" in dom.text["staircase-note"]
