"""Shared steps that turn what a reader found into Report fields, the same way for every format.

Readers collect `WeightRecord`s (one per variable, with its trainability) and the parsed
configs; these functions derive params, layers, optimizer, training, sizes and findings,
so totals are computed in one place only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

from bot.analysis.keras.config_walk import ModelSpec, lambda_code_summary
from bot.analysis.keras.keras_classes import strip_registered_prefix
from bot.report import (
    LayerInfo,
    ModelInfo,
    OptimizerInfo,
    Params,
    Report,
    SizeBreakdown,
    TrainingInfo,
    WeightInfo,
)


@dataclass
class WeightRecord:
    layer: str  # top-level layer (model.layers entry) it belongs to
    name: str
    shape: list[int]
    dtype: str
    nbytes: int
    trainable: bool | None  # None: the file cannot tell
    # Keras 3 quantization mode of the layer owning it ("int8", "int4/128"), None when not quantized.
    quantization: str | None = None
    # Unpacked shape of a packed int4 / GPTQ kernel; None when it is the stored shape.
    logical_shape: list[int] | None = None
    # LoRA rank of the owning layer; adapters re-created on load are records with nbytes 0 and in_file False.
    lora_rank: int | None = None
    in_file: bool = True
    # Bytes the variable would take unquantized in float32 (quantized kernels only), for the summary.
    float32_bytes: int | None = None

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def layers_from_records(order: Iterable[tuple[str, str, bool | None]], records: list[WeightRecord]) -> list[LayerInfo]:
    """LayerInfo per (name, class_name, trainable) in model order, with the records that belong to it."""
    by_layer: dict[str, list[WeightRecord]] = {}
    for r in records:
        by_layer.setdefault(r.layer, []).append(r)
    out = []
    for name, class_name, trainable in order:
        recs = by_layer.pop(name, [])
        out.append(LayerInfo(
            name=name,
            class_name=class_name,
            params=sum(r.size for r in recs),
            weights=[_weight_info(r) for r in recs],
            trainable=trainable,
            quantization=_layer_mode(recs),
            lora_rank=max((r.lora_rank for r in recs if r.lora_rank), default=None),
        ))
    for name, recs in by_layer.items():  # weights whose layer the config does not list
        out.append(LayerInfo(name=name, class_name="unknown", params=sum(r.size for r in recs),
                             weights=[_weight_info(r) for r in recs], quantization=_layer_mode(recs)))
    return out


def _weight_info(r: WeightRecord) -> WeightInfo:
    return WeightInfo(r.name, r.shape, r.dtype)


def _layer_mode(recs: list[WeightRecord]) -> str | None:
    """One mode per top-level layer; a block holding several quantized sub-layers of different modes is mixed."""
    modes = {r.quantization for r in recs if r.quantization}
    if not modes:
        return None
    return modes.pop() if len(modes) == 1 else "mixed"


def params_from_records(records: list[WeightRecord]) -> Params:
    total = sum(r.size for r in records)
    if any(r.trainable is None for r in records):
        return Params(total=total)
    trainable = sum(r.size for r in records if r.trainable)
    return Params(total=total, trainable=trainable, non_trainable=total - trainable)


def model_info(spec: ModelSpec) -> ModelInfo:
    return ModelInfo(class_name=strip_registered_prefix(spec.class_name), name=spec.name,
                     inputs=spec.inputs, outputs=spec.outputs)


# What `keras.optimizers.get("adam")` resolves a string to (keras/src/optimizers/__init__.py ALL_OBJECTS_DICT,
# lower-cased names; tf-keras and Keras 2 accept the same names).  Keras 2.13–2.15 and Keras 3 before it
# serialized the optimizer object wrote the argument as given: `compile(optimizer="adam")` → "adam".
OPTIMIZER_STRINGS = {n.lower(): n for n in (
    "Adam AdamW Adamax Adadelta Adagrad Adafactor Ftrl Lion Lamb Muon Nadam RMSprop SGD "
    "LossScaleOptimizer ScheduleFreeAdamW").split()}


def optimizer_class_from_string(name: str) -> str:
    """'adam' → 'Adam', 'keras.optimizers.SGD' → 'SGD'; an unknown name is returned as written."""
    plain = strip_registered_prefix(name.strip()).rsplit(".", 1)[-1]
    return OPTIMIZER_STRINGS.get(plain.lower(), plain)


def optimizer_info(opt_config: dict[str, Any] | str | None, records: list[WeightRecord],
                   iterations: int | None) -> OptimizerInfo | None:
    """`opt_config` in any shape Keras wrote it: a string ("adam"), `{class_name, config}` (Keras 2,
    tf-keras "Custom>Adam"), `{module, class_name, config, registered_name}` (Keras 3)."""
    if isinstance(opt_config, str) and not opt_config.strip():
        opt_config = None
    if opt_config is None and not records:
        return None
    class_name, lr = None, None
    if isinstance(opt_config, str):
        class_name = optimizer_class_from_string(opt_config)
    elif isinstance(opt_config, dict):
        class_name = strip_registered_prefix(str(opt_config.get("class_name", ""))) or None
        cfg = _dict(opt_config.get("config"))
        if class_name and class_name.startswith("LossScaleOptimizer"):
            inner = cfg.get("inner_optimizer") or cfg.get("optimizer")
            if isinstance(inner, dict):
                inner_info = optimizer_info(inner, [], None)
                class_name = f"{class_name}({inner_info.class_name})" if inner_info else class_name
                cfg = _dict(inner.get("config"))
        lr = _learning_rate(cfg)
    return OptimizerInfo(
        class_name=class_name,
        iterations=iterations,
        learning_rate=lr,
        state_bytes=sum(r.nbytes for r in records),
        variables=len(records),
        params=sum(r.size for r in records),
    )


def _dict(value: object) -> dict[str, Any]:
    """A config's sub-dictionary, or {} where the file has something else there."""
    return value if isinstance(value, dict) else {}


def _learning_rate(cfg: dict[str, Any]) -> float | None:
    for key in ("learning_rate", "lr"):
        v = cfg.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        if isinstance(v, dict):  # a schedule: report its starting rate
            inner = _dict(v.get("config"))
            start = inner.get("initial_learning_rate")
            if isinstance(start, (int, float)):
                return float(start)
    return None


def training_info(loss: Any, metrics: Any) -> TrainingInfo | None:
    if loss is None and not metrics:
        return None
    return TrainingInfo(loss=_plain(loss), metrics=_flatten_metrics(metrics))


def _plain(v: Any) -> Any:
    """A loss as a person would name it: 'mse', {'out': 'mse'}, 'MyLoss'."""
    if isinstance(v, dict) and "class_name" in v:
        cfg = v.get("config")
        if isinstance(cfg, dict) and isinstance(cfg.get("name"), str):
            return cfg["name"]
        if isinstance(cfg, str):
            return cfg
        return strip_registered_prefix(str(v["class_name"]))
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _flatten_metrics(metrics: Any) -> list[Any]:
    out: list[Any] = []
    stack = [metrics] if metrics is not None else []
    while stack:
        m = stack.pop(0)
        if isinstance(m, list):
            stack[0:0] = m
        elif isinstance(m, dict) and "class_name" not in m:
            stack[0:0] = list(m.values())
        elif m is not None:
            out.append(_plain(m))
    return out


def size_breakdown(file_size: int | None, records: list[WeightRecord],
                   optimizer_records: list[WeightRecord]) -> SizeBreakdown | None:
    weights = sum(r.nbytes for r in records)
    opt = sum(r.nbytes for r in optimizer_records)
    if file_size is None:
        return SizeBreakdown(weights, opt, 0)
    return SizeBreakdown(weights, opt, max(0, file_size - weights - opt))


def add_model_findings(report: Report, spec: ModelSpec) -> None:
    """Warnings every reader adds once it has a model config."""
    if spec.source_config is not None:
        from bot.analysis import security

        found = security.config_findings(spec.source_config)
        if not any(f.code in ("custom-class", "foreign-module") for f in found):
            found += security.custom_object_findings(spec.custom_objects)  # legacy `Pkg>Class` names
        security.attach(report, (report.security.findings if report.security else []) + found)
    by_path = {l.path: l for l in spec.all_layers()}
    for path in spec.lambdas:
        layer = by_path.get(path)
        code = lambda_code_summary(layer) if layer else None
        report.warn(
            "lambda-layer",
            f"Lambda layer `{path}` stores Python code"
            + (f" ({code})" if code else "")
            + ": loading the model runs it. Recent Keras refuses it unless you pass "
            "`safe_mode=False`; do that only if you trust who wrote the file.",
        )
    seen: set[str] = set()
    for obj in spec.custom_objects:
        key = obj.registered_name or obj.class_name
        if key in seen:
            continue
        seen.add(key)
        reg = f" (registered as `{obj.registered_name}`)" if obj.registered_name and ">" in obj.registered_name else ""
        report.warn(
            "custom-object",
            f"Custom {obj.kind} class `{strip_registered_prefix(obj.class_name)}`{reg} at `{obj.path}`: "
            f"loading needs its code — import the module that defines it, or pass "
            f"`custom_objects={{'{strip_registered_prefix(obj.class_name)}': "
            f"{strip_registered_prefix(obj.class_name)}}}`.",
        )
    from bot.analysis.keras.config_walk import is_hub_class

    hub = sorted({strip_registered_prefix(l.class_name) for l in spec.all_layers()
                  if is_hub_class(l.module, l.registered_name)} |
                 ({strip_registered_prefix(spec.class_name)} if is_hub_class(spec.module, spec.registered_name) else set()))
    if hub:
        report.warn("keras-hub-classes", f"Uses KerasHub classes ({', '.join(hub[:6])}): `import keras_hub` before "
                    "loading registers them (pip install keras-hub); no code of yours is needed.")
    mixed = sorted(p for p in spec.dtype_policies if p.startswith("mixed_"))
    if mixed:
        report.warn(
            "mixed-precision",
            f"Mixed-precision policy {', '.join(mixed)}: variables are float32 but layers compute in "
            f"{mixed[0].split('_', 1)[1]}; set the same policy (keras.mixed_precision.set_global_policy) "
            "before rebuilding the model for load_weights.",
        )


# Keras releases most installs can read (Colab and TF 2.19/2.20 images ship Keras 3.8–3.10);
# `.keras` files are not forward compatible, so a newer writer is a trap (keras-formats.md §0.18).
WIDELY_INSTALLED_KERAS = (3, 10)


def add_training_findings(report: Report, loss: Any) -> None:
    """Custom losses need their code at load time too (unless compile=False)."""
    from bot.analysis.keras.keras_classes import BUILTIN_LOSSES

    names = []
    # A serialized loss object is one loss (`{"module": "keras.losses", "class_name": …}`); a plain dict maps outputs.
    single = isinstance(loss, dict) and "class_name" in loss
    for item in (loss.values() if isinstance(loss, dict) and not single else loss if isinstance(loss, list)
                 else [loss]):
        plain = _plain(item)
        if isinstance(plain, str) and strip_registered_prefix(plain) not in BUILTIN_LOSSES:
            names.append(strip_registered_prefix(plain))
    for name in dict.fromkeys(names):
        report.warn("custom-object", f"Custom loss `{name}`: compiling on load needs its code — pass "
                    f"`custom_objects={{'{name}': {name}}}`, or load with `compile=False` and compile again.")


def add_version_findings(report: Report) -> None:
    v = report.keras_version or ""
    parts = v.split(".")
    if report.format == "keras-v3-archive" and len(parts) >= 2 and parts[0] == "3" and parts[1].isdigit():
        if (3, int(parts[1])) > WIDELY_INSTALLED_KERAS:
            report.warn("newer-keras-writer", f"Written by Keras {v}: .keras files are not forward compatible, "
                        f"so a Keras older than {parts[0]}.{parts[1]} may fail to load it (“could not be "
                        "deserialized properly”). Upgrade first: `pip install -U keras`.")


def layer_type_counts(report: Report) -> Counter:
    return Counter(l.class_name for l in report.layers)
