"""The front explorer: one self-contained, offline HTML page per workload.

The page holds plotly.js itself (taken from the ``plotly`` package, no CDN), the front as JSON and a small
script (``explorer.js``): choose the x and y objectives and the colour (technology or any gene), see the 2-D
non-dominated staircase of that view, a parallel-coordinates view of all objectives, hover for the full
design, click a point to select its row in a sortable table; filters by accuracy floor and technology. The
NeuroSim reference design is marked with its settings.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import polars as pl

from cimpipe.metrics import column

HERE = Path(__file__).resolve().parent

AXES = ("accuracy", "energy_uj", "latency_ms", "area_mm2", "edap_uj_ms_mm2", "tops_per_w", "tops_per_mm2",
        "accuracy_predicted", "edap_gain_at_reference_accuracy", "edap_reduction_vs_reference")
"""Metrics the x and y axes and the parallel coordinates may show (the ones the front has)."""

HARDWARE_GENES = ("technology", "subarray", "rows_parallel", "col_mux", "adc_bits", "adc_type", "cell_bits",
                  "pipeline", "sign_encoding")
CATEGORICAL = ("technology", "adc_type", "pipeline", "sign_encoding", "round")
TABLE = ("accuracy", "accuracy_predicted", "energy_uj", "latency_ms", "area_mm2", "edap_uj_ms_mm2", "tops_per_w",
         "edap_gain_at_reference_accuracy", "technology", "hardware", "bits", "round")


def _value(name: str, v: Any) -> Any:
    """A cell as the page plots it: fractions as percent, booleans as text."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and column(name).percent:
        return 100.0 * v
    return v


def reference_settings(design: Mapping[str, Any]) -> str:
    """The reference design's settings in one line, e.g. ``rram_22nm, 128x128 subarray, ...``."""
    hw, net = design["hardware"], design["subnet"]
    wb, ab = net.get("weight_bits", []), net.get("act_bits", [])
    bits = (f"{max(wb)}-bit weights, {max(ab)}-bit activations" if wb and ab else "")
    return (f"{hw['technology']}, {hw['subarray']}x{hw['subarray']} subarray, {hw['rows_parallel']} rows read in "
            f"parallel, {hw['col_mux']} columns per ADC, {hw['adc_bits']}-bit {hw['adc_type']} ADC, "
            f"{hw['cell_bits']} bits per cell, {hw.get('sign_encoding', 'offset')} sign encoding, "
            f"{'pipelined' if hw['pipeline'] else 'layer by layer'}; "
            f"the largest sub-network (depths {net.get('depths')}), {bits}")


def _design_lines(row: Mapping[str, Any], genes: Sequence[str]) -> str:
    metrics = [f"{column(k).label}: {column(k).format(row[k])}" for k in AXES if k in row]
    hardware = [f"{k}: {format(v, 'g') if isinstance(v, float) else v}"
                for k, v in ((k, _value(k, row[k])) for k in HARDWARE_GENES if k in row)]
    network = []
    for prefix in ("depth", "width", "kernel", "wbits", "abits", "adc_bits_"):
        vals = [row[g] for g in genes if g.startswith(prefix) and g != "adc_bits"]
        if vals:
            network.append(f"{prefix.rstrip('_')}: {' '.join(format(v, 'g') for v in vals)}")
    return "<br>".join(metrics + ["<b>hardware</b>"] + hardware + ["<b>network</b>"] + network)


def explorer_data(front: pl.DataFrame, summary: Mapping[str, Any] | None = None,
                  title: str = "front") -> dict[str, Any]:
    """Everything the page shows, as JSON-ready lists (one entry per front row, in the front's order)."""
    from cimpipe.results import with_reference_gain, with_summaries

    front = with_reference_gain(with_summaries(front), (summary or {}).get("reference"))
    genes = [c for c in front.columns if c not in AXES and c not in ("design_json", "hardware", "bits")
             and c not in ("accuracy_std", "accuracy_measured", "tops", "utilization", "tiles",
                           "leakage_energy_uj")]
    axes = [k for k in AXES if k in front.columns and front[k].null_count() < front.height]
    rows = front.to_dicts()
    columns = {k: [_value(k, r[k]) for r in rows] for k in axes + genes}
    objectives = [o["metric"] for o in (summary or {}).get("objectives", [])] or ["accuracy", "energy_uj",
                                                                                  "latency_ms", "area_mm2"]
    reference = None
    if summary and summary.get("reference"):
        ref = summary["reference"]
        reference = {"values": {k: _value(k, ref.get(k)) for k in axes if ref.get(k) is not None},
                     "settings": reference_settings(ref["design"])}
    table_columns = [k for k in TABLE if k in front.columns]
    return {
        "title": title,
        "objectives": [o for o in objectives if o in axes],
        "axes": [{"key": k, "label": column(k).label, "maximize": bool(column(k).maximize),
                  "log": column(k).log} for k in axes],
        "colours": [{"key": k, "label": k, "categorical": k in CATEGORICAL or front.schema[k] == pl.Utf8}
                    for k in genes],
        "columns": columns,
        "hover": [_design_lines(r, genes) for r in rows],
        "table": {
            "headers": [column(k).label if k not in ("hardware", "bits") else k for k in table_columns],
            "cells": [[column(k).format(r[k]) for k in table_columns] for r in rows],
            "sort": [[_value(k, r[k]) for k in table_columns] for r in rows],
        },
        "reference": reference,
    }


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:  # pragma: no cover - plotly is a dependency
        raise RuntimeError("the front explorer needs the plotly package (pip install plotly)") from None
    return get_plotlyjs()


def explorer_page(data: Mapping[str, Any], intro: str = "") -> str:
    """The page: plotly.js, the data and the explorer script inline (opens offline from a file)."""
    parts = {
        "title": html.escape(str(data["title"])),
        "intro": intro,
        "style": (HERE / "explorer.css").read_text(),
        "plotly": _plotly_js().replace("</script", "<\\/script"),
        "data": json.dumps(data, allow_nan=False).replace("</", "<\\/"),
        "script": (HERE / "explorer.js").read_text(),
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], (HERE / "explorer.html").read_text())
