"""ResNet and MobileNetV2 supernet families: weight sharing, export, CIM ideal limit, shapes, config, training."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import digits_dataset

from cimpipe.config import ConfigError, family_spec
from cimpipe.data import Augmentation, PreparedDataset
from cimpipe.hw.evaluate import LayerBatch
from cimpipe.nn import build_supernet, recalibrate_bn
from cimpipe.space import (CIMSettings, DeviceSummary, HardwareSpace, LayerShape, MobileNetV2Spec, ResNetSpec,
                           SearchSpace, SpaceError, SubnetConfig, VGGSpec, spec_from_dict)
from cimpipe.train import TrainRecipe, load_supernet, train_supernet

RESNET = ResNetSpec(in_channels=3, image_size=16, num_classes=5, stages=(8, 16), blocks=(2, 2), min_depth=(1, 1),
                    stem=8)
RESNET_IN = ResNetSpec(in_channels=3, image_size=32, num_classes=5, stages=(8, 16), blocks=(2, 1), min_depth=(1, 1),
                       stem=8, stem_type="imagenet")
MBV2 = MobileNetV2Spec(in_channels=3, image_size=16, num_classes=5, stages=(8, 16), blocks=(1, 2), strides=(1, 2),
                       min_depth=(1, 1), stem=8, head=32)
SPECS = [RESNET, RESNET_IN, MBV2]
IDS = ["resnet-cifar", "resnet-imagenet", "mobilenetv2"]


def space_of(spec) -> SearchSpace:
    return SearchSpace(spec, HardwareSpace(technologies=("rram",)), {"rram": DeviceSummary(0.05, 100.0, 2)})


def warmed(spec, seed: int = 0) -> torch.nn.Module:
    """A supernet whose quantizer steps (every bit-width) and BN statistics have seen a few members."""
    torch.manual_seed(seed)
    model = build_supernet(spec).train()
    x = torch.randn(16, spec.in_channels, spec.image_size, spec.image_size)
    with torch.no_grad():
        for b in spec.bit_choices:
            model(x, spec.largest(b))
    return model.eval()


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_export_and_ideal_cim_mode_reproduce_the_supernet(spec):
    model = warmed(spec)
    x = torch.randn(4, spec.in_channels, spec.image_size, spec.image_size)
    rng = np.random.default_rng(1)
    calib = [torch.randn(16, spec.in_channels, spec.image_size, spec.image_size)]
    for cfg in (spec.largest(), spec.smallest(4), spec.sample(rng), spec.sample(rng)):
        recalibrate_bn(model, cfg, calib)
        with torch.no_grad():
            y = model(x, cfg)
            assert y.abs().max() > 0
            static = model.export(cfg).eval()
            assert not any(isinstance(m, type(model)) for m in static.modules())
            torch.testing.assert_close(static(x), y, atol=1e-4, rtol=1e-4)
            ideal = CIMSettings(adc_bits=16, cell_bits=2, rows_parallel=32)
            torch.testing.assert_close(model(x, cfg, ideal), y, atol=1e-3, rtol=1e-3)
            coarse = model(x, cfg, CIMSettings(adc_bits=3, cell_bits=2, rows_parallel=32, sigma=0.1))
            assert (coarse - y).abs().max() > 1e-3


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_members_share_the_largest_weights(spec):
    model = warmed(spec)
    x = torch.randn(2, spec.in_channels, spec.image_size, spec.image_size)
    calib = [torch.randn(16, spec.in_channels, spec.image_size, spec.image_size)]
    small = spec.smallest(8)

    def out() -> torch.Tensor:
        recalibrate_bn(model, small, calib)
        with torch.no_grad():
            return model(x, small)

    before = out()
    with torch.no_grad():
        model.stem.weight[0].add_(1.0)  # the first channel belongs to every member
    changed = out()
    assert not torch.allclose(changed, before)
    with torch.no_grad():
        model.stem.weight[-1].add_(1.0)  # the last channel only to the widest stems
    torch.testing.assert_close(out(), changed)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_layer_table_matches_the_modules_and_each_member(spec):
    space = space_of(spec)
    genes = space.random_genes(np.random.default_rng(3), 40)
    table = space.layer_arrays(genes)
    model = warmed(spec)
    for i in range(8):
        cfg = space.decode_subnet(genes[i])
        shapes = spec.layer_shapes(cfg)
        active = np.flatnonzero(table["active"][i])
        assert len(shapes) == len(active) == len(spec.active_slots(cfg))
        for slot, s in zip(active, shapes):
            assert (table["c_in"][i, slot], table["c_out"][i, slot], table["k"][i, slot], table["groups"][i, slot]) == (
                s.c_in, s.c_out, s.k, s.groups)
        # every active layer's weight slice has the shape the table gives
        convs = [m for m in model.modules() if hasattr(m, "active_weight")]
        assert len(convs) == spec.n_slots - 1  # every weight layer but the classifier
    wb, ab = spec.layer_bits(spec.largest(6))
    assert set(wb) == set(ab) == {6}


def test_mobilenet_shapes_follow_the_inverted_residual_and_count_depthwise_macs():
    shapes = MBV2.layer_shapes(MBV2.largest())
    # stem, 3 blocks x (expand, depthwise, project), head, classifier
    assert len(shapes) == 1 + 3 * 3 + 2
    expand, dw, project = shapes[1:4]
    assert (expand.c_in, expand.c_out, expand.k) == (8, 48, 1)
    assert (dw.c_in, dw.c_out, dw.groups, dw.k) == (48, 48, 48, 7)
    assert dw.ifm_h == 16 + 7 - 1  # zero-padded input: NeuroSim's (IFM-K+1)/stride counts the true outputs
    assert (project.c_in, project.c_out) == (48, 8)
    assert dw.macs == 22 * 22 * 48 * 49  # one filter per channel
    strided = shapes[4 + 1]
    assert strided.stride == 2 and strided.groups == strided.c_in


def test_resnet_stem_types_shrink_the_map_as_specified():
    assert RESNET.feature_sizes() == [16, 16, 8]
    assert RESNET_IN.feature_sizes() == [8, 8, 4]
    first = RESNET_IN.layer_shapes(RESNET_IN.largest())[0]
    assert (first.k, first.stride, first.pool) == (7, 2, True)
    roles = RESNET.block_slots(1, 0)
    assert set(roles) == {"conv1", "conv2", "shortcut"} and set(RESNET.block_slots(1, 1)) == {"conv1", "conv2"}


def test_depthwise_layers_cost_their_block_diagonal_array_but_only_their_own_operations():
    from cimpipe.hw import Evaluator, HardwareBatch, HardwareGrid, builtin_technologies

    # 72 rows: below the subarray height, so the dense layer is mapped conventionally too
    dense = LayerShape(16, 16, 8, 3, 8, False)
    depthwise = LayerShape(16, 16, 8, 3, 8, False, groups=8)
    ev = Evaluator.for_grid(builtin_technologies()["rram_22nm"], HardwareGrid(
        subarray=(128,), rows_parallel=(128,), col_mux=(8,), adc_bits=(5,), adc_type=("flash",), cell_bits=(2,)))
    hb = HardwareBatch(subarray=torch.tensor([128.0, 128.0]), rows_parallel=torch.tensor([128.0, 128.0]),
                       col_mux=torch.tensor([8.0, 8.0]), adc_bits=torch.tensor([5.0, 5.0]),
                       adc_is_sar=torch.tensor([False, False]), cell_bits=torch.tensor([2.0, 2.0]),
                       pipeline=torch.tensor([False, False]))
    res = ev.evaluate(LayerBatch.from_shapes([[dense], [depthwise]], 8, 8), hb)
    assert bool(res.feasible.all())
    assert float(res.operations[1]) == pytest.approx(float(res.operations[0]) / 8)
    # the same arrays and periphery; only the global bus differs: NeuroSim sizes the tile pitch for a novel-mapped
    # tile whenever a dense 3x3 kernel is present (numPENM), which a depthwise layer does not count
    for part in ("array", "adc", "accumulation", "other"):
        parts = res.area_breakdown_mm2[part]
        assert float(parts[1]) == pytest.approx(float(parts[0]), rel=1e-9)


def test_specs_round_trip_and_refuse_bad_bounds():
    for spec in SPECS:
        assert spec_from_dict(spec.to_dict()) == spec
    with pytest.raises(SpaceError, match="blocks has 1 entries but there are 2 stages"):
        ResNetSpec(in_channels=3, image_size=16, num_classes=5, stages=(8, 16), blocks=(2,), min_depth=(1, 1))
    with pytest.raises(SpaceError, match="min_depth\\[1\\]=3"):
        MobileNetV2Spec(in_channels=3, image_size=16, num_classes=5, stages=(8, 16), blocks=(1, 2), strides=(1, 2),
                        min_depth=(1, 3))
    with pytest.raises(SpaceError, match="expand_ratios\\[0\\]=5.0 is not one of"):
        MBV2.validate(MBV2.largest().__class__(**{**MBV2.largest().__dict__,
                                                  "expand_ratios": (5.0,) + MBV2.largest().expand_ratios[1:]}))
    with pytest.raises(SpaceError, match="kernels has 0 entries but this mobilenetv2 family has 3"):
        MBV2.validate(RESNET.largest().__class__(**{**MBV2.largest().__dict__, "kernels": ()}))


def test_config_builds_each_family_and_names_keys_of_another_family():
    meta = {"channels": 3, "image_size": 32, "num_classes": 10}
    res = family_spec({"family": "resnet", "arch": {"stages": [64, 128, 256, 512], "blocks": [2, 2, 2, 2],
                                                     "min_depth": [1, 1, 1, 1]}}, meta, "workloads.r")
    assert isinstance(res, ResNetSpec) and res.largest().depths == (2, 2, 2, 2)
    # ResNet-18's 17 convs and fc, and a projection shortcut opening each of the 4 stages (elastic widths)
    assert len(res.layer_shapes(res.largest())) == 1 + 8 * 2 + 4 + 1
    mb = family_spec({"family": "mobilenetv2", "arch": {"stages": [16, 24], "blocks": [1, 2], "strides": [1, 2],
                                                         "min_depth": [1, 1], "expand_choices": [3, 6]}}, meta, "w")
    assert isinstance(mb, MobileNetV2Spec) and mb.expand_choices == (3.0, 6.0)
    with pytest.raises(ConfigError, match="workloads.r.arch.fc does not apply to the resnet family"):
        family_spec({"family": "resnet", "arch": {"stages": [8], "blocks": [1], "min_depth": [1], "fc": [4]}},
                    meta, "workloads.r")
    with pytest.raises(ConfigError, match="workloads.m.arch.strides is required by the mobilenetv2 family"):
        family_spec({"family": "mobilenetv2", "arch": {"stages": [8], "blocks": [1], "min_depth": [1]}}, meta,
                    "workloads.m")
    with pytest.raises(ConfigError, match="one output width per stage"):
        family_spec({"family": "resnet", "arch": {"stages": [[8]], "blocks": [1], "min_depth": [1]}}, meta, "w")
    assert isinstance(family_spec({"family": "vgg", "arch": {"stages": [[8]], "fc": [], "min_depth": [1]}}, meta),
                      VGGSpec)


@pytest.fixture(scope="module")
def digits() -> PreparedDataset:
    return digits_dataset(1000, 200, 100)


@pytest.mark.parametrize("spec", [
    ResNetSpec(in_channels=1, image_size=8, num_classes=10, stages=(8, 16), blocks=(1, 2), min_depth=(1, 1), stem=8),
    MobileNetV2Spec(in_channels=1, image_size=8, num_classes=10, stages=(8, 16), blocks=(1, 2), strides=(1, 2),
                    min_depth=(1, 1), stem=8, head=16, kernel_choices=(3, 5)),
], ids=["resnet", "mobilenetv2"])
def test_a_short_sandwich_training_learns_and_reloads(tmp_path, digits, spec):
    recipe = TrainRecipe(epochs=6, batch_size=64, lr=0.05, random_subnets=1, recalibration_images=64, device="cpu",
                         bit_phases=((0.0, (8,)),), cpu_threads=1)
    out = train_supernet(spec, digits, recipe, tmp_path / "supernet.pt", tmp_path / "log.parquet", seed=1,
                         checkpoint_dir=tmp_path / "ckpt", augment=Augmentation(crop_padding=1, hflip=False),
                         progress=False)
    model, loaded, _ = load_supernet(out)
    assert loaded == spec and type(model) is type(build_supernet(spec))
    from cimpipe.nn import evaluate_subnet

    acc, _ = evaluate_subnet(model, spec.largest(), None, digits.val_x, digits.val_y, mean=digits.mean,
                             std=digits.std, calib_images=digits.train_x[:64])
    assert acc > 0.3  # chance is 0.1


def test_resnet_and_mobilenetv2_workloads_run_the_whole_chain_to_a_front(tmp_path):
    """The DAG is family-agnostic: tiny ResNet and MobileNetV2 workloads on digits reach re-measured fronts
    whose rows rebuild their sub-networks, and the shipped workloads plan their chains. This run also sets
    the ADC bits per layer (``hardware_space.per_layer``): the table, predictor, search and re-measurement
    carry one ADC resolution per weight layer, and every front row gives one per layer."""
    import polars as pl
    import yaml

    from test_workflow import TINY, copy_workflow, snakemake

    config = yaml.safe_load(TINY.read_text())
    demo = config["workloads"]["demo"]
    config["workloads"] = {
        "rn": {**demo, "family": "resnet", "arch": {"stages": [8, 16], "blocks": [1, 2], "min_depth": [1, 1],
                                                    "stem": 8}},
        "mb": {**demo, "family": "mobilenetv2", "arch": {"stages": [8, 16], "blocks": [1, 2], "strides": [1, 2],
                                                         "min_depth": [1, 1], "stem": 8, "head": 16,
                                                         "kernel_choices": [3, 5], "expand_choices": [3, 6]}},
    }
    config["hardware_space"]["per_layer"] = ["adc_bits"]
    work = copy_workflow(tmp_path / "wf", config)
    out = snakemake(work, "-c2", "results/pareto_rn.parquet", "results/pareto_mb.parquet")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for name, spec_type in (("rn", ResNetSpec), ("mb", MobileNetV2Spec)):
        front = pl.read_parquet(work / f"results/pareto_{name}.parquet")
        assert front.height > 0 and front["accuracy_measured"].is_not_null().all()
        _, spec, _ = load_supernet(work / f"results/{name}/supernet.pt")
        assert isinstance(spec, spec_type)
        assert pl.read_parquet(work / f"results/{name}/accuracy.parquet").columns.count("adc_bits_0") == 1
        for text in front["design_json"]:
            design = json.loads(text)
            subnet = SubnetConfig.from_dict(design["subnet"])
            spec.validate(subnet)
            assert spec.layer_shapes(subnet)
            assert len(design["hardware"]["adc_bits"]) == spec.n_slots

    shipped = copy_workflow(tmp_path / "shipped")
    shutil.copy2(Path(__file__).resolve().parent.parent / "config.yaml", shipped / "config.yaml")
    for workload in ("resnet18", "mobilenetv2"):
        plan = snakemake(shipped, "-n", "-c2", f"results/pareto_{workload}.parquet")
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert "train_supernet" in plan.stdout + plan.stderr
