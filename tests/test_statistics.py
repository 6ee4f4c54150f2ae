"""Data statistics from the network to the cost: what is measured, how a design gets its layers' values, and
that the hardware model's energy follows them."""

import math

import numpy as np
import polars as pl
import pytest
import torch

from cimpipe.design import HardwareConfig
from cimpipe.hw import builtin_technologies
from cimpipe.hw.evaluate import evaluate_design
from cimpipe.nn.statistics import bit_density, cell_level_mean, cell_levels, input_densities, zero_read_fractions
from cimpipe.nn.vgg import Supernet
from cimpipe.space import LayerShape, VGGSpec
from cimpipe.statistics import DataStatistics

RRAM = builtin_technologies()["rram_22nm"]


def test_bit_density_counts_the_bits_the_crossbar_is_fed():
    codes = torch.tensor([0.0, 1.0, 3.0, 15.0])  # 0 + 1 + 2 + 4 ones of 16 bits
    assert bit_density(codes, 4, signed=False) == pytest.approx(7 / 16)
    assert bit_density(torch.tensor([-1.0]), 4, signed=True) == 1.0  # two's complement 1111


def test_cell_levels_follow_the_sign_encoding_and_the_cell_size():
    zero = torch.zeros(10)
    assert cell_level_mean(zero, 8, 2, "offset") == pytest.approx((2 / 3) / 4)  # 10 00 00 00
    assert cell_level_mean(zero, 8, 2, "differential") == 0.0  # both arrays hold 0
    full = torch.full((10,), 127.0)
    assert cell_level_mean(full, 8, 1, "differential") == pytest.approx(7 / 14)  # 1111111 and 0000000


def test_a_design_takes_its_slots_statistics_at_its_bits():
    spec = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((8,), (16,)), fc=(16,), min_depth=(1, 1),
                   width_ratios=(1.0,), bit_choices=(2, 4, 8))
    model = Supernet(spec)
    levels = cell_levels(model, spec, (1, 2))
    assert levels.shape == (spec.n_slots, 3, 2, 2) and np.isfinite(levels).all()
    table = pl.DataFrame({"abits_0": [2, 2, 8], "abits_1": [4, 4, 4], "abits_2": [8, 8, 8], "abits_3": [2, 4, 8],
                          "input_density_0": [0.1, 0.3, 0.05], "input_density_1": [0.2, None, 0.4],
                          "input_density_2": [0.25, 0.35, 0.3], "input_density_3": [None, None, None],
                          "zero_read_0_64": [0.4, 0.2, 0.6], "zero_read_0_128": [0.3, 0.1, 0.5]})
    stats = DataStatistics.measure(table, levels, spec.bit_choices, (1, 2), block_rows=(64, 128))
    assert stats.input_density[0].tolist() == pytest.approx([0.2, 0.15, 0.05])  # 4 bits never seen: the mean
    assert stats.input_density[1, 1] == pytest.approx(0.3)
    assert stats.input_density[3].tolist() == [0.5] * 3  # a slot never measured: NeuroSim's default
    wb = np.array([[8, 8, 8, 8], [2, 2, 2, 2]])
    ib = np.array([[2, 4, 8, 8], [8, 8, 8, 8]])
    dens, lev, zero = stats.for_designs(wb, ib, np.array([2, 1]), np.array([0, 1]), np.array([64, 256]))
    assert dens[0, :3].tolist() == pytest.approx([0.2, 0.3, 0.3])
    assert lev[0, 0] == levels[0, 2, 1, 0] and lev[1, 2] == levels[2, 0, 0, 1]
    assert zero[0, 0] == pytest.approx(0.3) and zero[1, 0] == pytest.approx(0.5)  # 2 bits at 64 rows; 8 at 128
    assert zero[0, 1] == 0.0  # a slot never measured: no zero reads
    stats2 = DataStatistics.from_dict(stats.to_dict())
    assert np.array_equal(stats2.input_density, stats.input_density) and stats2.bit_choices == stats.bit_choices


def test_input_densities_are_measured_on_the_slots_a_subnet_uses():
    spec = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((8, 8), (16,)), fc=(16,), min_depth=(1, 1),
                   width_ratios=(1.0,), bit_choices=(4, 8))
    model = Supernet(spec)
    images = torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    small = spec.canonical(spec.smallest())
    dens, zero = input_densities(model, small, images, spec.n_slots)
    used = [s for s in range(spec.n_slots) if not math.isnan(dens[s])]
    assert len(used) == spec.n_slots - 1 and all(0 <= dens[s] <= 1 for s in used)  # one conv slot unused
    assert zero.shape == (spec.n_slots, 3) and (np.isnan(zero[:, 0]) == np.isnan(dens)).all()
    assert ((zero[used] >= 0) & (zero[used] <= 1)).all() and (np.diff(zero[used], axis=1) <= 1e-12).all()


def test_zero_reads_count_blocks_of_unrolled_rows_with_no_one_bit():
    codes = torch.tensor([[0.0, 0, 0, 0], [1, 0, 0, 0]])  # two input vectors of 4 rows, 2-bit codes
    assert zero_read_fractions(codes, 2, False, None, 1, (2, 4)) == pytest.approx([7 / 8, 3 / 4])


def test_a_sar_converter_reading_no_current_costs_its_idle_power():
    """NeuroSim's SAR reads a column no row drives at 1 uW; the model follows the zero-read fraction there and
    nowhere else (a flash converter's energy does not depend on it)."""
    shapes = [LayerShape(8, 8, 64, 3, 64, False, 1)]
    for adc, moves in (("sar", True), ("flash", False)):
        hw = HardwareConfig("rram_22nm", cell_bits=2, adc_type=adc)
        base = float(evaluate_design(shapes, 8, 8, hw, RRAM).dynamic_energy_pj[0])
        idle = float(evaluate_design(shapes, 8, 8, hw, RRAM, zero_read_fraction=0.5).dynamic_energy_pj[0])
        assert (idle < base) if moves else idle == base


def test_the_energy_follows_the_statistics_per_layer():
    shapes = [LayerShape(8, 8, 64, 3, 64, False, 1), LayerShape(8, 8, 64, 3, 64, True, 1)]
    hw = HardwareConfig("rram_22nm", cell_bits=2)
    default = float(evaluate_design(shapes, 8, 8, hw, RRAM).dynamic_energy_pj[0])
    sparse = float(evaluate_design(shapes, 8, 8, hw, RRAM, input_density=[0.1, 0.1]).dynamic_energy_pj[0])
    one_sparse = float(evaluate_design(shapes, 8, 8, hw, RRAM, input_density=[0.5, 0.1]).dynamic_energy_pj[0])
    low_cells = float(evaluate_design(shapes, 8, 8, hw, RRAM, weight_level_mean=[0.1, 0.1]).dynamic_energy_pj[0])
    assert sparse < one_sparse < default and low_cells < default
    assert float(evaluate_design(shapes, 8, 8, hw, RRAM, input_density=[0.5, 0.5]).dynamic_energy_pj[0]) == default
