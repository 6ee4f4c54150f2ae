"""Loading and validating config.yaml, and turning its sections into the package's value types.

The jsonschema in ``workflow/schemas/config.schema.yaml`` is the contract: every key is described there,
with its default. :func:`validate_config` checks a config against it and fills the defaults; a wrong key or
type becomes one :class:`ConfigError` sentence that names the key, before any job runs.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from cimpipe.space import (ON_OFF_CAP, DeviceSummary, Family, HardwareSpace, MobileNetV2Spec, ResNetSpec, SearchSpace,
                           SpaceError, VGGSpec)
from cimpipe.technologies import MAX_CELL_BITS, MAX_CELL_BITS_WHY, EntryError, check_form, resolve_entry, user_key

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCHEMA = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config.yaml problem, stated in one sentence that names the key."""


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------


def load_schema(path: Path | str = DEFAULT_SCHEMA) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def _where(path: Iterable[Any]) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "the top level"


def _describe(error, schema: dict) -> str:
    """One sentence for the most relevant jsonschema error."""
    where = _where(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
        key = extra[0] if extra else "?"
        full = f"{where}.{key}" if error.absolute_path else key
        hint = difflib.get_close_matches(key, allowed, n=1)
        tip = f" (did you mean {hint[0]!r}?)" if hint else (f" (allowed: {', '.join(allowed)})" if allowed else "")
        return f"config key {full!r} is not known{tip}"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"config key {where + '.' if error.absolute_path else ''}{missing} is required but missing"
    if error.validator == "type":
        return f"config key {where} must be of type {error.validator_value} (got {error.instance!r})"
    if error.validator == "enum":
        return f"config key {where} must be one of {error.validator_value} (got {error.instance!r})"
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"config key {where} is out of range: {error.message}"
    return f"config key {where} is invalid: {error.message}"


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if not ref:
        return schema
    node = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return _resolve(node, root)


def _fill_defaults(node: Any, schema: dict, root: dict) -> Any:
    """Insert schema defaults into ``node`` (objects only; recursive through properties, maps and $refs)."""
    schema = _resolve(schema, root)
    if not isinstance(node, dict) or schema.get("type") != "object":
        return node
    props = schema.get("properties", {})
    for key, sub in props.items():
        sub = _resolve(sub, root)
        if key not in node and "default" in sub:
            node[key] = json.loads(json.dumps(sub["default"]))
        if key in node:
            _fill_defaults(node[key], sub, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in node.items():
            if key not in props:
                _fill_defaults(value, extra, root)
    return node


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Validate ``config`` in place against the schema, fill defaults, check cross references.

    Raises :class:`ConfigError` with one sentence naming the offending key.
    """
    import jsonschema

    schema = load_schema() if schema is None else schema
    if not isinstance(config, dict):
        raise ConfigError("config.yaml must hold a mapping of sections (workloads, datasets, technologies, ...)")
    techs = config.get("technologies")
    for name, entry in techs.items() if isinstance(techs, dict) else ():
        try:  # before the schema, which would ask the misplaced fields for every device field
            check_form(str(name), entry)
        except EntryError as err:
            raise ConfigError(str(err)) from None
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(config))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_describe(best, schema))
    _fill_defaults(config, schema, schema)
    written = config["technologies"]
    config["technologies"] = _resolved_technologies(written)
    _check_references(config)
    _check_technologies(config, written)
    return config


def _resolved_technologies(section: dict) -> dict:
    """The ``technologies`` section with every entry resolved to its full form (packaged names and overrides
    replaced by the devices they mean: cimpipe.technologies), the form every rule's params carry."""
    resolved = {}
    for name, entry in section.items():
        try:
            resolved[name] = resolve_entry(name, entry)
        except EntryError as err:
            raise ConfigError(str(err)) from None
    return resolved


def _check_references(config: dict) -> None:
    datasets = config.get("datasets", {})
    techs = config.get("technologies", {})
    for name, wl in config.get("workloads", {}).items():
        if wl["dataset"] not in datasets:
            raise ConfigError(f"config key workloads.{name}.dataset names {wl['dataset']!r}, which is not under datasets")
        search = wl.get("search") or {}
        if search.get("refine", 0) and search.get("remeasure") is False:
            raise ConfigError(f"config key workloads.{name}.search.refine needs search.remeasure: true (a refinement "
                              f"round learns from re-measured designs); set refine to 0 or re-measure")
        arch = wl["arch"]
        if len(arch.get("min_depth", [])) != len(arch["stages"]):
            raise ConfigError(
                f"config key workloads.{name}.arch.min_depth has {len(arch['min_depth'])} entries "
                f"but arch.stages has {len(arch['stages'])}"
            )
    for t in config.get("hardware_space", {}).get("technologies") or []:
        if t not in techs:
            raise ConfigError(f"config key hardware_space.technologies names {t!r}, which is not under technologies")


NODES_FILE = Path(__file__).resolve().parent / "hw" / "data" / "nodes.yaml"


def known_nodes() -> list[int]:
    """The technology nodes (nm) of the hardware model's node table, read from its data file (importing
    :mod:`cimpipe.hw` would load torch into every Snakemake parse)."""
    with open(NODES_FILE) as fh:
        return sorted(int(k) for k in yaml.safe_load(fh))


def _check_technologies(config: dict, written: dict | None = None) -> None:
    """What the jsonschema cannot say about a (resolved) technology and the hardware model or the search would
    refuse inside a job: a node outside the node table, a cell that does not fit its memory, a cell storing
    more bits than its memory can (:data:`cimpipe.technologies.MAX_CELL_BITS`), a device beyond a workload's
    pinned accuracy-table bounds. ``written`` is the section as written, so that a message names the key the
    value came from (``override.device.X`` for an overridden field)."""
    nodes = known_nodes()
    written = written if written is not None else config.get("technologies", {})
    for name, tech in config.get("technologies", {}).items():
        key = functools.partial(user_key, name, written.get(name))
        if tech["node_nm"] not in nodes:
            raise ConfigError(f"config key {key('node_nm')} is {tech['node_nm']}, not a node of the hardware model "
                              f"({', '.join(map(str, nodes))} nm)")
        dev = tech["device"]
        if (dev["memory"] == "sram") != dev["cell"].startswith("sram"):
            raise ConfigError(f"config key {key('device.cell')} is {dev['cell']!r}, which does not fit memory "
                              f"{dev['memory']!r} (sram takes sram6t or sram8t, the others 1t1r)")
        most = MAX_CELL_BITS[dev["memory"]]
        if dev["max_cell_bits"] > most:
            why = MAX_CELL_BITS_WHY.get(dev["memory"], "the hardware model's bound")
            cell = "an SRAM cell" if dev["memory"] == "sram" else f"a {dev['memory']} cell"
            raise ConfigError(f"config key {key('device.max_cell_bits')} must be at most {most} for {cell}, not "
                              f"{dev['max_cell_bits']} ({why})")
    techs = config.get("technologies", {})
    searched = config.get("hardware_space", {}).get("technologies") or list(techs)
    for wl_name, wl in config.get("workloads", {}).items():
        pinned = wl.get("accuracy") or {}
        for name in searched:
            dev = techs[name]["device"]
            if "sigma_max" in pinned and dev["sigma"] > pinned["sigma_max"] * (1 + 1e-9):
                raise ConfigError(f"config key {user_key(name, written.get(name), 'device.sigma')} is "
                                  f"{dev['sigma']:g}, beyond the {pinned['sigma_max']:g} of "
                                  f"workloads.{wl_name}.accuracy.sigma_max (raise it)")
            if "on_off_min" in pinned and min(dev["on_off_ratio"], 1e6) < pinned["on_off_min"] * (1 - 1e-9):
                raise ConfigError(f"config key {user_key(name, written.get(name), 'device.on_off_ratio')} is "
                                  f"{dev['on_off_ratio']:g}, below the {pinned['on_off_min']:g} of "
                                  f"workloads.{wl_name}.accuracy.on_off_min (lower it)")


def load_config(path: Path | str, schema_path: Path | str | None = None) -> dict:
    """Read and validate a config file (one-sentence errors for a missing or unparsable file, or a key given
    twice)."""
    config = read_config_file(path)
    schema = load_schema(schema_path) if schema_path else load_schema()
    return validate_config(config, schema)


def read_config_file(path: Path | str) -> Any:
    """A config file's content; a key given twice in one mapping is refused (YAML would keep the last one and
    drop the first without a word)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        text = path.read_text()
        _refuse_repeated_keys(yaml.compose(text, Loader=yaml.SafeLoader), path)
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}") from None


def _refuse_repeated_keys(node: Any, path: Path, where: tuple = ()) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key != "<<":
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise ConfigError(f"config key {_where((*where, key))} is given twice in {path} (lines "
                                      f"{seen[key]} and {line}); keep one")
                seen[key] = line
            _refuse_repeated_keys(value_node, path, (*where, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_repeated_keys(item, path, (*where, i))


def check_config_files(paths: Sequence[Path | str]) -> None:
    """Refuse what merging several config files (Snakemake's ``configfile:`` and ``--configfile``) would hide:
    a key given twice within one file, and a technology that two files define with different content
    (compared once resolved, so ``sram_22nm: {}`` in one file and the packaged values in full in the other
    agree). Merging would otherwise keep the last file's fields over the first's, field by field."""
    seen: dict[str, tuple[str, Any, Any]] = {}
    unique = list(dict.fromkeys(Path(p).resolve() for p in paths))
    for path in unique:
        raw = read_config_file(path)
        section = raw.get("technologies") if isinstance(raw, dict) else None
        if not isinstance(section, dict):
            continue
        shown = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
        for name, entry in section.items():
            try:
                resolved = resolve_entry(str(name), entry)
            except EntryError:
                resolved = None  # the merged config's validation names the problem
            if name in seen:
                first, first_entry, first_resolved = seen[name]
                same = entry == first_entry or (resolved is not None and resolved == first_resolved)
                if not same:
                    raise ConfigError(
                        f"config key technologies.{name} is given in both {first} and {shown} with different "
                        f"values; define it once (a changed device takes a name of its own, with from: {name} "
                        "and override)")
            else:
                seen[name] = (shown, entry, resolved)


# --------------------------------------------------------------------------------------------------
# sections -> value types
# --------------------------------------------------------------------------------------------------


# arch keys each family takes (the schema lists their union; a key of another family is refused here)
_ARCH_KEYS = {
    "vgg": ({"stages", "fc", "min_depth"}, {"width_ratios", "kernel_choices", "bit_choices"}),
    "resnet": ({"stages", "blocks", "min_depth"}, {"stem", "stem_type", "width_ratios", "bit_choices"}),
    "mobilenetv2": ({"stages", "blocks", "strides", "min_depth"},
                    {"stem", "stem_stride", "head", "width_ratios", "kernel_choices", "expand_choices", "bit_choices"}),
}


def family_spec(section: dict, meta: dict, where: str = "workload") -> Family:
    """The supernet family of a workload section (``family`` and ``arch``); ``meta`` is the prepared
    dataset's meta.json, which fixes the input channels, image size and class count."""
    arch, family = section["arch"], section["family"]
    required, optional = _ARCH_KEYS[family]
    for key in sorted(arch):
        if key not in required | optional:
            raise ConfigError(f"config key {where}.arch.{key} does not apply to the {family} family "
                              f"(it takes {', '.join(sorted(required | optional))})")
    for key in sorted(required - set(arch)):
        raise ConfigError(f"config key {where}.arch.{key} is required by the {family} family")
    ints = lambda v: tuple(int(x) for x in v)  # noqa: E731
    nested = [isinstance(st, list) for st in arch["stages"]]
    if family == "vgg" and not all(nested):
        raise ConfigError(f"config key {where}.arch.stages must list each stage's conv widths (a list per stage) "
                          "for the vgg family")
    if family != "vgg" and any(nested):
        raise ConfigError(f"config key {where}.arch.stages must list one output width per stage for the {family} family")
    common = dict(
        in_channels=int(meta["channels"]), image_size=int(meta["image_size"]), num_classes=int(meta["num_classes"]),
        min_depth=ints(arch["min_depth"]),
        width_ratios=tuple(float(r) for r in arch.get("width_ratios", (0.5, 0.75, 1.0))),
        bit_choices=ints(arch.get("bit_choices", range(2, 9))),
    )
    optional_values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in arch.items() if k in optional}
    optional_values.pop("width_ratios", None)
    optional_values.pop("bit_choices", None)
    if "expand_choices" in optional_values:
        optional_values["expand_choices"] = tuple(float(e) for e in optional_values["expand_choices"])
    try:
        if family == "vgg":
            return VGGSpec(stages=tuple(ints(st) for st in arch["stages"]), fc=ints(arch["fc"]), **common,
                           **optional_values)
        if family == "resnet":
            return ResNetSpec(stages=ints(arch["stages"]), blocks=ints(arch["blocks"]), **common, **optional_values)
        return MobileNetV2Spec(stages=ints(arch["stages"]), blocks=ints(arch["blocks"]), strides=ints(arch["strides"]),
                               **common, **optional_values)
    except SpaceError as e:
        raise ConfigError(f"config key {where}.arch is not a valid {family} family: {e}") from None


def workload_spec(config: dict, workload: str, meta: dict) -> Family:
    """The supernet family of ``workload``; ``meta`` is the prepared dataset's meta.json."""
    return family_spec(workload_section(config, workload), meta, f"workloads.{workload}")


def workload_section(config: dict, workload: str) -> dict:
    try:
        return config["workloads"][workload]
    except KeyError:
        known = ", ".join(sorted(config.get("workloads", {})))
        raise ConfigError(f"workload {workload!r} is not under workloads (known: {known})") from None


def accuracy_section(config: dict, workload: str) -> dict:
    """The workload's ``accuracy`` section with the device bounds it leaves out taken from the technologies the
    search spans: ``sigma_max`` their largest conductance variation, ``on_off_min`` / ``on_off_max`` their
    smallest and largest on/off ratio (capped at :data:`cimpipe.space.ON_OFF_CAP`).

    The table then spends its rows on the devices the search can choose. A technology added inside that span
    leaves this section, and so the table and the predictor, unchanged; one outside it widens the span and
    reruns them. Bounds set in the workload are kept (a wider table, reused by technologies added later).
    """
    section = dict(workload_section(config, workload).get("accuracy") or {})
    devices = device_summaries({"technologies": {t: config["technologies"][t] for t in search_technologies(config)}})
    on_off = [min(d.on_off_ratio, ON_OFF_CAP) for d in devices.values()]
    span = {"sigma_max": max(d.sigma for d in devices.values()), "on_off_min": min(on_off), "on_off_max": max(on_off)}
    return {**span, **section}


def search_technologies(config: dict) -> list[str]:
    """The technologies the search spans: hardware_space.technologies, or every configured one."""
    return list(config["hardware_space"].get("technologies") or config["technologies"].keys())


def hardware_space(config: dict) -> HardwareSpace:
    return HardwareSpace.from_config(
        {k: v for k, v in config["hardware_space"].items() if k != "technologies"} | {
            "technologies": search_technologies(config)},
        list(config["technologies"]),
    )


def device_summaries(config: dict) -> dict[str, DeviceSummary]:
    return {
        name: DeviceSummary(
            sigma=float(t["device"]["sigma"]),
            on_off_ratio=float(t["device"]["on_off_ratio"]),
            max_cell_bits=int(t["device"]["max_cell_bits"]),
        )
        for name, t in config["technologies"].items()
    }


def search_space(config: dict, spec: Family) -> SearchSpace:
    return SearchSpace(spec, hardware_space(config), device_summaries(config))


def grid_section(config: dict) -> dict:
    """The hardware knobs every search spans (not which technologies)."""
    return {k: v for k, v in config["hardware_space"].items() if k != "technologies"}


def characterized_section(config: dict) -> dict:
    """The hardware knobs a technology's characterization spans: not the chip-level choices (pipelining, the
    sign encoding, which knobs vary per layer) that the evaluation applies to the characterized subarrays."""
    return {k: v for k, v in grid_section(config).items() if k in HardwareSpace.CHARACTERIZED}


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys in sorted order, recursively (sequences keep their order).

    Snakemake compares a rule's params by their ``repr``, and a dict's repr follows its insertion order: a
    config rewritten in another key order, or the same values arriving through a ``--configfile`` overlay,
    would replan stages whose values did not change. Params handed in this form compare by content.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return type(value)(canonical(item) for item in value)
    return value
