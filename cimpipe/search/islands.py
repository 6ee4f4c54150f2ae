"""A search written to its files, the islands that run as separate jobs, and their merge into one front."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import polars as pl

from cimpipe.io import write_json, write_parquet
from cimpipe.pareto import Normalizer, hypervolume
from cimpipe.search.loop import ProgressArg, search_with_progress
from cimpipe.search.objective import Objective
from cimpipe.search.settings import SearchConfigError, SearchSettings
from cimpipe.search.tables import canonical_genes, front_frame, history_frame, reference_design, search_summary
from cimpipe.space import Design, HardwareConfig, SearchSpace, SubnetConfig


@dataclass(frozen=True)
class SearchFiles:
    """The three files a search writes (and a merge reads of each island): history, front and summary."""

    history: Path
    front: Path
    summary: Path

    @classmethod
    def of(cls, history: str | Path, front: str | Path, summary: str | Path) -> "SearchFiles":
        return cls(Path(history), Path(front), Path(summary))

    def write(self, history: pl.DataFrame, front: pl.DataFrame, summary: dict[str, Any]) -> None:
        write_parquet(history, self.history)
        write_parquet(front, self.front)
        write_json(summary, self.summary, indent=2, allow_nan=True)


@dataclass
class SearchOutcome:
    """What a search (or a merge of islands) leaves: the history, the front and the summary record."""

    history: pl.DataFrame
    front: pl.DataFrame
    summary: dict[str, Any]

    def write(self, files: SearchFiles) -> None:
        files.write(self.history, self.front, self.summary)


def search_outcome(space: SearchSpace, objective: Objective, settings: SearchSettings, *,
                   remeasure_fn: Callable[[list[Design]], np.ndarray] | None = None, reference: Design | None = None,
                   progress: ProgressArg = None, island: int = 0) -> SearchOutcome:
    """Search and tabulate: the history, the front (re-measured with ``remeasure_fn`` when given) and the
    summary. ``reference`` defaults to :func:`reference_design`; ``progress`` as in
    :func:`search_with_progress`. ``island`` only labels the history's ``island`` column and the summary
    (:func:`run_island` runs an island with its own seed)."""
    ref = reference or reference_design(space)
    ref_batch = objective(space.encode(ref)[None, :])
    label = f"search island {island}" if island else f"search ({settings.optimizer})"
    result = search_with_progress(space, objective, settings, progress, label)
    # the front is scored again in canonical form (unused slots at their largest choice), the form its
    # rows are rebuilt from, so a rebuilt design gets exactly the front's figures
    cgenes, _ = canonical_genes(space, result.genes[result.front_rows])
    cand = objective(cgenes) if len(cgenes) else result.batch.empty()
    ref_edap = float(ref_batch.metrics["edap_uj_ms_mm2"][0])
    front = front_frame(space, cgenes, cand, settings.objectives, ref_edap, remeasure_fn, settings.constraints,
                        settings.front_size, extra={"round": np.zeros(len(cgenes), dtype=np.int32)})
    summary = search_summary(space, settings, ref, ref_batch, front, remeasure_fn is not None,
                             evaluations=int(result.genes.shape[0]),
                             generations=int(result.generation.max()) + 1 if result.generation.size else 0,
                             wall_s=result.wall_s,
                             final_hypervolume=float(result.hypervolume[-1]) if result.hypervolume.size else 0.0,
                             seed=settings.seed, island=island, normalizer=result.normalizer.to_dict())
    return SearchOutcome(history_frame(space, result, island), front, summary)


def run_search(space: SearchSpace, objective: Objective, settings: SearchSettings, files: SearchFiles,
               **options: Any) -> pl.DataFrame:
    """:func:`search_outcome` (``options`` go to it) written to ``files``; returns the front."""
    outcome = search_outcome(space, objective, settings, **options)
    outcome.write(files)
    return outcome.front


def run_island(space: SearchSpace, objective: Objective, settings: SearchSettings, island: int, files: SearchFiles,
               *, reference: Design | None = None, progress: ProgressArg = None) -> pl.DataFrame:
    """One of ``settings.islands`` independent searches (its own seed, see :meth:`SearchSettings.for_island`):
    writes its history, its whole predicted front (no re-measurement, no thinning) and its summary, for
    :func:`merge_islands`."""
    return run_search(space, objective, settings.for_island(island), files, reference=reference, progress=progress,
                      island=island)


def _island_designs(islands: Sequence[SearchFiles]) -> list[Design]:
    """Every island's front designs, rebuilt from their ``design_json``, island by island."""
    designs = []
    for files in islands:
        for text in pl.read_parquet(files.front, columns=["design_json"])["design_json"]:
            js = json.loads(text)
            designs.append(Design(SubnetConfig.from_dict(js["subnet"]), HardwareConfig(**js["hardware"])))
    return designs


def merged_outcome(space: SearchSpace, objective: Objective, settings: SearchSettings,
                   islands: Sequence[SearchFiles], *, remeasure_fn: Callable[[list[Design]], np.ndarray] | None = None,
                   reference: Design | None = None) -> SearchOutcome:
    """The product of the ``islands`` (each :func:`run_island`'s three files).

    Every island's front design is rebuilt from its ``design_json`` and scored again; the feasible designs
    no other island's design dominates form the merged predicted front, which is thinned to ``front_size``,
    re-measured once and re-filtered like a single search's (:func:`front_frame`). The history is every
    island's history, concatenated (``island`` column); the summary lists each island.
    """
    if len(islands) != settings.islands:
        raise SearchConfigError(f"search.islands is {settings.islands} but {len(islands)} island results were given")
    ref = reference or reference_design(space)
    ref_batch = objective(space.encode(ref)[None, :])
    summaries = [json.loads(f.summary.read_text()) for f in islands]
    designs = _island_designs(islands)
    genes = np.stack([space.encode(x) for x in designs]) if designs else np.zeros((0, space.n_genes), np.int64)
    cand = objective(genes) if len(genes) else ref_batch.empty()
    sel = cand.feasible_front(settings.objectives)
    cand = cand.take(sel)
    ref_edap = float(ref_batch.metrics["edap_uj_ms_mm2"][0])
    front = front_frame(space, genes[sel], cand, settings.objectives, ref_edap, remeasure_fn, settings.constraints,
                        settings.front_size, extra={"round": np.zeros(len(sel), dtype=np.int32)})
    history = pl.concat([pl.read_parquet(f.history) for f in islands], how="vertical")
    norm = Normalizer(tuple(summaries[0]["normalizer"]["lo"]), tuple(summaries[0]["normalizer"]["hi"]))
    per_island = [{k: s[k] for k in ("island", "seed", "evaluations", "generations", "wall_s", "final_hypervolume",
                                     "front_size")} for s in summaries]
    summary = search_summary(space, settings, ref, ref_batch, front, remeasure_fn is not None,
                             evaluations=sum(s["evaluations"] for s in summaries),
                             generations=max(s["generations"] for s in summaries),
                             wall_s=sum(s["wall_s"] for s in summaries),
                             final_hypervolume=hypervolume(norm(cand.losses(settings.objectives))),
                             seed=settings.seed, islands=per_island, normalizer=norm.to_dict())
    print(f"merged {len(designs)} front designs of {len(islands)} island(s): {len(sel)} non-dominated, "
          f"{front.height} on the front", flush=True)
    return SearchOutcome(history, front, summary)


def merge_islands(space: SearchSpace, objective: Objective, settings: SearchSettings, islands: Sequence[SearchFiles],
                  files: SearchFiles, **options: Any) -> pl.DataFrame:
    """:func:`merged_outcome` (``options`` go to it) written to ``files``; returns the front."""
    outcome = merged_outcome(space, objective, settings, islands, **options)
    outcome.write(files)
    return outcome.front
