"""Images per second of VGG-8's largest member (CIFAR shapes) in the digital forward pass and in CIM mode.

For W8A8 and W4A4, 1-bit cells (4-bit ADC) and 2-bit cells (5-bit ADC), sigma 0 and 0.05 (128 rows in
parallel, on/off 100, dynamic ADC range), prints digital images/s, CIM-mode images/s and their ratio, on
CPU with ``--threads`` threads (default 2) and on CUDA when present.

    python bench/cim_throughput.py [--threads 2] [--images 4] [--digital-images 32] [--configs all] [--reference]

The supernet is untrained; each bit-width's LSQ steps are initialised by one training-mode pass over the
(random, normalised) images, so activation codes are spread as after initialisation, not clamped at one
step. ``--images`` images go through CIM mode (one batch), ``--digital-images`` through the digital pass;
each timing is the best of ``--repeats`` runs after one warm-up (a first run over 5 s is the timing).
Images/s are wall-clock figures and move with the machine's load; on the CPU the CIM/digital ratio is taken
from process CPU time (images per CPU-second), which a shared machine's other jobs disturb far less.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import time

import torch

from cimpipe.nn import build_supernet, layers
from cimpipe.nn.cim import crossbar_conv2d, crossbar_matmul
from cimpipe.space import CIMSettings, VGGSpec

VGG8 = VGGSpec(in_channels=3, image_size=32, num_classes=10, stages=((128, 128), (256, 256), (512, 512)),
               fc=(1024,), min_depth=(1, 1, 1))
# (label, weight/activation bits, cell bits, ADC bits)
CONFIGS = (
    ("W8A8 2b-cell 5b-ADC", 8, 2, 5),
    ("W8A8 1b-cell 4b-ADC", 8, 1, 4),
    ("W4A4 2b-cell 5b-ADC", 4, 2, 5),
    ("W4A4 1b-cell 4b-ADC", 4, 1, 4),
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device: torch.device) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    fn()
    _sync(device)
    return time.perf_counter() - t, time.process_time() - c


def _best_seconds(fn, repeats: int, device: torch.device) -> tuple[float, float]:
    """(wall, process CPU) seconds of the fastest of ``repeats`` runs after one warm-up; a first run over 5 s
    counts as the measurement."""
    first = _timed(fn, device)
    if first[0] > 5.0:
        return first
    return min((_timed(fn, device) for _ in range(repeats)), key=lambda wc: wc[0])


@contextlib.contextmanager
def _reference_engine():
    """Run the network's crossbar layers on the float32 reference engine for the block's duration."""
    saved = layers.crossbar_conv2d, layers.crossbar_matmul
    layers.crossbar_conv2d = functools.partial(crossbar_conv2d, method="reference")
    layers.crossbar_matmul = functools.partial(crossbar_matmul, method="reference")
    try:
        yield
    finally:
        layers.crossbar_conv2d, layers.crossbar_matmul = saved


@torch.no_grad()
def bench(device: torch.device, args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    model = build_supernet(VGG8).to(device)
    x = torch.randn(max(args.images, args.digital_images), 3, 32, 32, device=device)
    wanted = [c for c in CONFIGS if args.configs == "all" or c[0].split()[0] in args.configs.split(",")]
    for label, bits, cell_bits, adc_bits in wanted:
        subnet = VGG8.largest(bits)
        model.train()
        model(x[: args.digital_images], subnet)  # LSQ step initialisation at this bit-width
        model.eval()
        xd, xc = x[: args.digital_images], x[: args.images]
        wall, cpu = _best_seconds(lambda: model(xd, subnet), args.repeats, device)
        digital, digital_cpu = args.digital_images / wall, args.digital_images / cpu
        for sigma in (0.0, 0.05):
            cim = CIMSettings(adc_bits=adc_bits, cell_bits=cell_bits, rows_parallel=128, sigma=sigma,
                              on_off_ratio=100.0, seed=1)
            wall, cpu = _best_seconds(lambda: model(xc, subnet, cim), args.repeats, device)
            rate, rate_cpu = args.images / wall, args.images / cpu
            ratio = digital / rate if device.type == "cuda" else digital_cpu / rate_cpu
            line = (f"{device.type:4s} {label:20s} sigma {sigma:4.2f}  digital {digital:8.1f} img/s  "
                    f"CIM {rate:8.2f} img/s  CIM/digital {ratio:7.1f}x")
            if args.reference:  # the same images through the reference engine, right after: the load is alike
                with _reference_engine():
                    wall_r, cpu_r = _best_seconds(lambda: model(xc, subnet, cim), args.repeats, device)
                speedup = wall_r / wall if device.type == "cuda" else cpu_r / cpu
                line += f"  reference {args.images / wall_r:6.2f} img/s  fast/reference {speedup:4.1f}x"
            print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=4, help="images per CIM-mode batch")
    ap.add_argument("--digital-images", type=int, default=32, help="images per digital batch")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--configs", default="all", help="'all' or a comma list of W8A8,W4A4")
    ap.add_argument("--cpu-only", action="store_true")
    ap.add_argument("--reference", action="store_true",
                    help="also time the float32 reference engine on the same batch (speed-up of the fast one)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} CPU threads, VGG-8 largest, 128 rows in parallel, on/off 100, "
          f"{args.images} images per CIM batch")
    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.cpu_only:
        devices.append(torch.device("cuda"))
    for device in devices:
        bench(device, args)


if __name__ == "__main__":
    main()
