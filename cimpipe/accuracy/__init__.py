"""The accuracy table: sampled sub-networks measured on the supernet in CIM mode.

The search cannot run the supernet on every design it considers, so a predictor
(:mod:`cimpipe.predictor`) is fitted on a table of sub-networks whose accuracy was measured here. Rows are
drawn from the one space declaration (:class:`cimpipe.space.SearchSpace`): a handful of fixed anchor rows
(the extremes of the space), then rows stratified over bit-width levels and ADC resolutions. Each row is
evaluated on the validation split (never used for training), after BatchNorm recalibration on a fixed
subset of training images, with the crossbar simulation of :class:`cimpipe.space.CIMSettings`. A row with
conductance variation is one die of a random population: its accuracy is the mean over independent variation
draws (seeded per row and draw), drawn until the mean's standard error is small (see :func:`measure_rows`).

Schema of ``results/{workload}/accuracy.parquet`` (one row per configuration, sorted by ``config_id``):

==================  =======  =======  =============================================================
column              type     unit     meaning
==================  =======  =======  =============================================================
config_id           Int64    -        row number in the sampling order (0 = first anchor)
anchor              Boolean  -        True for the fixed extreme rows that open the table
depth_{s}           Int64    layers   active conv layers of stage ``s``
width_{i}           Float64  ratio    channel ratio of conv / hidden-FC slot ``i``
kernel_{i}          Int64    px       kernel size of conv slot ``i``
wbits_{i}           Int64    bits     weight bits of weight-layer slot ``i`` (classifier last)
abits_{i}           Int64    bits     input-activation bits of weight-layer slot ``i``
adc_bits            Int64    bits     ADC resolution reading every partial sum (``adc_bits_{i}`` per
                                     weight-layer slot ``i`` with ``hardware_space.per_layer: [adc_bits]``)
cell_bits           Int64    bits     weight bits stored per memory cell
rows_parallel       Int64    rows     crossbar rows summed into one partial sum
sigma               Float64  -        relative Gaussian conductance variation (std / mean)
on_off_ratio        Float64  -        Gon / Goff of the memory device
sign_encoding       Int64    -        0 offset, 1 differential arrays (:data:`cimpipe.design.SIGN_ENCODINGS`)
accuracy            Float64  0..1     top-1 accuracy on the validation split, mean over the draws
loss                Float64  nats     mean cross-entropy on the validation split, mean over the draws
n_images            Int64    images   validation images the row was measured on
draws               Int64    -        conductance-variation draws averaged (1 without variation)
accuracy_std        Float64  0..1     standard deviation of the draws' accuracies (0 for one draw)
input_density_{i}   Float64  0..1     fraction of the input bits of weight-layer slot ``i`` that are 1 (first
                                     256 validation images; null where the row does not use the slot)
zero_read_{i}_{r}   Float64  0..1     fraction of the reads of slot ``i`` (one input bit into a block of ``r``
                                     unrolled rows, r = 64, 128, 256) no row of which gets a 1 (32 images)
==================  =======  =======  =============================================================

Architecture columns hold gene *values* (not indices), canonicalized with :meth:`Family.canonical`:
slots a member does not use carry the largest choice. Their order is ``SearchSpace.arch_genes``.

The package: ``settings`` (:class:`AccuracySettings`), ``sampling`` (:func:`sample_configurations`, a row as a
sub-network and CIM settings), ``measure`` (:func:`measure_rows`) and ``table`` (:func:`build_table`,
:func:`merge_tables`).
"""

from cimpipe.space import ON_OFF_CAP
from cimpipe.accuracy.settings import AccuracyError, AccuracySettings
from cimpipe.accuracy.sampling import (CIMRanges, arch_columns, cim_from_row, row_seed, sample_configurations,
                                       subnet_from_row)
from cimpipe.accuracy.measure import (RESULT_COLUMNS, calibration_indices, density_columns, enough_draws, measure_rows,
                                      result_columns)
from cimpipe.accuracy.table import build_table, merge_tables, shard_rows

__all__ = [
    "ON_OFF_CAP", "RESULT_COLUMNS", "AccuracyError", "AccuracySettings", "CIMRanges", "arch_columns", "build_table",
    "calibration_indices", "cim_from_row", "density_columns", "enough_draws", "measure_rows", "merge_tables", "row_seed",
    "result_columns", "sample_configurations", "shard_rows", "subnet_from_row",
]
