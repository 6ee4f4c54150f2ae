"""Supernet training: sandwich rule, in-place distillation, bit-width phases, resumable checkpoints.

Every step trains the largest member (at the phase's highest bits) on the labels, then the smallest (at
the phase's lowest bits) and ``random_subnets`` random members on the largest one's soft outputs (in-place
distillation, BigNAS/AttentiveNAS); gradients are accumulated and one SGD Nesterov step is taken. The
learning rate has a linear warmup then a cosine decay, set per step from the step count (no scheduler
state). Bit-widths are opened in phases as BatchQuant and Once-Quantized-for-All do (high bits first,
then lower): ``bit_phases`` lists ``(start fraction of training, allowed bits)``.

On CPU the run is deterministic under its seed: the data order comes from the loader's (seed, epoch)
stream, sub-networks from a generator seeded by (seed, epoch), and a run resumed from the checkpoint of
epoch ``e`` ends with exactly the weights of an uninterrupted run.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F

from cimpipe.data import Augmentation, BatchLoader, PreparedDataset
from cimpipe.nn.evaluate import evaluate_subnet
from cimpipe.nn import build_supernet
from cimpipe.progress import progress_bar as _progress_bar
from cimpipe.progress import say as _say
from cimpipe.space import BIT_RANGE, Family, SpaceError, SubnetConfig
from cimpipe.space import spec_from_dict as families_spec_from_dict

CHECKPOINT_FORMAT = "cimpipe-supernet-1"
LOG_SCHEMA = {
    "epoch": pl.Int64,
    "lr": pl.Float64,
    "loss": pl.Float64,
    "largest_acc": pl.Float64,
    "smallest_acc": pl.Float64,
    "seconds": pl.Float64,
}


class TrainError(ValueError):
    """A training recipe, checkpoint or device request that cannot be used (one sentence)."""


@dataclass(frozen=True)
class TrainRecipe:
    """How a supernet is trained; every field has a default, see :meth:`from_config`."""

    epochs: int = 40
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-5
    label_smoothing: float = 0.1
    warmup_epochs: float = 1.0
    random_subnets: int = 2
    distill: float = 1.0
    bit_phases: tuple[tuple[float, tuple[int, ...]], ...] = ((0.0, (8,)), (0.15, (4, 5, 6, 7, 8)), (0.4, (2, 3, 4, 5, 6, 7, 8)))
    recalibration_images: int = 1000
    device: str = "auto"
    amp: bool = True
    cpu_amp: bool = False
    cpu_threads: int = 0

    def __post_init__(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                    "recalibration_images": self.recalibration_images}
        for key, value in positive.items():
            if not value > 0:
                raise TrainError(f"training key {key!r} must be positive, got {value!r}")
        for key in ("momentum", "label_smoothing", "distill"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise TrainError(f"training key {key!r} must lie in 0..1, got {value!r}")
        for key in ("weight_decay", "warmup_epochs", "random_subnets", "cpu_threads"):
            if getattr(self, key) < 0:
                raise TrainError(f"training key {key!r} must not be negative, got {getattr(self, key)!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise TrainError(f"training key 'device' must be 'auto', 'cpu' or 'cuda', got {self.device!r}")
        if not self.bit_phases or self.bit_phases[0][0] != 0.0:
            raise TrainError("training key 'bit_phases' must start with a phase at fraction 0.0")
        starts = [p[0] for p in self.bit_phases]
        if starts != sorted(starts) or starts[-1] >= 1.0:
            raise TrainError("training key 'bit_phases' needs increasing start fractions below 1.0")
        for _, bits in self.bit_phases:
            if not bits or any(not BIT_RANGE[0] <= b <= BIT_RANGE[1] for b in bits):
                raise TrainError(f"training key 'bit_phases' has bits {list(bits)} outside {BIT_RANGE[0]}..{BIT_RANGE[1]}")

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> "TrainRecipe":
        """Build from a config mapping (a workload's ``training`` section); unknown or mistyped keys fail."""
        config = dict(config or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise TrainError(f"unknown training key(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
        kwargs: dict[str, Any] = {}
        for key, value in config.items():
            default = getattr(cls, key)
            if key == "bit_phases":
                kwargs[key] = _parse_phases(value)
            elif key == "distill" and isinstance(value, bool):
                kwargs[key] = 1.0 if value else 0.0
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise TrainError(f"training key {key!r} must be true or false, got {value!r}")
                kwargs[key] = value
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TrainError(f"training key {key!r} must be an integer, got {value!r}")
                kwargs[key] = value
            elif isinstance(default, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TrainError(f"training key {key!r} must be a number, got {value!r}")
                kwargs[key] = float(value)
            elif isinstance(default, str):
                if not isinstance(value, str):
                    raise TrainError(f"training key {key!r} must be a string, got {value!r}")
                kwargs[key] = value
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bit_phases"] = [[start, list(bits)] for start, bits in self.bit_phases]
        return d

    def phase_bits(self, epoch: int) -> tuple[int, ...]:
        """Bit-widths open at ``epoch``."""
        frac = epoch / self.epochs
        bits = self.bit_phases[0][1]
        for start, phase in self.bit_phases:
            if frac >= start:
                bits = phase
        return tuple(sorted(bits))


def _parse_phases(value: Any) -> tuple[tuple[float, tuple[int, ...]], ...]:
    try:
        phases = tuple((float(start), tuple(int(b) for b in bits)) for start, bits in value)
    except (TypeError, ValueError):
        raise TrainError(
            f"training key 'bit_phases' must be a list of [start_fraction, [bits...]] pairs, got {value!r}"
        ) from None
    return phases


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainError("training key 'device' asks for 'cuda' but no CUDA device is available")
    return torch.device(name)


def _use_amp(recipe: TrainRecipe, device: torch.device) -> bool:
    """bfloat16 autocast: on CUDA with ``amp``; on a CPU with ``cpu_amp`` where it computes bfloat16 natively
    (AVX-512 BF16 or AMX; elsewhere it is emulated and slower than float32)."""
    if device.type == "cuda":
        return recipe.amp
    return recipe.cpu_amp and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on conv/linear weights only (none on BN, biases and quantizer steps), as in OFA."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        is_weight = name.endswith(".weight") and p.dim() > 1
        (decay if is_weight else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _lr_at(recipe: TrainRecipe, step: int, steps_per_epoch: int) -> float:
    total = recipe.epochs * steps_per_epoch
    warm = int(round(recipe.warmup_epochs * steps_per_epoch))
    if step < warm:
        return recipe.lr * (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return 0.5 * recipe.lr * (1.0 + math.cos(math.pi * progress))


def _data_digest(data: PreparedDataset) -> str:
    """sha256 of the training images and labels: a checkpoint resumes only on the data it was trained on."""
    import hashlib

    h = hashlib.sha256()
    for arr in (data.train_x, data.train_y):
        h.update(str(arr.shape).encode())
        h.update(np.ascontiguousarray(arr).data)
    return h.hexdigest()


def _atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _sandwich(spec: Family, bits: tuple[int, ...], rng: np.random.Generator, n_random: int) -> list[SubnetConfig]:
    largest = spec.largest(bits=max(bits))
    smallest = spec.smallest(bits=min(bits))
    return [largest, smallest] + [spec.sample(rng, bits=bits) for _ in range(n_random)]


def _monitor(model: torch.nn.Module, spec: Family, data: PreparedDataset, calib: np.ndarray,
             batch_size: int) -> tuple[float, float]:
    """Validation accuracy of the largest member at the highest bits and the smallest at the lowest."""
    accs = []
    for cfg in (spec.largest(), spec.smallest()):
        acc, _ = evaluate_subnet(model, cfg, None, data.val_x, data.val_y, mean=data.mean, std=data.std,
                                 calib_images=calib, batch_size=max(batch_size, 200))
        accs.append(acc)
    return accs[0], accs[1]


def _check_data(spec: Family, data: PreparedDataset) -> None:
    if data.channels != spec.in_channels or data.image_size != spec.image_size or data.num_classes != spec.num_classes:
        raise TrainError(
            f"the dataset ({data.channels} channels, {data.image_size}px, {data.num_classes} classes) does not match "
            f"the supernet spec ({spec.in_channels} channels, {spec.image_size}px, {spec.num_classes} classes)"
        )


def train_supernet(
    spec: Family,
    data: PreparedDataset,
    recipe: TrainRecipe,
    out_path: Path,
    log_path: Path,
    *,
    seed: int,
    checkpoint_dir: Path,
    augment: Augmentation | None,
    progress: bool | None = None,
) -> Path:
    """Train a supernet of ``spec`` on ``data``; write ``out_path`` (supernet.pt) and ``log_path`` (Parquet).

    Resumes from ``checkpoint_dir/last.pt`` when it was written by the same spec, recipe, seed and training data.
    ``recipe.cpu_threads`` > 0 sets torch's CPU threads for the run (small networks train fastest on one).
    """
    threads = torch.get_num_threads()
    if recipe.cpu_threads > 0:
        torch.set_num_threads(recipe.cpu_threads)
    try:
        return _train(spec, data, recipe, out_path, log_path, seed=seed, checkpoint_dir=checkpoint_dir,
                      augment=augment, progress=progress)
    finally:
        torch.set_num_threads(threads)


def _train(
    spec: Family,
    data: PreparedDataset,
    recipe: TrainRecipe,
    out_path: Path,
    log_path: Path,
    *,
    seed: int,
    checkpoint_dir: Path,
    augment: Augmentation | None,
    progress: bool | None,
) -> Path:
    _check_data(spec, data)
    out_path, log_path, checkpoint_dir = Path(out_path), Path(log_path), Path(checkpoint_dir)
    device = resolve_device(recipe.device)
    use_amp = _use_amp(recipe, device)
    torch.manual_seed(seed)
    model = build_supernet(spec).to(device)
    optimizer = torch.optim.SGD(_param_groups(model, recipe.weight_decay), lr=recipe.lr,
                                momentum=recipe.momentum, nesterov=recipe.momentum > 0)
    loader = BatchLoader(data.train_x, data.train_y, recipe.batch_size, mean=data.mean, std=data.std, shuffle=True,
                         augment=augment, seed=seed, drop_last=len(data.train_x) > recipe.batch_size, device=device)
    steps_per_epoch = len(loader)
    calib_rng = np.random.default_rng([seed, 1])
    n_calib = min(recipe.recalibration_images, len(data.train_x))
    calib = data.train_x[np.sort(calib_rng.choice(len(data.train_x), n_calib, replace=False))]
    identity = {"spec": spec.to_dict(), "recipe": recipe.to_dict(), "seed": seed, "data": _data_digest(data)}

    start_epoch, rows = 0, []
    ckpt_path = checkpoint_dir / "last.pt"
    if ckpt_path.exists():
        try:
            ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        except Exception:  # noqa: BLE001 - an unreadable checkpoint is ignored and training starts over
            ckpt = None
        if isinstance(ckpt, dict) and ckpt.get("identity") == identity:
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            start_epoch, rows = int(ckpt["epoch"]), list(ckpt["log"])

    show_bar = sys.stdout.isatty() if progress is None else progress
    bar_ctx = _progress_bar(show_bar)
    with bar_ctx as bar:
        task = bar.add_task("supernet", total=recipe.epochs * steps_per_epoch, completed=start_epoch * steps_per_epoch) if bar else None
        for epoch in range(start_epoch, recipe.epochs):
            t0 = time.perf_counter()
            model.train()
            rng = np.random.default_rng([seed, epoch, 7])
            bits = recipe.phase_bits(epoch)
            loss_sum, n_steps, lr = 0.0, 0, recipe.lr
            for step_in_epoch, (x, y) in enumerate(loader.epoch(epoch)):
                lr = _lr_at(recipe, epoch * steps_per_epoch + step_in_epoch, steps_per_epoch)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                optimizer.zero_grad(set_to_none=True)
                loss_sum += _sandwich_step(model, spec, x, y, recipe, bits, rng, use_amp)
                optimizer.step()
                n_steps += 1
                if bar:
                    bar.advance(task)
            largest_acc, smallest_acc = _monitor(model, spec, data, calib, recipe.batch_size)
            seconds = time.perf_counter() - t0
            row = {"epoch": epoch + 1, "lr": lr, "loss": loss_sum / max(1, n_steps), "largest_acc": largest_acc,
                   "smallest_acc": smallest_acc, "seconds": seconds}
            rows.append(row)
            _atomic_save({"identity": identity, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "epoch": epoch + 1, "log": rows}, ckpt_path)
            line = (f"epoch {epoch + 1}/{recipe.epochs} lr {lr:.4f} loss {row['loss']:.4f} "
                    f"largest {largest_acc:.4f} smallest {smallest_acc:.4f} bits {min(bits)}..{max(bits)} {seconds:.1f}s")
            if bar:
                bar.console.print(line)
            else:
                _say(line)

    log = pl.DataFrame(rows, schema=LOG_SCHEMA)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_log = log_path.with_name(f".{log_path.name}.tmp{os.getpid()}")
    log.write_parquet(tmp_log)
    os.replace(tmp_log, log_path)
    meta = {"mean": list(data.mean), "std": list(data.std), "num_classes": data.num_classes,
            "class_names": list(data.class_names), "channels": data.channels, "image_size": data.image_size,
            "name": getattr(data, "name", ""), "seed": seed}
    _atomic_save({"format": CHECKPOINT_FORMAT, "state_dict": model.state_dict(), "spec": spec.to_dict(),
                  "recipe": recipe.to_dict(), "dataset": meta}, out_path)
    return out_path


def _sandwich_step(model: torch.nn.Module, spec: Family, x: torch.Tensor, y: torch.Tensor, recipe: TrainRecipe,
                   bits: tuple[int, ...], rng: np.random.Generator, use_amp: bool) -> float:
    """Accumulate the gradients of one sandwich (largest on labels, the others distilled); return its loss."""
    members = _sandwich(spec, bits, rng, recipe.random_subnets)
    total = 0.0
    soft = None
    for i, cfg in enumerate(members):
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=use_amp):
            logits = model(x, cfg).float()
        ce = F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
        if i == 0:
            loss = ce
            soft = F.softmax(logits.detach(), dim=1)
        elif recipe.distill > 0:
            kd = F.kl_div(F.log_softmax(logits, dim=1), soft, reduction="batchmean")
            loss = (1.0 - recipe.distill) * ce + recipe.distill * kd
        else:
            loss = ce
        loss.backward()
        total += float(loss.detach())
    return total / len(members)


def spec_from_dict(d: dict[str, Any]) -> Family:
    """Rebuild a family spec from :meth:`Family.to_dict` output (a checkpoint's ``spec``)."""
    try:
        return families_spec_from_dict(d)
    except SpaceError as e:
        raise TrainError(str(e)) from None


def load_supernet(path: Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, Family, dict[str, Any]]:
    """Load ``supernet.pt``: the model (eval mode), its spec, and the dataset meta (mean/std/classes...)."""
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"supernet checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=False)
    except Exception:  # noqa: BLE001 - any unreadable file gets the same sentence
        raise TrainError(f"supernet checkpoint {path} is corrupt or not a torch file") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise TrainError(f"supernet checkpoint {path} is not a {CHECKPOINT_FORMAT} file")
    try:
        spec = spec_from_dict(ckpt["spec"])
        model = build_supernet(spec).to(device)
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError, SpaceError) as e:
        raise TrainError(f"supernet checkpoint {path} does not match its own spec ({type(e).__name__})") from None
    model.eval()
    meta = dict(ckpt.get("dataset", {}))
    meta["recipe"] = ckpt.get("recipe", {})
    return model, spec, meta
