"""Accuracy of a trained supernet's sub-networks, digital and in CIM mode, as ADC bits fall and sigma grows.

Run from a workflow folder after `snakemake -c2` (the demo):  python bench/cim_accuracy.py [WORKLOAD] [DATASET]
Prints the largest member at 8/8 bits and the smallest at 4/4 and 2/2 bits (digital, validation split), then
the mean accuracy of five members (largest, smallest at 4/4, three random at 4..8 bits) on 2-bit cells,
128 rows in parallel, on/off 100, for ADC bits 8, 5, 4, 3 and for sigma 0, 0.05, 0.1, 0.2 (8-bit ADC).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from cimpipe.data import load_prepared
from cimpipe.nn import evaluate_subnet
from cimpipe.space import CIMSettings
from cimpipe.train import load_supernet


def main() -> None:
    workload = sys.argv[1] if len(sys.argv) > 1 else "demo"
    dataset = sys.argv[2] if len(sys.argv) > 2 else "digits"
    torch.set_num_threads(1)
    model, spec, _ = load_supernet(Path(f"results/{workload}/supernet.pt"))
    data = load_prepared(Path(f"data/prepared/{dataset}"))
    vx, vy = np.array(data.val_x), np.array(data.val_y)
    calib = np.array(data.train_x[:512])

    def acc(subnet, cim=None) -> float:
        return evaluate_subnet(model, subnet, cim, vx, vy, mean=data.mean, std=data.std, calib_images=calib,
                               batch_size=512)[0]

    print(f"validation images: {len(vy)}")
    print(f"largest 8/8 digital   {acc(spec.largest(8)):.4f}")
    print(f"smallest 4/4 digital  {acc(spec.smallest(4)):.4f}")
    print(f"smallest 2/2 digital  {acc(spec.smallest(2)):.4f}")
    rng = np.random.default_rng(0)
    members = [spec.largest(8), spec.smallest(4)] + [spec.sample(rng, bits=(4, 5, 6, 7, 8)) for _ in range(3)]
    for adc in (8, 5, 4, 3):
        a = [acc(m, CIMSettings(adc_bits=adc, cell_bits=2, rows_parallel=128, on_off_ratio=100)) for m in members]
        print(f"ADC {adc} bits: mean {np.mean(a):.4f}  " + " ".join(f"{x:.3f}" for x in a))
    for sigma in (0.0, 0.05, 0.1, 0.2):
        a = [acc(m, CIMSettings(adc_bits=8, cell_bits=2, rows_parallel=128, sigma=sigma, on_off_ratio=100, seed=1))
             for m in members]
        print(f"sigma {sigma}: mean {np.mean(a):.4f}")


if __name__ == "__main__":
    main()
