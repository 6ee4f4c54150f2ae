"""Designs per second of the batched hardware evaluator on VGG-16-sized networks.

Random sub-network-like shapes (16 layer slots, some inactive, widths scaled, per-layer bits) and random
hardware options from the default grid. Prints designs/s at batch sizes 1e3, 1e4, 1e5 (best of 3 by wall
clock), the process CPU time of that run (steadier than wall clock when other processes share the cores) and
the peak RSS growth.

    python bench/hwcost_throughput.py [--threads 2]
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from cimpipe.hw import Evaluator, HardwareBatch, HardwareGrid, LayerBatch, builtin_technologies

VGG16 = [(64, 64, 3, 64, 0), (64, 64, 64, 64, 1), (32, 32, 64, 128, 0), (32, 32, 128, 128, 1),
         (16, 16, 128, 256, 0), (16, 16, 256, 256, 0), (16, 16, 256, 256, 1), (8, 8, 256, 512, 0),
         (8, 8, 512, 512, 0), (8, 8, 512, 512, 1), (4, 4, 512, 512, 0), (4, 4, 512, 512, 0),
         (4, 4, 512, 512, 1)]


def random_batch(d: int, grid: HardwareGrid, gen: torch.Generator) -> tuple[LayerBatch, HardwareBatch]:
    f64 = torch.float64
    n_layers = 16
    ratio = torch.tensor([0.5, 0.75, 1.0], dtype=f64)[torch.randint(0, 3, (d, n_layers), generator=gen)]
    ifm = torch.tensor([r[0] for r in VGG16] + [1, 1, 1], dtype=f64).expand(d, n_layers).clone()
    c_out_max = torch.tensor([r[3] for r in VGG16] + [4096, 4096, 200], dtype=f64)
    c_out = torch.clamp(torch.round(c_out_max * ratio), min=1.0)
    c_out[:, -1] = 200
    c_in = torch.cat([torch.full((d, 1), 3.0, dtype=f64), c_out[:, :-1]], dim=1)
    c_in[:, 13] = c_out[:, 12] * 4  # flattened 2x2 feature map into the first FC layer
    k = torch.tensor([3.0] * 13 + [1.0] * 3, dtype=f64).expand(d, n_layers).clone()
    pool = torch.tensor([bool(r[4]) for r in VGG16] + [False] * 3).expand(d, n_layers).clone()
    active = torch.ones(d, n_layers, dtype=torch.bool)
    drop = torch.rand(d, 5, generator=gen) < 0.4  # elastic depth: drop some middle conv layers
    for j, slot in enumerate((5, 6, 8, 11, 12)):
        active[:, slot] &= ~drop[:, j]
    bits = lambda: torch.randint(2, 9, (d, n_layers), generator=gen).to(f64)  # noqa: E731
    layers = LayerBatch(ifm_h=ifm, ifm_w=ifm.clone(), c_in=c_in, k=k, c_out=c_out, pool=pool,
                        stride=torch.ones(d, n_layers, dtype=f64), weight_bits=bits(), input_bits=bits(),
                        active=active)

    def pick(values: tuple) -> torch.Tensor:
        return torch.tensor(values, dtype=f64)[torch.randint(0, len(values), (d,), generator=gen)]

    sub = pick(grid.subarray)
    hw = HardwareBatch(subarray=sub, rows_parallel=torch.minimum(pick(grid.rows_parallel), sub),
                       col_mux=pick(grid.col_mux), adc_bits=pick(grid.adc_bits),
                       adc_is_sar=torch.rand(d, generator=gen) < 0.5, cell_bits=pick((1, 2)),
                       pipeline=torch.rand(d, generator=gen) < 0.5)
    return layers, hw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 avoids OpenMP spin contention)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tech = builtin_technologies()["rram_22nm"]
    grid = HardwareGrid()
    t0 = time.perf_counter()
    ev = Evaluator.for_grid(tech, grid)
    print(f"characterization of {len(grid.options())} options: {time.perf_counter() - t0:.3f} s")
    gen = torch.Generator().manual_seed(0)
    for d in (1_000, 10_000, 100_000):
        layers, hw = random_batch(d, grid, gen)
        ev.evaluate(layers, hw)  # warm-up
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        best, best_cpu = float("inf"), float("inf")
        for _ in range(3):
            t, c = time.perf_counter(), time.process_time()
            m = ev.evaluate(layers, hw)
            wall = time.perf_counter() - t
            if wall < best:
                best, best_cpu = wall, time.process_time() - c
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        feas = float(m.feasible.double().mean())
        print(f"D={d:>7}: {d / best:>12,.0f} designs/s  ({best * 1e3:8.1f} ms/batch, feasible {feas:.2f}, "
              f"peak RSS growth {(rss1 - rss0) / 1024:.0f} MiB, peak RSS {rss1 / 1024:.0f} MiB, "
              f"cpu {best_cpu * 1e3:.1f} ms/batch)")


if __name__ == "__main__":
    main()
