"""TF checkpoints: tf_keras `save_weights('ckpt')`, `tf.train.Checkpoint`, TF1 `Saver`.

A checkpoint has no layer classes or configs (keras-formats.md §6.2): what it says is which
variables exist, under which object paths, with which shapes.  `read_bundle_variables` sorts
them into model weights, optimizer state and bookkeeping (metrics, save counters, the object
graph) the same way for a checkpoint and a SavedModel's `variables/` bundle; the SavedModel
reader adds what `keras_metadata.pb` knows on top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from bot.analysis.io.artifact import Artifact
from bot.analysis.keras.assemble import WeightRecord
from bot.analysis.keras.keras_classes import BUILTIN_OPTIMIZERS, STATE_WEIGHT_NAMES
from bot.analysis.tf.tf_bundle import (
    LAYER_EDGE,
    OBJECT_GRAPH_KEY,
    SHARD_NAME,
    VARIABLE_SUFFIX,
    BundleEntry,
    BundleIndex,
    ObjectGraph,
    read_bundle_index,
    read_object_graph,
    read_small_scalar,
)
from bot.errors import AnalysisError, ErrorCode
from bot.report import Report

# A `checkpoint` state file is a few lines of text; anything bigger is not one.
MAX_STATE_FILE_BYTES = 64 * 1024
OPTIMIZER_SLOT = "/.OPTIMIZER_SLOT/"
ITERATION_NAMES = ("_iterations", "iter", "iterations", "iteration")
LEARNING_RATE_NAMES = ("_learning_rate", "learning_rate", "lr")
# TF1 `Saver` slot variables are named after the variable plus the optimizer's slot suffix.
TF1_SLOT_SUFFIXES = ("/Adam", "/Adam_1", "/Momentum", "/RMSProp", "/RMSProp_1", "/Adagrad",
                     "/Adadelta", "/Adadelta_1", "/Ftrl", "/Ftrl_1", "/ExponentialMovingAverage")
TF1_OPTIMIZER_SCALARS = ("beta1_power", "beta2_power")


@dataclass
class Variable:
    key: str  # checkpoint key
    path: str  # object path: the key without /.ATTRIBUTES/VARIABLE_VALUE
    name: str  # the variable's own name when the object graph has it ('dense/kernel'), else path
    entry: BundleEntry
    # Its path through layers rather than list aliases (tf_bundle.ObjectGraph.object_paths):
    # 'layer_with_weights-0/layer_with_weights-1/kernel'.
    object_path: str = ""

    def __post_init__(self) -> None:
        self.object_path = self.object_path or self.path


@dataclass
class BundleVariables:
    index: BundleIndex
    index_size: int
    graph: ObjectGraph | None
    weights: list[Variable] = field(default_factory=list)
    optimizer: list[Variable] = field(default_factory=list)
    other: list[Variable] = field(default_factory=list)  # metrics, counters, object graph
    shard_sizes: dict[int, int | None] = field(default_factory=dict)
    iterations: int | None = None
    learning_rate: float | None = None
    duplicates_dropped: int = 0
    name_based: bool = False  # a TF1 Saver checkpoint: raw variable names, no object graph


def resolve_index_artifact(artifact: Artifact, report: Report) -> Artifact:
    """The `.index` behind what the user pointed at: the index, a `.data-*` shard or `checkpoint`."""
    if artifact.is_dir():
        return _index_in_folder(artifact, report)
    shard = SHARD_NAME.match(artifact.name)
    if shard:
        index = artifact.sibling(shard.group("prefix") + ".index")
        if index is None:
            raise AnalysisError(ErrorCode.DATA_SHARD)
        report.warn("data-shard-given", f"`{artifact.name}` is a data shard (raw bytes only); I read "
                    f"its index `{index.name}` instead. Point at the prefix "
                    f"`{shard.group('prefix')}` when you load it.")
        return index
    if artifact.name.endswith(".index"):
        return artifact
    size = artifact.size() or 0
    if 0 < size <= MAX_STATE_FILE_BYTES:
        with artifact.open() as f:
            text = f.read(MAX_STATE_FILE_BYTES).decode("utf-8", "replace")
        target = checkpoint_state_target(text)
        if target is not None:
            return _index_from_state(artifact, target, report)
    return artifact


def _index_in_folder(folder: Artifact, report: Report) -> Artifact:
    state = folder.child("checkpoint")
    if state is not None and not state.is_dir():
        return resolve_index_artifact(state, report)
    indexes = sorted((n for n in folder.listdir() if n.endswith(".index")), key=_natural_key)
    index = folder.child(indexes[-1]) if indexes else None
    if index is None:
        raise AnalysisError(ErrorCode.UNKNOWN, "This folder holds no checkpoint `.index` file.")
    if len(indexes) > 1:
        report.warn("several-checkpoints", f"The folder holds {len(indexes)} checkpoints and no "
                    f"`checkpoint` file; I read the last by name, `{index.name}`.")
    return index


def checkpoint_state_target(text: str) -> str | None:
    """`model_checkpoint_path` of a TF `CheckpointState` text file, or None if it is not one."""
    match = re.search(r'^\s*model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"', text, re.MULTILINE)
    return match.group(1).encode().decode("unicode_escape") if match else None


def _index_from_state(state: Artifact, target: str, report: Report) -> Artifact:
    base = target.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    index = state.sibling(base + ".index") if base else None
    if index is None:
        raise AnalysisError(ErrorCode.NOT_FOUND, f"The `checkpoint` file points at `{target}`, but "
                            f"`{base}.index` is not next to it: copy the whole checkpoint folder.")
    if "/" in target.replace("\\", "/"):
        report.warn("checkpoint-state-path", f"The `checkpoint` file records `{target}`; I used "
                    f"`{index.name}` from the same folder.")
    report.format_detail = f"latest checkpoint `{base}` (from the `checkpoint` file)"
    return index


def read_bundle_variables(index_artifact: Artifact, report: Report) -> BundleVariables:
    """Read the index, sort its variables, check the shards and read the optimizer's scalars."""
    size = index_artifact.size()
    if size is None:
        raise AnalysisError(ErrorCode.CORRUPT, "The checkpoint index has no size.")
    with index_artifact.open() as f:
        index = read_bundle_index(f, size)
    prefix = index_artifact.name[: -len(".index")] if index_artifact.name.endswith(".index") \
        else index_artifact.name
    found = BundleVariables(index=index, index_size=size, graph=None)
    shards = _check_shards(index_artifact, prefix, index, report)
    found.shard_sizes = {sid: (a.size() if a else None) for sid, a in shards.items()}
    graph_entry = index.entries.get(OBJECT_GRAPH_KEY)
    if graph_entry is not None and shards.get(graph_entry.shard_id) is not None:
        shard = shards[graph_entry.shard_id]
        with shard.open() as sf:  # type: ignore[union-attr]
            found.graph = read_object_graph(sf, found.shard_sizes[graph_entry.shard_id], graph_entry)
    _sort_variables(found)
    _read_optimizer_scalars(found, shards)
    return found


def _check_shards(index_artifact: Artifact, prefix: str, index: BundleIndex,
                  report: Report) -> dict[int, Artifact | None]:
    needed: dict[int, int] = {}
    for entry in index.entries.values():
        needed[entry.shard_id] = max(needed.get(entry.shard_id, 0), entry.offset + entry.size)
    shards: dict[int, Artifact | None] = {}
    for shard_id in sorted(needed):
        name = index.shard_name(prefix, shard_id)
        shards[shard_id] = shard = index_artifact.sibling(name)
        if shard is None:
            report.warn("missing-shard", f"Data shard `{name}` is missing: the index describes the "
                        "variables, but loading will fail until the shard is next to it.")
            continue
        shard_size = shard.size()
        if shard_size is not None and shard_size < needed[shard_id]:
            report.warn("truncated-shard", f"Data shard `{name}` is {shard_size} bytes but the index "
                        f"needs {needed[shard_id]}: it is cut short and loading will fail.")
    return shards


def _sort_variables(found: BundleVariables) -> None:
    entries = found.index.entries
    names = found.graph.variable_names() if found.graph else {}
    owners = found.graph.object_paths() if found.graph else {}
    found.name_based = bool(entries) and not any(k.endswith(VARIABLE_SUFFIX) for k in entries)
    optimizer_prefixes = _optimizer_prefixes(entries)
    keep_all_variables = not any(k.startswith("variables/") for k in entries)
    rank = found.graph.key_order() if found.graph else {}
    for key in sorted(entries, key=lambda k: (rank.get(k, len(rank)), _natural_key(k))):
        entry = entries[key]
        path = key[: -len(VARIABLE_SUFFIX)] if key.endswith(VARIABLE_SUFFIX) else key
        var = Variable(key=key, path=path, name=names.get(key) or path, entry=entry,
                       object_path=owners.get(key) or path)
        if key.startswith("_all_variables/") and not keep_all_variables:
            found.duplicates_dropped += 1  # Keras 3 export() saves each variable twice (§6.2)
        elif OPTIMIZER_SLOT in key or any(key.startswith(p) for p in optimizer_prefixes):
            found.optimizer.append(var)
        elif found.name_based and (path.endswith(TF1_SLOT_SUFFIXES) or path in TF1_OPTIMIZER_SCALARS):
            found.optimizer.append(var)
        elif (key == OBJECT_GRAPH_KEY or key.startswith("\x00") or entry.dtype in ("string", "resource", "variant")
              or entry.sliced and not entry.shape
              or not (key.endswith(VARIABLE_SUFFIX) or found.name_based)
              or path == "global_step" or path.endswith("save_counter")
              or path.startswith("keras_api/metrics/") or "/keras_api/metrics/" in path):
            found.other.append(var)
        else:
            found.weights.append(var)


def _optimizer_prefixes(entries: dict[str, BundleEntry]) -> tuple[str, ...]:
    """Object paths that hold an optimizer: `optimizer/`, and any path owning an iteration counter."""
    prefixes = {"optimizer/"}
    for key in entries:
        path = key[: -len(VARIABLE_SUFFIX)] if key.endswith(VARIABLE_SUFFIX) else None
        if path and "/" in path and path.rsplit("/", 1)[1] in ITERATION_NAMES:
            prefixes.add(path.rsplit("/", 1)[0] + "/")
    return tuple(sorted(prefixes))


def _natural_key(key: str) -> list[object]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)]


def _read_optimizer_scalars(found: BundleVariables, shards: dict[int, Artifact | None]) -> None:
    candidates = found.optimizer + [v for v in found.other if v.path == "global_step"]
    for var in candidates:
        last = var.path.rsplit("/", 1)[-1]
        wanted_int = last in ITERATION_NAMES or var.path == "global_step"
        wanted_float = last in LEARNING_RATE_NAMES
        shard = shards.get(var.entry.shard_id)
        if not (wanted_int or wanted_float) or shard is None or var.entry.shape:
            continue
        with shard.open() as sf:
            value = read_small_scalar(sf, found.shard_sizes.get(var.entry.shard_id), var.entry,
                                      found.index.endianness)
        if wanted_int and isinstance(value, int) and found.iterations is None:
            found.iterations = value
        elif wanted_float and isinstance(value, float) and found.learning_rate is None:
            found.learning_rate = value


# --- from variables to per-layer weight records ----------------------------------------------

def layer_group(var: Variable) -> str:
    """The object path of the top-level layer a variable belongs to.

    Keras object paths name layers by position (`layer_with_weights-1`); the group is the path
    up to the first such edge (`model/layer_with_weights-1` in a `tf.train.Checkpoint`).
    Without one (Keras 3 export, TF1 names) the variable's own name gives it: `dense/kernel` → `dense`.
    """
    parts = var.object_path.split("/")
    for i, part in enumerate(parts):
        if LAYER_EDGE.match(part):
            return "/".join(parts[: i + 1])
    return var.name.rsplit("/", 1)[0] if "/" in var.name else var.name


def layer_display_names(variables: list[Variable]) -> dict[str, str]:
    """group → the layer's name when all its variables agree on it ('dense'), else the group path."""
    firsts: dict[str, set[str]] = {}
    for var in variables:
        group = layer_group(var)
        firsts.setdefault(group, set()).add(var.name.split("/", 1)[0] if var.name != var.path else group)
    return {g: (next(iter(s)) if len(s) == 1 and LAYER_EDGE.search(g.rsplit("/", 1)[-1]) else g)
            for g, s in firsts.items()}


def trainable_from_graph_or_slots(found: BundleVariables) -> tuple[dict[str, bool], str] | None:
    """Per-variable trainability from the export's own lists or the optimizer's slots, if any.

    Keras 3 `export()` keeps `trainable_variables`; an optimizer keeps one slot per trainable
    variable when it was built (legacy: `.OPTIMIZER_SLOT` edges; new: slots named
    `Adam/m/<variable name>`).  Returns (key → trainable, how it was decided) or None.
    """
    keys = {v.key for v in found.weights}
    graph = found.graph
    if graph and "trainable_variables" in graph.root_children():
        listed = graph.keys_reached_from("trainable_variables")
        return {k: k in listed for k in keys}, "export"
    owners = {v.key.split(OPTIMIZER_SLOT, 1)[0] + VARIABLE_SUFFIX for v in found.optimizer
              if OPTIMIZER_SLOT in v.key}
    if graph:
        owners |= graph.slot_owners
    slot_names = {v.name.split("/", 2)[2] for v in found.optimizer
                  if v.name != v.path and v.name.count("/") >= 2}
    by_name = {v.key for v in found.weights if v.name != v.path and v.name in slot_names}
    owners = (owners & keys) | by_name
    if owners:
        return {k: k in owners for k in keys}, "slots"
    return None


def is_state_variable(var: Variable) -> bool:
    """BatchNormalization statistics and similar state that Keras never trains."""
    return var.path.rsplit("/", 1)[-1] in STATE_WEIGHT_NAMES or \
        var.name.rsplit("/", 1)[-1].split(":")[0] in STATE_WEIGHT_NAMES


def weight_records(found: BundleVariables, trainable: Mapping[str, bool | None],
                   names: dict[str, str] | None = None) -> list[WeightRecord]:
    """One WeightRecord per model weight, grouped under its layer's display name."""
    names = names if names is not None else layer_display_names(found.weights)
    return [
        WeightRecord(layer=names.get(layer_group(v), layer_group(v)), name=v.name,
                     shape=list(v.entry.shape), dtype=v.entry.dtype, nbytes=v.entry.nbytes,
                     trainable=trainable.get(v.key))
        for v in found.weights
    ]


def layer_order(records: list[WeightRecord], class_name: str = "unknown") -> list[tuple[str, str, bool | None]]:
    """(layer, class, trainable) in first-seen order; a layer is trainable if any weight is."""
    flags: dict[str, list[bool | None]] = {}
    for r in records:
        flags.setdefault(r.layer, []).append(r.trainable)
    return [(name, class_name, None if None in f else any(f)) for name, f in flags.items()]


def optimizer_class_from_slots(found: BundleVariables) -> str | None:
    """'Adam' from slot names like `Adam/m/dense/kernel` when the name is a built-in optimizer."""
    for var in found.optimizer:
        first = var.name.split("/", 1)[0] if var.name != var.path else ""
        if first in BUILTIN_OPTIMIZERS:
            return first
    return None


def optimizer_records(found: BundleVariables) -> list[WeightRecord]:
    return [WeightRecord(layer="optimizer", name=v.name, shape=list(v.entry.shape),
                         dtype=v.entry.dtype, nbytes=v.entry.nbytes, trainable=None)
            for v in found.optimizer]


def total_bytes(found: BundleVariables) -> int | None:
    """Index plus every shard, or None when a shard's size is unknown."""
    if any(s is None for s in found.shard_sizes.values()):
        return None
    return found.index_size + sum(s or 0 for s in found.shard_sizes.values())


# --- the report -------------------------------------------------------------------------------

def report_from_checkpoint(artifact: Artifact) -> Report:
    """Describe a TF checkpoint from its `.index` (or its `checkpoint` file, or a data shard)."""
    from bot.analysis.keras.assemble import (
        layers_from_records,
        optimizer_info,
        params_from_records,
        size_breakdown,
    )
    from bot.analysis.tf.tf_reload import checkpoint_reload
    from bot.report import Contents, SourceInfo

    report = Report(source=SourceInfo(artifact.name, artifact.uri, artifact.size()), format="tf-checkpoint")
    index_artifact = resolve_index_artifact(artifact, report)
    found = read_bundle_variables(index_artifact, report)
    decided = trainable_from_graph_or_slots(found)
    if decided is None:
        trainable = {v.key: not is_state_variable(v) for v in found.weights}
        how = "variable names (BatchNormalization statistics and similar state)"
    else:
        trainable = dict(decided[0])
        how = "the export's trainable list" if decided[1] == "export" else "the optimizer's slots"
    records = weight_records(found, trainable)
    opt_records = optimizer_records(found)
    report.layers = layers_from_records(layer_order(records), records)
    report.params = params_from_records(records)
    if found.weights:
        report.warn("trainable-inferred", f"A checkpoint stores no trainable flags: the trainable "
                    f"split comes from {how}.")
    report.contents = Contents(weights=bool(found.weights), optimizer_state=bool(found.optimizer))
    if found.optimizer:
        report.optimizer = optimizer_info(None, opt_records, found.iterations)
        if report.optimizer is not None:
            report.optimizer.class_name = optimizer_class_from_slots(found)
            report.optimizer.learning_rate = found.learning_rate
    report.size_breakdown = size_breakdown(total_bytes(found), records, opt_records)
    report.format_detail = _checkpoint_detail(found, report.format_detail)
    root = found.graph.root_children() if found.graph else []
    report.reload = checkpoint_reload(index_artifact.name[: -len(".index")], found.name_based, root)
    return report


def _checkpoint_detail(found: BundleVariables, lead: str | None) -> str:
    shards = found.index.num_shards
    root = found.graph.root_children() if found.graph else []
    if found.name_based:
        kind = "TF1 name-based checkpoint (tf.compat.v1.train.Saver)"
    elif any(LAYER_EDGE.match(c) for c in root):
        kind = "object-based checkpoint of a Keras model (tf.keras save_weights)"
    else:
        kind = "object-based checkpoint (tf.train.Checkpoint" + (f" with {', '.join(root)})" if root else ")")
    parts = [p for p in (lead, kind, f"{shards} data shard{'s' if shards != 1 else ''}") if p]
    if any(OPTIMIZER_SLOT in v.key for v in found.optimizer):
        parts.append("legacy optimizer (optimizer_v2 slots)")
    return "; ".join(parts)
