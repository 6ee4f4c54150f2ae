"""Stage search_island: one independent search of the workload's space, for the merge."""

from __future__ import annotations

from cimpipe.search import SearchFiles, SearchInputs, run_island


def search_island(predictor_path: str, supernet_path: str, hwcost_paths: list[str], settings: dict, island: int,
                  files: SearchFiles) -> None:
    """Run island ``island`` of the search: its history, its predicted front and its summary, for the merge."""
    inputs = SearchInputs.load(predictor_path, supernet_path, hwcost_paths, settings)
    front = run_island(inputs.space, inputs.objective, inputs.settings, int(island), files)
    print(f"island {island}: {front.height} designs on its predicted front")
