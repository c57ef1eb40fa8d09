"""KerasHub presets: `save_to_preset` folders (or their config.json, or a zip of them) and `*.lora.h5`.

Facts (keras_hub/src/utils/preset_utils.py, models/backbone.py, models/task.py, KerasHub 0.32):
`config.json` is the backbone (`registered_name` "keras_hub>GemmaBackbone", older "keras_nlp>…"; its
config holds constructor arguments, not a layer list), `metadata.json` has `keras_version`,
`keras_hub_version`, `parameter_count` (the backbone's `count_params()`) and `tasks` (the task base
classes the backbone supports); weights are `model.weights.h5` or, above `max_shard_size`,
`model.weights.json` + `model_NNNNN.weights.h5`.  A task adds `task.json` and, when it has weights
outside the backbone, `task.weights.h5` (`save_task_weights` skips backbone layers).  Tokenizers
are `tokenizer.json` + `assets/tokenizer/` (`vocabulary.spm`, `vocabulary.txt`, `vocabulary.json`
+ `merges.txt`).  `*.lora.h5`: `lora/vars/rank` and `lora/<layer index>/vars/lora_kernel_a|b`.
"""

from __future__ import annotations

import json
from typing import Any

from bot.analysis.json_fields import sub_dict
from bot.analysis.keras import assemble, layer_variables, quantization, v3_weights
from bot.analysis.keras.hub_files import PresetFiles
from bot.analysis.keras.keras_classes import name_hub_layer, strip_registered_prefix
from bot.analysis.wire import protobuf
from bot.errors import AnalysisError, ErrorCode
from bot.report import (
    Contents,
    LayerInfo,
    ModelInfo,
    Params,
    PresetInfo,
    Report,
    TokenizerInfo,
    WeightInfo,
)

MAX_SHARDS = 10_000
_TOKENIZER_ASSETS = ("assets/tokenizer/vocabulary.spm", "assets/tokenizer/vocabulary.txt",
                     "assets/tokenizer/vocabulary.json")


def report_from_preset(files: PresetFiles, report: Report) -> Report:
    config = files.json("config.json")
    if config is None:
        raise AnalysisError(ErrorCode.CORRUPT, "This KerasHub preset has no config.json: `from_preset` cannot "
                            "build it (\"does not contain config.json\"). Copy the whole preset folder.")
    metadata = files.json("metadata.json") or {}
    task = files.json("task.json")
    backbone = strip_registered_prefix(str(config.get("registered_name") or config.get("class_name") or "?"))
    report.format = "keras-hub-preset"
    report.keras_version = str(metadata["keras_version"]) if metadata.get("keras_version") else None
    tree, detail = _backbone_tree(files, report)
    inner = sub_dict(config, "config")
    if tree is not None:
        tree.writer_version = report.keras_version
        tree.policy_map = quantization.policy_map(inner.get("dtype"))
    res = v3_weights.read_tree(tree, None) if tree is not None else None
    head = None
    if task is not None and files.exists("task.weights.h5"):
        with files.h5("task.weights.h5") as h5:
            head = v3_weights.read_tree(v3_weights.flatten(h5), None)
    records = (res.records if res else []) + (head.records if head else [])
    order = (res.order if res else []) + (head.order if head else [])
    report.layers = assemble.layers_from_records(order, records)
    for l in report.layers:
        l.path = (res.paths.get(l.name) if res else None) or (head.paths.get(l.name) if head else None)
        name_hub_layer(l)
    backbone_params = sum(r.size for r in res.records) if res else 0
    head_params = sum(r.size for r in head.records) if head else 0
    trainable = sum(r.size for r in records if r.trainable is not False)
    report.params = Params(total=backbone_params + head_params, trainable=trainable,
                           non_trainable=backbone_params + head_params - trainable) if records else None
    report.size_breakdown = assemble.size_breakdown(None, records, [])
    layer_variables.summarize(report, records)
    task_class = strip_registered_prefix(str(task.get("registered_name") or task.get("class_name"))) if task else None
    task_cfg = sub_dict(task, "config") if task else {}
    report.model = ModelInfo(class_name=task_class or backbone,
                             name=str(task_cfg.get("name") or inner.get("name") or backbone))
    report.contents = Contents(architecture=True, weights=bool(records), optimizer_state=False, training_config=False)
    report.preset = PresetInfo(
        backbone=backbone,
        tasks=[task_class] if task_class else [str(t) for t in metadata.get("tasks") or []],
        keras_hub_version=str(metadata.get("keras_hub_version") or metadata.get("keras_nlp_version") or "") or None,
        tokenizer=_tokenizer(files, report),
        metadata_parameter_count=metadata.get("parameter_count") if isinstance(metadata.get("parameter_count"),
                                                                               int) else None,
    )
    parts = [f"KerasHub preset ({files.where})", f"backbone {backbone_params:,} params"]
    if task_class:
        parts.append(f"{task_class} head {head_params:,} params" if head else f"{task_class} (no head weights)")
    report.format_detail = "; ".join(parts + ([detail] if detail else []))
    _check(report, files, metadata, task, backbone_params)
    return report


def _backbone_tree(files: PresetFiles, report: Report) -> tuple[v3_weights.V3Tree | None, str | None]:
    if files.exists("model.weights.h5"):
        with files.h5("model.weights.h5") as h5:
            return v3_weights.flatten(h5), None
    index = files.json("model.weights.json")
    if index is None:
        report.warn("preset-missing-weights", "The preset has config.json but neither model.weights.h5 nor "
                    "model.weights.json: `from_preset` builds the architecture and then fails to load weights. "
                    "Copy the weights file(s) too, or pass `load_weights=False` for a fresh model.")
        return None, None
    weight_map = sub_dict(index, "weight_map")
    names: list[str] = []
    for v in weight_map.values():
        for n in v if isinstance(v, list) else [v]:
            if isinstance(n, str) and n not in names:
                names.append(n)
    if len(names) > MAX_SHARDS:
        raise AnalysisError(ErrorCode.LIMIT, f"The index lists {len(names):,} shards (limit {MAX_SHARDS:,}).")
    tree = v3_weights.V3Tree()
    missing = []
    for n in names:
        if "/" in n or "\\" in n or n.startswith("."):
            raise AnalysisError(ErrorCode.UNSAFE, f"The index names shard {n!r} outside its folder; refused.")
        if not files.exists(n):
            missing.append(n)
            continue
        with files.h5(n) as h5:
            v3_weights.flatten(h5, tree)
    if missing:
        report.warn("missing-shards", f"{len(missing)} of {len(names)} weight shard(s) listed in model.weights.json "
                    f"are missing ({', '.join(missing[:5])}); figures cover the rest and `from_preset` fails until "
                    "they are there.")
    return tree, f"sharded in {len(names)} file(s)"


def _tokenizer(files: PresetFiles, report: Report) -> TokenizerInfo | None:
    tok = files.json("tokenizer.json")
    if tok is None:
        return None
    cls = strip_registered_prefix(str(tok.get("registered_name") or tok.get("class_name") or "Tokenizer"))
    size = None
    present = [a for a in _TOKENIZER_ASSETS if files.exists(a)]
    if not present:
        report.warn("preset-missing-tokenizer-assets", f"tokenizer.json names {cls} but assets/tokenizer/ holds no "
                    "vocabulary: `from_preset` cannot build the tokenizer. Copy the assets folder too.")
    elif present[0].endswith(".spm"):
        data = files.read(present[0], 64 * 1024**2) or b""
        try:
            size = len(protobuf.fields_by_number(data).get(1, []))  # ModelProto.pieces
        except (ValueError, IndexError):
            size = None
    elif present[0].endswith(".txt"):
        data = files.read(present[0], 64 * 1024**2) or b""
        size = len(data.decode("utf-8", "replace").splitlines())
    else:
        data = files.read(present[0], 64 * 1024**2) or b"{}"
        try:
            vocab = json.loads(data)
            size = len(vocab) if isinstance(vocab, (dict, list)) else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            size = None
    return TokenizerInfo(class_name=cls, vocabulary_size=size)


def _check(report: Report, files: PresetFiles, metadata: dict[str, Any], task: dict[str, Any] | None,
           backbone_params: int) -> None:
    count = metadata.get("parameter_count")
    if isinstance(count, int) and backbone_params and count != backbone_params:
        report.warn("preset-parameter-count-mismatch", f"metadata.json says the backbone has {count:,} parameters "
                    f"but its weights hold {backbone_params:,}: the weights may belong to another preset or be "
                    "incomplete.")
    if report.quantization is not None:
        how = ("the task class's `from_preset` (task.json keeps the map) loads it" if task is not None else
               "rebuild it from config.json instead (see reload)")
        report.warn("quantized-preset-from-preset", "KerasHub 0.32 `Backbone.from_preset` replaces the preset's "
                    "saved DTypePolicyMap with the default dtype, builds a float model and then fails to load the "
                    f"quantized weights (\"could not be loaded\"); {how}.")


def report_from_hub_lora(h5: Any, report: Report, base: Report | None = None) -> Report:
    """A KerasHub `*.lora.h5` adapter file (Backbone.save_lora_weights).

    `base`: the preset beside the file, if any.  After `load_lora_weights` live Keras counts the
    backbone plus the adapters, and only the adapters train (`enable_lora` freezes the rest)."""
    import h5py

    from bot.analysis.io import h5safe

    lora = h5safe.child(h5, "lora")
    if not isinstance(lora, h5py.Group):
        raise AnalysisError(ErrorCode.CORRUPT, "This .lora.h5 has no `lora` group: it is not a KerasHub adapter file.")
    rank_ds = h5safe.child(lora, "vars") if lora is not None else None
    rank_ds = h5safe.child(rank_ds, "rank") if rank_ds is not None else None
    rank = h5safe.read_scalar(rank_ds) if rank_ds is not None else None
    report.format = "keras-hub-lora"
    layers = []
    for key in sorted((k for k in lora.keys() if k.isdigit()), key=int):
        vars_ = h5safe.child(h5safe.child(lora, key), "vars")
        ws = []
        for name in ("lora_kernel_a", "lora_kernel_b"):
            ds = h5safe.child(vars_, name) if vars_ is not None else None
            if ds is not None:
                shape, dtype, _ = h5safe.dataset_meta(ds)
                ws.append(WeightInfo(f"layer_{key}/{name}", shape, dtype))
        size = sum(_prod(w.shape) for w in ws)
        # KerasHub enables LoRA on the attention query/value EinsumDense layers (Backbone.enable_lora).
        layers.append(LayerInfo(name=f"layer_{key}", class_name="EinsumDense", params=size, weights=ws,
                                trainable=True, lora_rank=int(rank) if isinstance(rank, int) else None))
    report.layers = layers
    total = sum(l.params for l in layers)
    report.params = Params(total=total, trainable=total, non_trainable=0)
    if base is not None and base.params is not None and base.preset is not None:
        report.params = Params(total=base.params.total + total, trainable=total, non_trainable=base.params.total)
        report.preset = base.preset
        report.keras_version = base.keras_version
    report.contents = Contents(architecture=False, weights=bool(layers))
    report.format_detail = (f"KerasHub LoRA adapters: rank {rank}, {len(layers)} layer(s) (indices into the "
                            "backbone's layers with weights)")
    if report.preset is not None:
        report.warn("lora-adapters-only", f"LoRA adapters ({total:,} values, rank {rank}) beside the "
                    f"{report.preset.backbone} preset in the same folder: the counts are that backbone after "
                    "`load_lora_weights` (only the adapters train).")
    else:
        report.warn("lora-adapters-only", f"Only LoRA adapters ({total:,} values, rank {rank}): apply them to the "
                    "preset they were trained on with `backbone.load_lora_weights(path)`; the counts are the "
                    "adapters', the backbone's come with the preset.")
    return report


def _prod(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
