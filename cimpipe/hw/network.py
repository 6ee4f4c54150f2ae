"""Reading NeuroSim's network files (NetWork.csv)."""

from __future__ import annotations

import csv
from pathlib import Path

from cimpipe.space import LayerShape


class NetworkFileError(ValueError):
    """A network file is missing or not in NeuroSim's 8-column format."""


def read_network_csv(path: str | Path) -> list[LayerShape]:
    """Rows IFM_H, IFM_W, C_in, K_H, K_W, C_out, maxpool-after (0/1), stride, and optionally groups (a ninth
    column this package adds for depthwise layers); square kernels only."""
    p = Path(path)
    if not p.is_file():
        raise NetworkFileError(f"network file {p} does not exist")
    shapes: list[LayerShape] = []
    with p.open(newline="") as fh:
        for n, row in enumerate(csv.reader(fh), start=1):
            row = [c.strip() for c in row if c.strip() != ""]
            if not row:
                continue
            if len(row) not in (7, 8, 9):
                raise NetworkFileError(f"network file {p} line {n} has {len(row)} columns, expected 8")
            try:
                v = [int(float(c)) for c in row]
            except ValueError:
                raise NetworkFileError(f"network file {p} line {n} holds a non-numeric value") from None
            if v[3] != v[4]:
                raise NetworkFileError(f"network file {p} line {n} has a non-square kernel {v[3]}x{v[4]}")
            if min(v[:6]) < 1:
                raise NetworkFileError(f"network file {p} line {n} has a size below 1")
            stride = v[7] if len(v) >= 8 else 1
            groups = v[8] if len(v) == 9 else 1
            if groups < 1 or v[2] % groups or v[5] % groups:
                raise NetworkFileError(f"network file {p} line {n} has {groups} groups, which do not divide its channels")
            shapes.append(LayerShape(v[0], v[1], v[2], v[3], v[5], bool(v[6]), max(stride, 1), groups))
    if not shapes:
        raise NetworkFileError(f"network file {p} holds no layers")
    return shapes
