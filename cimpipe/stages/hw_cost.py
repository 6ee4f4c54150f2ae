"""Stage hw_cost: every hardware option of the grid characterized under one technology."""

from __future__ import annotations

from cimpipe.hw import HardwareGrid, Technology, characterize
from cimpipe.io import write_parquet


def hw_cost(tech: str, entry: dict, grid: dict, out_path: str) -> None:
    """Characterize every hardware option of the grid under one technology (``results/hwcost/{tech}.parquet``)."""
    technology = Technology.from_config(tech, dict(entry))
    knobs = {k: tuple(v) for k, v in grid.items() if k in HardwareGrid.__dataclass_fields__}
    table = characterize(technology, HardwareGrid(**knobs))
    write_parquet(table, out_path)
    feasible = int(table["feasible"].sum())
    print(f"{tech}: {table.height} hardware options characterized, {feasible} feasible")
