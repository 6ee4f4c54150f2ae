"""NeuroSim as an oracle: export a design, build a NeuroSim checkout for its settings, run it, parse its report.

cimpipe never contains NeuroSim: the user names a checkout of DNN+NeuroSim V1.4 (its root, its
``Inference_pytorch`` folder or the ``NeuroSIM`` folder itself). Every distinct setting needs its own build,
because NeuroSim compiles its settings in (``Param.cpp``). Builds are cached by a hash of the edited
``Param.cpp`` and of the checkout's sources; one full build per checkout is made first and every other build
copies its object files and recompiles ``Param.cpp`` alone (about 2 s instead of 15-35 s).

The inputs follow NeuroSim's own trace writer (``Inference_pytorch/utee/hook.py``):

* ``NetWork.csv``: ``IFM_H,IFM_W,C_in,K_H,K_W,C_out,maxpool_after,stride`` per layer; NeuroSim counts a
  layer's input vectors as ``int((IFM_H-K+1)/stride * (IFM_W-K+1)/stride)``, so a padded 3x3 convolution gives
  its padded input size (cimpipe's :class:`~cimpipe.families.LayerShape` uses the same convention).
* one weight CSV per layer: the unrolled matrix, ``C_in*K*K`` rows by ``C_out`` columns, weights in [-1, 1);
  NeuroSim maps ``w`` to the unsigned level ``2^(bits-1) * (w + 1)`` (offset encoding) and slices the level over
  ``ceil(bits / cell_bits)`` cells.
* one input CSV per layer: ``C_in*K*K`` rows, ``vectors * input_bits`` columns of '0'/'1', bit ``b`` of vector
  ``v`` in column ``v * input_bits + b`` (most significant bit first).

NeuroSim's energy depends on these values (input bits that are 1, the conductance of each cell), so
:func:`synthetic_traces` draws them with a chosen input bit density and weight distribution.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from cimpipe.families import LayerShape

if TYPE_CHECKING:
    from cimpipe.hw.technology import Technology
    from cimpipe.space import HardwareConfig

MEMORY_CODES = {"sram": 1, "rram": 2, "fefet": 3}
NODES_NM = (130, 90, 65, 45, 32, 22, 14, 10, 7, 5, 3, 2, 1)
BUILD_TIMEOUT_S = 600.0
MARKER_FILES = ("Param.cpp", "main.cpp", "makefile", "Chip.cpp")


class NeuroSimError(ValueError):
    """A NeuroSim checkout, build, run or report cannot be used (one sentence naming the path or setting)."""


class NeuroSimTimeout(NeuroSimError):
    """A NeuroSim run went past its time limit: a fact about this machine's load, not about the settings."""


@dataclass(frozen=True)
class NeuroSimSettings:
    """Every NeuroSim V1.4 knob that cimpipe's hardware model also has, with NeuroSim's meaning.

    ``memory`` sram / rram / fefet (``memcelltype``); ``node_nm`` one of :data:`NODES_NM` (``technode``);
    ``cell_bits`` (``cellBit``; NeuroSim forces 1 for SRAM); ``adc_bits`` (``levelOutput = 2^bits``);
    ``adc_type`` flash (multilevel sense amplifier) or sar (``SARADC``); ``col_mux`` columns per ADC
    (``numColMuxed``); ``subarray_rows`` x ``subarray_cols`` (argv and ``numColSubArray``); ``rows_parallel``
    rows read at once (argv, partial-parallel read); ``pipeline``; ``mapping`` novel or conventional
    (``novelMapping``); ``bus`` xy or htree (``globalBusType``); ``r_on_ohm`` and ``on_off_ratio``
    (``resistanceOn``/``resistanceOff``); ``weight_bits`` and ``input_bits`` (argv); ``input_toggle`` the
    interconnect toggle rate (``inputtoggle``, NeuroSim's default 0.18 is VGG-8's); ``current_mode`` current
    (True) or voltage sense amplifiers; ``speedup_degree`` pipeline duplication bound; ``validated`` NeuroSim's
    post-layout calibration factors; ``clock_hz`` the clock cap; ``read_pulse_ns`` eNVM read pulse;
    ``cell_area_f2`` the 1T1R cell of RRAM and FeFET (4 F tall, ``cell_area_f2 / 4`` F wide; NeuroSim's 48 F^2 by
    default; SRAM cells follow NeuroSim's per-node table).
    """

    memory: str = "rram"
    node_nm: int = 22
    cell_bits: int = 2
    adc_bits: int = 5
    adc_type: str = "flash"
    col_mux: int = 8
    subarray_rows: int = 128
    subarray_cols: int = 128
    rows_parallel: int = 128
    pipeline: bool = False
    mapping: str = "novel"
    bus: str = "xy"
    r_on_ohm: float = 100e3
    on_off_ratio: float = 17.0
    weight_bits: int = 8
    input_bits: int = 8
    input_toggle: float = 0.18
    current_mode: bool = True
    speedup_degree: int = 8
    validated: bool = True
    clock_hz: float = 1e9
    read_pulse_ns: float = 10.0
    cell_area_f2: float = 48.0

    def __post_init__(self) -> None:
        def bad(key: str, why: str) -> NeuroSimError:
            return NeuroSimError(f"NeuroSim setting {key}={getattr(self, key)!r} {why}")

        if self.memory not in MEMORY_CODES:
            raise bad("memory", f"is not one of {sorted(MEMORY_CODES)}")
        if self.node_nm not in NODES_NM:
            raise bad("node_nm", f"is not a NeuroSim V1.4 node {NODES_NM}")
        if self.memory != "sram" and self.node_nm < 22:
            raise bad("node_nm", "is below 22 nm, where NeuroSim V1.4 supports SRAM only")
        if self.adc_type not in ("flash", "sar"):
            raise bad("adc_type", "must be 'flash' or 'sar'")
        if self.mapping not in ("novel", "conventional"):
            raise bad("mapping", "must be 'novel' or 'conventional'")
        if self.bus not in ("xy", "htree"):
            raise bad("bus", "must be 'xy' or 'htree'")
        for key in ("cell_bits", "adc_bits", "col_mux", "subarray_rows", "subarray_cols", "rows_parallel",
                    "weight_bits", "input_bits", "speedup_degree"):
            if int(getattr(self, key)) < 1:
                raise bad(key, "must be at least 1")
        if self.rows_parallel > self.subarray_rows:
            raise bad("rows_parallel", f"exceeds subarray_rows={self.subarray_rows}")
        if self.effective_cell_bits > self.weight_bits:
            raise bad("cell_bits", f"exceeds weight_bits={self.weight_bits}")
        if self.on_off_ratio <= 1 or self.r_on_ohm <= 0:
            raise bad("on_off_ratio" if self.on_off_ratio <= 1 else "r_on_ohm", "is out of range")
        if self.cell_area_f2 < 4.0:
            raise bad("cell_area_f2", "is below 4 F^2")
        if not 0.0 <= self.input_toggle <= 1.0:
            raise bad("input_toggle", "must lie in [0, 1]")

    @property
    def effective_cell_bits(self) -> int:
        """NeuroSim forces one bit per SRAM cell."""
        return 1 if self.memory == "sram" else int(self.cell_bits)

    def param_edits(self) -> dict[str, str]:
        """The first assignment of each ``Param.cpp`` variable, as C++ literals."""
        b = lambda v: "true" if v else "false"  # noqa: E731
        return {
            "memcelltype": str(MEMORY_CODES[self.memory]),
            "technode": str(int(self.node_nm)),
            "cellBit": str(self.effective_cell_bits),
            "levelOutput": str(2 ** int(self.adc_bits)),
            "SARADC": b(self.adc_type == "sar"),
            "numColMuxed": str(int(self.col_mux)),
            "numColSubArray": str(int(self.subarray_cols)),
            "pipeline": b(self.pipeline),
            "novelMapping": b(self.mapping == "novel"),
            "globalBusType": b(self.bus == "htree"),
            "resistanceOn": repr(float(self.r_on_ohm)),
            "resistanceOff": repr(float(self.r_on_ohm * self.on_off_ratio)),
            "inputtoggle": repr(float(self.input_toggle)),
            "currentMode": b(self.current_mode),
            "speedUpDegree": str(int(self.speedup_degree)),
            "validated": b(self.validated),
            "clkFreq": repr(float(self.clock_hz)),
            "readPulseWidth": repr(float(self.read_pulse_ns) * 1e-9),
            "heightInFeatureSize1T1R": "4",
            "widthInFeatureSize1T1R": repr(float(self.cell_area_f2) / 4.0),
        }

    def argv(self) -> list[str]:
        """The four numbers NeuroSim's ``main`` takes before the traces."""
        return [str(int(self.weight_bits)), str(int(self.input_bits)), str(int(self.subarray_rows)),
                str(int(self.rows_parallel))]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "NeuroSimSettings":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise NeuroSimError(f"unknown NeuroSim setting {sorted(unknown)[0]!r}")
        return cls(**d)


# --------------------------------------------------------------------------------------------------
# checkout and builds
# --------------------------------------------------------------------------------------------------

def find_source(path: str | os.PathLike) -> Path:
    """The ``NeuroSIM`` folder of a checkout given as its root, ``Inference_pytorch`` or the folder itself."""
    p = Path(path).expanduser()
    for cand in (p, p / "NeuroSIM", p / "Inference_pytorch" / "NeuroSIM"):
        if all((cand / f).is_file() for f in MARKER_FILES):
            return cand.resolve()
    raise NeuroSimError(f"{p} is not a NeuroSim checkout (no Inference_pytorch/NeuroSIM with Param.cpp, main.cpp "
                        f"and makefile)")


def _source_digest(src: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(src.iterdir()):
        if f.suffix in (".cpp", ".h") or f.name == "makefile":
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


_ASSIGN = r"(^[ \t]*{name}[ \t]*=[ \t]*)([^;\n]*)(;)"
_USER_SECTION_END = "user defined design options and parameters"


def patch_param(text: str, edits: dict[str, str]) -> str:
    """``Param.cpp`` with the first assignment of each edited variable replaced (within the user section)."""
    end = text.find(_USER_SECTION_END, text.find(_USER_SECTION_END) + 1)
    if end < 0:
        end = len(text)
    head, tail = text[:end], text[end:]
    for name, value in edits.items():
        pattern = re.compile(_ASSIGN.format(name=re.escape(name)), re.MULTILINE)
        head, n = pattern.subn(lambda m: m.group(1) + value + m.group(3), head, count=1)
        if n != 1:
            raise NeuroSimError(f"Param.cpp has no assignment of {name!r} to set (not a NeuroSim V1.4 checkout?)")
    return head + tail


def default_cache() -> Path:
    root = os.environ.get("CIMPIPE_NEUROSIM_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "cimpipe" / "neurosim"


def _make(folder: Path, jobs: int, timeout_s: float) -> None:
    try:
        res = subprocess.run(["make", "-C", str(folder), f"-j{jobs}"], capture_output=True, text=True,
                             timeout=timeout_s)
    except FileNotFoundError:
        raise NeuroSimError("building NeuroSim needs 'make' and 'g++' on the PATH") from None
    except subprocess.TimeoutExpired:
        raise NeuroSimError(f"building NeuroSim in {folder} ran past {timeout_s:.0f} s") from None
    if res.returncode != 0 or not (folder / "main").is_file():
        last = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
        raise NeuroSimError(f"building NeuroSim in {folder} failed: {last[0]}")


def _publish(tmp: Path, final: Path) -> Path:
    """Rename a finished build into place; a concurrent build of the same key wins harmlessly."""
    try:
        tmp.rename(final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (final / "main").is_file():
            raise
    return final


def _base_build(src: Path, cache: Path, jobs: int) -> Path:
    final = cache / f"base-{_source_digest(src)}"
    if (final / "main").is_file():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".base-", dir=cache))
    try:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        for f in tmp.rglob("*"):
            f.chmod(f.stat().st_mode | 0o200)
        _make(tmp, jobs, BUILD_TIMEOUT_S)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _publish(tmp, final)


def build(checkout: str | os.PathLike, settings: NeuroSimSettings, cache: Path | None = None, jobs: int = 2) -> Path:
    """The ``main`` binary of ``checkout`` compiled with ``settings`` (built once, then taken from the cache)."""
    src = find_source(checkout)
    cache = Path(cache) if cache is not None else default_cache()
    param = patch_param((src / "Param.cpp").read_text(errors="replace"), settings.param_edits())
    key = hashlib.sha256((_source_digest(src) + param).encode()).hexdigest()[:16]
    final = cache / f"build-{key}"
    if (final / "main").is_file():
        return final / "main"
    base = _base_build(src, cache, jobs)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    try:
        # copy2 keeps modification times, so make recompiles Param.cpp alone and relinks
        shutil.copytree(base, tmp, dirs_exist_ok=True, copy_function=shutil.copy2)
        (tmp / "Param.cpp").write_text(param)
        (tmp / "main").unlink()
        _make(tmp, jobs, BUILD_TIMEOUT_S)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _publish(tmp, final) / "main"


# --------------------------------------------------------------------------------------------------
# traces
# --------------------------------------------------------------------------------------------------

def num_vectors(layer: LayerShape) -> int:
    """Input vectors NeuroSim counts for a layer: ``int((H-K+1)/s * (W-K+1)/s)``."""
    return int((layer.ifm_h - layer.k + 1) / layer.stride * (layer.ifm_w - layer.k + 1) / layer.stride)


@dataclass(frozen=True)
class LayerTrace:
    """One layer's trace: ``weights`` [rows, C_out] in [-1, 1), ``input_bits`` [rows, vectors * bits] of 0/1."""

    weights: np.ndarray
    input_bits: np.ndarray


@dataclass(frozen=True)
class TraceStats:
    """What NeuroSim's energy reads from a trace: the mean input bit and the mean stored weight level (0..1),
    over the network and per layer."""

    input_bit_density: float
    weight_level_mean: float
    layer_input_bit_density: tuple[float, ...] = ()
    layer_weight_level_mean: tuple[float, ...] = ()
    layer_zero_read_fraction: tuple[float, ...] = ()


def weight_levels(weights: np.ndarray, bits: int) -> np.ndarray:
    """NeuroSim's unsigned level of each weight: round(2^(bits-1) * (w + 1)), in 0..2^bits - 1."""
    half = 2 ** (bits - 1)
    return np.clip(np.floor(half * (weights + 1.0) + 0.5), 0, 2 * half - 1).astype(np.int64)


def synthetic_traces(layers: Sequence[LayerShape], settings: NeuroSimSettings, input_density: float = 0.2,
                     weight_std: float | None = None, seed: int = 0) -> list[LayerTrace]:
    """Traces with every input bit 1 with probability ``input_density`` and weights uniform over the
    ``2^weight_bits`` levels (``weight_std`` None) or normal around 0 with that std (clipped to [-1, 1))."""
    if not 0.0 <= input_density <= 1.0:
        raise NeuroSimError(f"input bit density {input_density} must lie in [0, 1]")
    rng = np.random.default_rng(seed)
    wb, ib = int(settings.weight_bits), int(settings.input_bits)
    half = 2 ** (wb - 1)
    out = []
    for layer in layers:
        if layer.groups != 1:
            raise NeuroSimError("NeuroSim has no grouped (depthwise) layers; give a network of dense layers")
        rows = layer.c_in * layer.k * layer.k
        n_vec = num_vectors(layer)
        if n_vec < 1:
            raise NeuroSimError(f"layer {layer.as_row()} has no input vectors in NeuroSim's count "
                                f"(give the padded input size)")
        if weight_std is None:
            levels = rng.integers(0, 2 * half, size=(rows, layer.c_out))
        else:
            w = np.clip(rng.normal(0.0, weight_std, size=(rows, layer.c_out)), -1.0, 1.0 - 1.0 / half)
            levels = weight_levels(w, wb)
        weights = levels / half - 1.0
        bits = (rng.random((rows, n_vec * ib)) < input_density).astype(np.uint8)
        out.append(LayerTrace(weights=weights, input_bits=bits))
    return out


def cell_levels(levels: np.ndarray, weight_bits: int, cell_bits: int) -> np.ndarray:
    """The level of every cell a weight's level is sliced over (NeuroSim's ``numColPerSynapse`` cells of
    ``cell_bits`` bits, least significant first), as a fraction of the cell's top level: [..., cells]."""
    shifts = np.arange(0, weight_bits, cell_bits)
    top = 2 ** cell_bits - 1
    return ((levels[..., None] >> shifts) & top) / top


def zero_read_fraction(input_bits: np.ndarray, subarray_rows: int) -> float:
    """Fraction of the reads (one input bit-vector into one block of ``subarray_rows`` consecutive rows) in which
    no row gets a 1: the columns then carry no current."""
    rows = input_bits.shape[0]
    empty = [float((input_bits[lo: lo + subarray_rows].sum(axis=0) == 0).mean())
             for lo in range(0, rows, subarray_rows)]
    return float(np.mean(empty)) if empty else 0.0


def trace_stats(traces: Sequence[LayerTrace], weight_bits: int, cell_bits: int,
                subarray_rows: int | None = None) -> TraceStats:
    """The mean input bit and the mean stored cell level (each cell's level over its top level; the column
    currents NeuroSim sums follow the cells, not the weights: weights near zero stored with an offset leave
    most low cells at level 0), over the network and per layer; with ``subarray_rows``, each layer's
    :func:`zero_read_fraction`."""
    n_in = sum(t.input_bits.size for t in traces)
    density = sum(float(t.input_bits.sum()) for t in traces) / max(n_in, 1)
    layer_level = [cell_levels(weight_levels(t.weights, weight_bits), weight_bits, cell_bits) for t in traces]
    n_cells = sum(c.size for c in layer_level)
    level = sum(float(c.sum()) for c in layer_level) / max(n_cells, 1)
    return TraceStats(input_bit_density=density, weight_level_mean=level,
                      layer_input_bit_density=tuple(float(t.input_bits.mean()) for t in traces),
                      layer_weight_level_mean=tuple(float(c.mean()) for c in layer_level),
                      layer_zero_read_fraction=() if subarray_rows is None else
                      tuple(zero_read_fraction(t.input_bits, subarray_rows) for t in traces))


def _write_bits(path: Path, bits: np.ndarray) -> None:
    """'0'/'1' separated by commas, one row a line, written as one byte buffer."""
    rows, cols = bits.shape
    buf = np.full((rows, 2 * cols), ord(","), dtype=np.uint8)
    buf[:, 0::2] = bits + ord("0")
    buf[:, -1] = ord("\n")
    path.write_bytes(buf.tobytes())


def _write_weights(path: Path, weights: np.ndarray) -> None:
    values, inverse = np.unique(weights, return_inverse=True)
    text = np.array([f"{v:.5f}" for v in values], dtype=object)[inverse.reshape(weights.shape)]
    path.write_text("\n".join(",".join(row) for row in text) + "\n")


def write_inputs(folder: Path, layers: Sequence[LayerShape], traces: Sequence[LayerTrace]) -> list[Path]:
    """``NetWork.csv`` and each layer's weight and input CSV in ``folder``; returns the trace paths in order."""
    if len(traces) != len(layers):
        raise NeuroSimError(f"{len(traces)} traces for {len(layers)} layers")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "NetWork.csv").write_text("".join(",".join(str(v) for v in l.as_row()[:8]) + "\n" for l in layers))
    paths: list[Path] = []
    for i, (layer, t) in enumerate(zip(layers, traces), start=1):
        rows = layer.c_in * layer.k * layer.k
        if t.weights.shape != (rows, layer.c_out) or t.input_bits.shape[0] != rows:
            raise NeuroSimError(f"layer {i}'s trace has shape {t.weights.shape} / {t.input_bits.shape}, expected "
                                f"{rows} rows and {layer.c_out} weight columns")
        w, x = folder / f"weight{i}.csv", folder / f"input{i}.csv"
        _write_weights(w, t.weights)
        _write_bits(x, t.input_bits)
        paths += [w, x]
    return paths


# --------------------------------------------------------------------------------------------------
# running and parsing
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NeuroSimReport:
    """NeuroSim's printed figures in cimpipe's names and units (area mm^2, latency ns, energy pJ, power uW).

    ``breakdowns`` holds ``area_*_mm2``, ``latency_*_ns`` and ``energy_*_pj`` for NeuroSim's buckets
    (``adc``, ``accumulation``, ``other``, ``buffer``, ``interconnect``, ``array``); ``layers`` one dict per
    layer (tiles, speedup, utilization, latency_ns, dynamic_energy_pj, leakage_power_uw, leakage_energy_pj,
    buffer and interconnect latency and energy, the ADC / accumulation / other latency and energy).
    """

    area_mm2: float
    latency_ns: float
    dynamic_energy_pj: float
    leakage_energy_pj: float
    leakage_power_uw: float
    tops_per_w: float
    tops: float
    tops_per_mm2: float
    fps: float
    clock_period_ns: float
    utilization: float
    tiles: int
    breakdowns: dict[str, float] = field(default_factory=dict)
    layers: list[dict[str, float]] = field(default_factory=list)
    tile_size: dict[str, str] = field(default_factory=dict)
    runtime_s: float = float("nan")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "NeuroSimReport":
        return cls(**d)


_NUM = r"([-+0-9.eE]+|-?nan|-?inf)"
_SUMMARY = {
    "area_um2": r"ChipArea : " + _NUM + "um\\^2",
    "area_array_um2": r"Chip total CIM array : " + _NUM + "um\\^2",
    "area_interconnect_um2": r"Total IC Area on chip \(Global and Tile/PE local\): " + _NUM + "um\\^2",
    "area_adc_um2": r"Total ADC \(or S/As and precharger for SRAM\) Area on chip : " + _NUM + "um\\^2",
    "area_accumulation_um2": r"Total Accumulation Circuits .*? on chip : " + _NUM + "um\\^2",
    "area_other_um2": r"Other Peripheries \(e\.g\. decoders, mux, switchmatrix, buffers, pooling and activation units\) : "
                      + _NUM + "um\\^2",
    "clock_period_ns": r"Chip clock period is: " + _NUM + "ns",
    "latency_ns": r"Chip (?:layer-by-layer readLatency|pipeline-system-clock-cycle) \(per image\) is: " + _NUM + "ns",
    "dynamic_energy_pj": r"Chip (?:total|pipeline-system) readDynamicEnergy(?: \(per image\))? is: " + _NUM + "pJ",
    "leakage_energy_pj": r"Chip (?:total|pipeline-system) leakage Energy(?: \(per image\))? is: " + _NUM + "pJ",
    "leakage_power_uw": r"Chip (?:total|pipeline-system) leakage Power(?: \(per image\))? is: " + _NUM + "uW",
    "latency_buffer_ns": r"Chip (?:pipeline-system )?buffer readLatency(?: \(per image\))? is: " + _NUM + "ns",
    "energy_buffer_pj": r"Chip (?:pipeline-system )?buffer readDynamicEnergy(?: \(per image\))? is: " + _NUM + "pJ",
    "latency_interconnect_ns": r"Chip (?:pipeline-system )?ic readLatency(?: \(per image\))? is: " + _NUM + "ns",
    "energy_interconnect_pj": r"Chip (?:pipeline-system )?ic readDynamicEnergy(?: \(per image\))? is: " + _NUM + "pJ",
    "tops_per_w": r"Energy Efficiency TOPS/W \([^)]*\): " + _NUM,
    "tops": r"Throughput TOPS \([^)]*\): " + _NUM,
    "fps": r"Throughput FPS \([^)]*\): " + _NUM,
    "tops_per_mm2": r"Compute efficiency TOPS/mm\^2 \([^)]*\): " + _NUM,
    "utilization_percent": r"Memory Utilization of Whole Chip: " + _NUM + " %",
    "runtime_s": r"Total Run-time of NeuroSim: " + _NUM + " seconds",
}
_BUCKETS = (("adc", r"ADC \(or S/As and precharger for SRAM\)"), ("accumulation", r"Accumulation Circuits \([^)]*\)"),
            ("other", r"Other Peripheries \([^)]*\)"))
_LAYER = {
    "latency_ns": r"'s readLatency is: " + _NUM + "ns",
    "dynamic_energy_pj": r"'s readDynamicEnergy is: " + _NUM + "pJ",
    "leakage_power_uw": r"'s leakagePower is: " + _NUM + "uW",
    "leakage_energy_pj": r"'s leakageEnergy is: " + _NUM + "pJ",
    "latency_buffer_ns": r"'s buffer latency is: " + _NUM + "ns",
    "energy_buffer_pj": r"'s buffer readDynamicEnergy is: " + _NUM + "pJ",
    "latency_interconnect_ns": r"'s ic latency is: " + _NUM + "ns",
    "energy_interconnect_pj": r"'s ic readDynamicEnergy is: " + _NUM + "pJ",
}


def _section(text: str, title: str) -> list[tuple[int, float]]:
    """``layerN: value`` lines under a ``--- title ---`` heading."""
    start = text.find(title)
    if start < 0:
        return []
    out = []
    for line in text[start:].splitlines()[1:]:
        m = re.match(r"\s*layer(\d+): " + _NUM + r"\s*$", line)
        if m:
            out.append((int(m.group(1)), float(m.group(2))))
        elif out and line.strip():
            break
    return out


def parse_report(text: str, source: str = "NeuroSim's output") -> NeuroSimReport:
    """The figures of one NeuroSim V1.4 run from its standard output."""
    found: dict[str, float] = {}
    for key, pat in _SUMMARY.items():
        m = re.search(pat, text)
        if m:
            found[key] = float(m.group(1))
    missing = [k for k in ("area_um2", "latency_ns", "dynamic_energy_pj", "tops_per_w") if k not in found]
    if missing:
        raise NeuroSimError(f"{source} has no {missing[0]} line: the run did not finish")
    summary_at = text.find("------------------------------ Summary")
    chip = text[summary_at:] if summary_at >= 0 else text
    breakdowns = {f"area_{k}_mm2": found.get(f"area_{k}_um2", float("nan")) * 1e-6
                  for k in ("array", "interconnect", "adc", "accumulation", "other")}
    for name, label in _BUCKETS:
        m = re.search(r"-+ " + label + r" readLatency is : " + _NUM + "ns", chip)
        breakdowns[f"latency_{name}_ns"] = float(m.group(1)) if m else float("nan")
        m = re.search(r"-+ " + label + r" readDynamicEnergy is : " + _NUM + "pJ", chip)
        breakdowns[f"energy_{name}_pj"] = float(m.group(1)) if m else float("nan")
    for k in ("latency_buffer_ns", "energy_buffer_pj", "latency_interconnect_ns", "energy_interconnect_pj"):
        breakdowns[k] = found.get(k, float("nan"))
    tiles = _section(text, "# of tile used for each layer")
    speed = dict(_section(text, "Speed-up of each layer"))
    util = dict(_section(text, "Utilization of each layer"))
    layers: list[dict[str, float]] = []
    for n, t in tiles:
        row = {"layer": float(n), "tiles": t, "speedup": speed.get(n, float("nan")),
               "utilization": util.get(n, float("nan"))}
        block_at = text.find(f"Estimation of Layer {n} -")
        block = text[block_at:text.find("Estimation of Layer", block_at + 20)] if block_at >= 0 else ""
        for key, pat in _LAYER.items():
            m = re.search(rf"layer{n}" + pat, block)
            row[key] = float(m.group(1)) if m else float("nan")
        for name, label in _BUCKETS:
            m = re.search(r"-+ " + label + r" readLatency is : " + _NUM + "ns", block)
            row[f"latency_{name}_ns"] = float(m.group(1)) if m else float("nan")
            m = re.search(r"-+ " + label + r" readDynamicEnergy is : " + _NUM + "pJ", block)
            row[f"energy_{name}_pj"] = float(m.group(1)) if m else float("nan")
        layers.append(row)
    sizes = {}
    for key, pat in (("tile_conventional", r"Desired Conventional Mapped Tile Storage Size: (\S+)"),
                     ("pe_conventional", r"Desired Conventional PE Storage Size: (\S+)"),
                     ("tile_novel", r"Desired Novel Mapped Tile Storage Size: (\S+)")):
        m = re.search(pat, text)
        if m:
            sizes[key] = m.group(1)
    return NeuroSimReport(
        area_mm2=found["area_um2"] * 1e-6, latency_ns=found["latency_ns"],
        dynamic_energy_pj=found["dynamic_energy_pj"], leakage_energy_pj=found.get("leakage_energy_pj", float("nan")),
        leakage_power_uw=found.get("leakage_power_uw", float("nan")), tops_per_w=found["tops_per_w"],
        tops=found.get("tops", float("nan")), tops_per_mm2=found.get("tops_per_mm2", float("nan")),
        fps=found.get("fps", float("nan")), clock_period_ns=found.get("clock_period_ns", float("nan")),
        utilization=found.get("utilization_percent", float("nan")) / 100.0,
        tiles=int(sum(t for _, t in tiles)), breakdowns=breakdowns, layers=layers, tile_size=sizes,
        runtime_s=found.get("runtime_s", float("nan")),
    )


def run(binary: Path, folder: Path, n_layers: int, settings: NeuroSimSettings, timeout_s: float = 1800.0) -> str:
    """Run a built NeuroSim on the inputs :func:`write_inputs` left in ``folder``; its standard output."""
    args = [str(binary), "NetWork.csv", *settings.argv()]
    for i in range(1, n_layers + 1):
        args += [f"weight{i}.csv", f"input{i}.csv"]
    try:
        res = subprocess.run(args, cwd=folder, capture_output=True, text=True, timeout=timeout_s,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    except subprocess.TimeoutExpired:
        raise NeuroSimTimeout(f"NeuroSim ran past its time limit of {timeout_s:.0f} s on {folder}") from None
    for line in res.stdout.splitlines():
        if line.startswith("ERROR"):
            raise NeuroSimError(f"NeuroSim refused the settings: {line.strip()}")
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or res.stdout.strip().splitlines() or ["no output"])[-1]
        raise NeuroSimError(f"NeuroSim exited with status {res.returncode} on {folder}: {tail}")
    return res.stdout


@dataclass(frozen=True)
class OracleRun:
    """One NeuroSim run: what went in (network, settings, trace statistics) and what came out."""

    network: list[tuple[int, ...]]
    settings: NeuroSimSettings
    stats: TraceStats
    report: NeuroSimReport
    label: str = ""

    def to_dict(self) -> dict:
        return {"label": self.label, "network": [list(r) for r in self.network], "settings": self.settings.to_dict(),
                "stats": asdict(self.stats), "report": self.report.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "OracleRun":
        return cls(network=[tuple(int(v) for v in r) for r in d["network"]],
                   settings=NeuroSimSettings.from_dict(d["settings"]),
                   stats=TraceStats(**{k: tuple(v) if isinstance(v, list) else v for k, v in d["stats"].items()}),
                   report=NeuroSimReport.from_dict(d["report"]), label=d.get("label", ""))

    @property
    def layers(self) -> list[LayerShape]:
        return [LayerShape(r[0], r[1], r[2], r[3], r[5], bool(r[6]), r[7]) for r in self.network]


def simulate(checkout: str | os.PathLike, layers: Sequence[LayerShape], settings: NeuroSimSettings,
             traces: Sequence[LayerTrace] | None = None, input_density: float = 0.2,
             weight_std: float | None = None, seed: int = 0, cache: Path | None = None,
             timeout_s: float = 1800.0, label: str = "", keep: Path | None = None) -> OracleRun:
    """Build (cached), write the inputs, run NeuroSim and parse its report; synthetic traces when none given.

    The inputs go to a temporary folder removed afterwards; ``keep`` names a folder to receive NeuroSim's
    standard output (``neurosim.log``) and the inputs' ``NetWork.csv``.
    """
    layers = list(layers)
    if not layers:
        raise NeuroSimError("the network has no layers")
    binary = build(checkout, settings, cache)
    if traces is None:
        traces = synthetic_traces(layers, settings, input_density, weight_std, seed)
    stats = trace_stats(traces, int(settings.weight_bits), int(settings.effective_cell_bits),
                        int(settings.subarray_rows))
    with tempfile.TemporaryDirectory(prefix="cimpipe-neurosim-") as tmp:
        folder = Path(tmp)
        write_inputs(folder, layers, traces)
        text = run(binary, folder, len(layers), settings, timeout_s)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / "NetWork.csv", keep / "NetWork.csv")
            (keep / "neurosim.log").write_text(text)
    report = parse_report(text)
    return OracleRun(network=[l.as_row()[:8] for l in layers], settings=settings, stats=stats, report=report,
                     label=label)


def save_runs(path: Path, runs: Iterable[OracleRun]) -> None:
    """Runs as one JSON list, written to a temporary name and renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps([r.to_dict() for r in runs], indent=1))
    tmp.replace(path)


def load_runs(path: Path) -> list[OracleRun]:
    try:
        raw = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise NeuroSimError(f"stored NeuroSim runs {path} do not exist") from None
    except json.JSONDecodeError:
        raise NeuroSimError(f"stored NeuroSim runs {path} are not valid JSON") from None
    return [OracleRun.from_dict(d) for d in raw]


_MEMORY_OF = {"sram": "sram", "rram": "rram", "pcm": "rram", "stt_mram": "rram", "fefet": "fefet"}


def settings_for(hw: "HardwareConfig", tech: "Technology", weight_bits: int, input_bits: int,
                 mapping: str = "novel", bus: str = "xy") -> NeuroSimSettings:
    """NeuroSim's settings for a cimpipe design on a technology.

    PCM and STT-MRAM run as NeuroSim's resistive 1T1R cell (``memcelltype`` 2) with their own Ron and on/off
    ratio, as NeuroSim's manual prescribes for its recommended devices. NeuroSim takes one ADC resolution and
    one operand width for the whole chip: a design with per-layer values runs at their maximum. NeuroSim stores
    signed weights with an offset only: a design with differential arrays is refused.
    """
    if hw.sign_encoding != "offset":
        raise NeuroSimError(f"NeuroSim V1.4 models offset-encoded weights only, not {hw.sign_encoding} arrays")
    adc = max(hw.adc_bits) if isinstance(hw.adc_bits, tuple) else int(hw.adc_bits)
    dev = tech.device
    return NeuroSimSettings(
        memory=_MEMORY_OF[dev.memory], node_nm=int(tech.node_nm), cell_bits=int(hw.cell_bits), adc_bits=adc,
        adc_type=hw.adc_type, col_mux=int(hw.col_mux), subarray_rows=int(hw.subarray),
        subarray_cols=int(hw.subarray), rows_parallel=int(hw.rows_parallel), pipeline=bool(hw.pipeline),
        mapping=mapping, bus=bus, r_on_ohm=float(dev.r_on_ohm), on_off_ratio=float(dev.on_off_ratio),
        weight_bits=int(weight_bits), input_bits=int(input_bits),
        read_pulse_ns=float(dev.read_pulse_ns) if dev.memory != "sram" else 10.0,
        cell_area_f2=float(dev.cell_area_f2) if dev.memory != "sram" else 48.0,
    )
