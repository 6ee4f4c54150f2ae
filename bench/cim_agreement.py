"""How closely the fast crossbar engine follows the float32 reference under device variation.

For one FC layer (576 rows, 48 outputs, 256 input vectors shaped like ReLU activations: 40 % zeros), W8A8,
2-bit cells, 128 rows in parallel, on/off 100, sigma 0.05, prints per ADC resolution (5, 8, 12 bits) and sign
encoding the share of outputs whose fast and reference values agree within 1e-4 of the largest output, and
the mean absolute difference as a share of what the variation itself changes (reference with and without
variation).

    python bench/cim_agreement.py
"""

from __future__ import annotations

import torch

from cimpipe.nn.cim import crossbar_matmul
from cimpipe.space import CIMSettings


def main() -> None:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(7)
    x = torch.randint(0, 256, (256, 576), generator=g).float()
    x = torch.where(torch.rand(x.shape, generator=g) < 0.4, torch.zeros(()), x)
    w = torch.randint(-127, 128, (48, 576), generator=g).float()
    kw = dict(x_codes=x, w_codes=w, act_bits=8, act_signed=False, w_bits=8)
    for adc in (5, 8, 12):
        for encoding in ("offset", "differential"):
            base = dict(adc_bits=adc, cell_bits=2, rows_parallel=128, on_off_ratio=100.0, sign_encoding=encoding)
            fast = crossbar_matmul(cim=CIMSettings(sigma=0.05, seed=1, **base), method="fast", **kw)
            ref = crossbar_matmul(cim=CIMSettings(sigma=0.05, seed=1, **base), method="reference", **kw)
            ideal = crossbar_matmul(cim=CIMSettings(**base), method="reference", **kw)
            diff = (fast - ref).abs()
            within = float((diff <= 1e-4 * ref.abs().max()).float().mean())
            share = float(diff.mean() / (ref - ideal).abs().mean())
            print(f"ADC {adc:2d} bits, {encoding:12s}: {within:6.1%} of outputs within 1e-4 of the largest; "
                  f"mean |fast - reference| = {share:.3%} of the variation's effect")


if __name__ == "__main__":
    main()
