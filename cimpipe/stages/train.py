"""Stage train_supernet: the workload's weight-sharing supernet and its per-epoch log."""

from __future__ import annotations

import json
from pathlib import Path

from cimpipe.config import ConfigError, family_spec
from cimpipe.data import default_augmentation, load_prepared
from cimpipe.train import TrainRecipe, train_supernet


def train(data_dir: str, recipe: dict, supernet_path: str, log_table: str) -> None:
    """Train the workload's supernet (``results/{workload}/supernet.pt`` + ``train_log.parquet``).

    Checkpoints go to ``checkpoints/`` beside the supernet, so a killed job resumes where it stopped.
    """
    data = load_prepared(Path(data_dir))
    meta = json.loads((Path(data_dir) / "meta.json").read_text())
    spec = family_spec(recipe, meta)
    try:
        train_recipe = TrainRecipe.from_config(recipe["train"])
    except ValueError as err:
        raise ConfigError(f"in the workload's train section: {err}") from None
    out = Path(supernet_path)
    train_supernet(
        spec,
        data,
        train_recipe,
        out,
        Path(log_table),
        seed=int(recipe["seed"]),
        checkpoint_dir=out.parent / "checkpoints",
        augment=default_augmentation(meta["kind"], int(meta["image_size"])),
    )
