"""The elastic quantized supernet: weight sharing, export, quantizers, BN recalibration, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cimpipe.nn import LSQQuantizer, Supernet, recalibrate_bn
from cimpipe.space import SpaceError, SubnetConfig, VGGSpec

SPEC = VGGSpec(
    in_channels=1, image_size=8, num_classes=10, stages=((16, 16), (32,)), fc=(24,), min_depth=(1, 1),
    width_ratios=(0.5, 0.75, 1.0), kernel_choices=(1, 3), bit_choices=(2, 3, 4, 5, 6, 7, 8),
)


def warmed_model(seed: int = 0) -> tuple[Supernet, list[SubnetConfig], torch.Tensor]:
    """A supernet whose quantizer steps have been initialised by one training-mode pass per member."""
    torch.manual_seed(seed)
    model = Supernet(SPEC)
    rng = np.random.default_rng(seed)
    members = [SPEC.largest(), SPEC.smallest(), SPEC.sample(rng), SPEC.sample(rng)]
    x = torch.randn(32, 1, 8, 8)
    model.train()
    for bits in range(2, 9):
        model(x, SPEC.largest(bits))
        model(x, SPEC.smallest(bits))
    for cfg in members:
        model(x, cfg)
    model.eval()
    return model, members, x


def test_members_share_the_largest_weights():
    model, _, x = warmed_model()
    small = SPEC.smallest(4)
    before = model(x, small)
    # the smallest member uses the first 8 of the 16 output channels of conv 0 (the centre 1x1 of the kernel)
    with torch.no_grad():
        model.convs[0].weight[8:] += 1.0  # outside the active slice: no change
    assert torch.equal(model(x, small), before)
    with torch.no_grad():
        model.convs[0].weight[:8, :, 1, 1] *= -1.0  # inside the slice: outputs move
    assert not torch.allclose(model(x, small), before)


def test_export_gives_a_static_network_with_identical_outputs():
    model, members, x = warmed_model()
    for cfg in members:
        static = model.export(cfg)
        assert not any(isinstance(m, Supernet) for m in static.modules())
        torch.testing.assert_close(static(x), model(x, cfg), rtol=1e-5, atol=1e-6)
    convs = [m for m in model.export(SPEC.smallest()).modules() if isinstance(m, torch.nn.Conv2d)]
    assert [tuple(c.weight.shape) for c in convs] == [(8, 1, 1, 1), (16, 8, 1, 1)]


def test_lsq_step_gets_a_gradient_and_rounding_passes_it_straight_through():
    q = LSQQuantizer(signed=False)
    q.train()
    x = torch.linspace(-1.0, 4.0, 101, requires_grad=True)
    q(x, 2)  # initialises the 2-bit step from the data
    y = q(x, 2)
    y.sum().backward()
    step = float(q.step.detach()[0])
    assert q.step.grad is not None and q.step.grad[0] != 0  # the 2-bit step learns
    assert torch.all(q.step.grad[1:] == 0)  # the other bit-widths' steps are untouched
    inside = (x.detach() > 0) & (x.detach() < 3 * step)
    assert torch.all(x.grad[inside] == 1.0)  # straight-through inside the range
    assert torch.all(x.grad[x.detach() > 3 * step + 1e-6] == 0.0)  # clipped values pass nothing
    codes, _ = q.codes(x.detach(), 2)
    assert set(codes.unique().tolist()) <= {0.0, 1.0, 2.0, 3.0}


def test_bits_change_the_output_and_low_bits_quantize_coarser():
    model, _, x = warmed_model()
    ref = model(x, SPEC.largest(8))
    err = [float((model(x, SPEC.largest(b)) - ref).detach().abs().mean()) for b in (6, 4, 2)]
    assert err[0] < err[1] < err[2]


def test_recalibration_sets_running_statistics_of_the_member():
    model, _, _ = warmed_model()
    x = torch.randn(512, 1, 8, 8) * 2.0 + 0.5
    cfg = SPEC.smallest(8)
    model.train()
    train_out = model(x, cfg).detach()  # batch statistics of this data
    model.eval()
    stale = float((model(x, cfg).detach() - train_out).abs().mean())
    recalibrate_bn(model, cfg, [x[:256], x[256:]])
    assert not model.training
    fresh = float((model(x, cfg).detach() - train_out).abs().mean())
    assert fresh < 0.25 * stale
    assert fresh < 0.06 * float(train_out.abs().mean())
    with pytest.raises(SpaceError, match="at least one batch"):
        recalibrate_bn(model, cfg, [])


def test_members_outside_the_family_are_refused_with_one_sentence():
    model, _, x = warmed_model()
    base = SPEC.largest()
    with pytest.raises(SpaceError, match=r"depths\[0\]=3"):
        model(x, SubnetConfig((3, 1), base.width_ratios, base.kernels, base.weight_bits, base.act_bits))
    with pytest.raises(SpaceError, match=r"weight_bits\[0\]=9"):
        model(x, SubnetConfig(base.depths, base.width_ratios, base.kernels, (9,) + base.weight_bits[1:], base.act_bits))
    with pytest.raises(SpaceError, match=r"act_bits\[2\]=1"):
        model.export(SubnetConfig(base.depths, base.width_ratios, base.kernels, base.weight_bits,
                                  base.act_bits[:2] + (1,) + base.act_bits[3:]))
    with pytest.raises(SpaceError, match="does not match the spec"):
        model(torch.randn(2, 3, 8, 8), base)
