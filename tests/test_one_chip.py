"""One chip on both sides: the crossbar simulation stores the cells and columns that the hardware model prices,
and a design's accuracy settings carry the sign encoding its hardware is priced with."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from cimpipe.accuracy.sampling import cim_from_row, sample_configurations
from cimpipe.design import SIGN_ENCODINGS, CIMSettings, HardwareConfig, columns_per_weight
from cimpipe.hw import LayerBatch, builtin_technologies
from cimpipe.hw.batch import HardwareBatch
from cimpipe.hw.chip import layer_record
from cimpipe.hw.evaluate import evaluate_design
from cimpipe.nn.cim import crossbar_matmul, program_array
from cimpipe.space import DeviceSummary, HardwareSpace, LayerShape, SearchSpace, VGGSpec

RRAM = builtin_technologies()["rram_22nm"]
MLC = replace(RRAM, device=replace(RRAM.device, max_cell_bits=4))  # a device that stores up to 4 bits per cell


@pytest.mark.parametrize("encoding", SIGN_ENCODINGS)
@pytest.mark.parametrize("cell_bits", [1, 2, 4])
@pytest.mark.parametrize("w_bits", range(2, 9))
def test_the_simulated_array_holds_the_cells_and_columns_the_hardware_model_prices(w_bits, cell_bits, encoding):
    c_out, rows = 24, 150
    w = torch.randint(-(2 ** (w_bits - 1) - 1), 2 ** (w_bits - 1), (c_out, rows)).float()
    cim = CIMSettings(cell_bits=cell_bits, rows_parallel=64, sign_encoding=encoding)
    arr = program_array(w, w_bits=w_bits, cim=cim, layer=0, sign_encoding=encoding)
    sim_columns = arr.n_slices * arr.n_cols  # cells each row of the layer's matrix holds
    sim_cells = arr.rows * sim_columns

    layers = LayerBatch.from_shapes([[LayerShape(1, 1, rows, 1, c_out, False, 1)]], [[w_bits]], [[8]])
    hw = HardwareBatch.from_configs([HardwareConfig("rram_22nm", subarray=128, rows_parallel=64, cell_bits=cell_bits,
                                                    sign_encoding=encoding)])
    fig = {"num_add": torch.tensor([2.0])}
    rec = layer_record(MLC, layers, hw, fig)
    assert int(rec.cols[0, 0]) == sim_columns == c_out * columns_per_weight(w_bits, cell_bits, encoding)
    assert int(rec.rows[0, 0] * rec.cols[0, 0]) == sim_cells


def test_differential_arrays_cost_the_second_array():
    """Same network and chip: differential arrays take more columns, so more area and more energy."""
    shapes = [LayerShape(8, 8, 64, 3, 128, False, 1), LayerShape(8, 8, 128, 3, 128, True, 1)]
    metrics = {e: evaluate_design(shapes, 8, 8, HardwareConfig("rram_22nm", cell_bits=2, sign_encoding=e), RRAM)
               for e in SIGN_ENCODINGS}
    off, diff = metrics["offset"], metrics["differential"]
    assert float(diff.area_mm2[0]) > float(off.area_mm2[0])
    assert float(diff.dynamic_energy_pj[0]) > float(off.dynamic_energy_pj[0])


def test_offset_encoding_removes_the_offset_and_the_off_current_without_a_reference_column():
    """The offset and the off-state current are removed digitally: with ideal cells the offset array gives the
    exact dot products (a signed first-layer input included); with a finite on/off ratio what is left is the
    ADC's rounding, not the off cells' current (which alone would move each output by g_off * 5 * sum(x))."""
    g = torch.Generator().manual_seed(3)
    w = torch.randint(-7, 8, (12, 90), generator=g).float()
    x = torch.randint(-8, 8, (40, 90), generator=g).float()
    exact = CIMSettings(adc_bits=8, cell_bits=2, rows_parallel=32, sign_encoding="offset")
    got = crossbar_matmul(x, w, act_bits=4, act_signed=True, w_bits=4, cim=exact)
    torch.testing.assert_close(got, x @ w.t(), rtol=0, atol=0)

    x = torch.randint(0, 16, (40, 90), generator=g).float()
    leaky = replace(exact, adc_bits=12, on_off_ratio=50.0)
    err = (crossbar_matmul(x, w, act_bits=4, act_signed=False, w_bits=4, cim=leaky) - x @ w.t()).abs()
    off_current = 3.0 / 49.0 * 5 * x.sum(dim=1).mean()
    assert float(err.mean()) < 0.01 * float(off_current)


def test_a_designs_accuracy_settings_carry_its_hardware_sign_encoding():
    spec = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((8, 8), (16,)), fc=(16,), min_depth=(1, 1),
                   width_ratios=(0.5, 1.0), bit_choices=(4, 8))
    space = SearchSpace(spec, HardwareSpace(technologies=("rram_22nm",)),
                        {"rram_22nm": DeviceSummary(sigma=0.05, on_off_ratio=100.0, max_cell_bits=2)})
    genes = space.random_genes(np.random.default_rng(0), 64)
    cim = space.cim_values(genes)
    for row_genes, row in zip(genes, cim):
        values = dict(zip(space.cim_columns, row))
        assert cim_from_row(values, seed=0).sign_encoding == space.decode_hardware(row_genes).sign_encoding
    table = sample_configurations(space, 40, seed=1)
    assert set(table["sign_encoding"].to_list()) == {0, 1}  # the table measures both encodings
