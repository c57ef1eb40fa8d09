"""A model config (JSON, any Keras version) → the layer tree and what matters about it.

Reads Keras 1/2 configs (`batch_input_shape`, list-style `inbound_nodes`, Sequential as a
bare list), tf-keras and Keras 3 configs (`module`, `registered_name`, `batch_shape`,
DTypePolicy dicts), nested models at any depth.  Pure data: nothing is imported or run.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Iterator

from bot.analysis.keras.keras_classes import (
    BUILTIN_LAYERS,
    MODEL_CLASSES,
    strip_registered_prefix,
)

# Keras' own module prefixes in v3 configs; a class from elsewhere is the user's.
_KERAS_MODULES = ("keras", "tf_keras", "tensorflow", "keras_hub", "keras_nlp", "keras_cv")


@dataclass
class LayerSpec:
    name: str
    class_name: str  # as written ('MyPkg>Scale' in Keras 2 files)
    config: dict[str, Any]
    trainable: bool  # effective: False if it or any enclosing model is frozen
    path: str  # 'outer/inner/dense', for messages
    module: str | None = None
    registered_name: str | None = None
    children: list["LayerSpec"] = field(default_factory=list)

    @property
    def is_model(self) -> bool:
        return bool(self.children) or strip_registered_prefix(self.class_name) in MODEL_CLASSES

    @property
    def plain_class(self) -> str:
        return strip_registered_prefix(self.class_name)

    def walk(self) -> Iterator["LayerSpec"]:
        yield self
        for c in self.children:
            yield from c.walk()


@dataclass
class CustomObject:
    path: str
    class_name: str
    registered_name: str | None
    module: str | None
    kind: str = "layer"  # layer | model | loss | metric | optimizer | function


@dataclass
class ModelSpec:
    class_name: str
    name: str
    trainable: bool
    layers: list[LayerSpec]  # model.layers order (Sequential: without its InputLayer)
    config_layers: list[LayerSpec]  # as listed in the config (Sequential: with its InputLayer)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    lambdas: list[str] = field(default_factory=list)  # paths of Lambda layers / serialized lambdas
    custom_objects: list[CustomObject] = field(default_factory=list)
    dtype_policies: set[str] = field(default_factory=set)
    style: str = "k2"  # "k3" when the config carries Keras 3 markers
    module: str | None = None
    registered_name: str | None = None
    # The config as read, for the security walk (bot/analysis/security), which checks every node.
    source_config: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def is_model_subclass(self) -> bool:
        return strip_registered_prefix(self.class_name) not in MODEL_CLASSES

    def all_layers(self) -> Iterator[LayerSpec]:
        for layer in self.layers:
            yield from layer.walk()

    def find(self, name: str) -> LayerSpec | None:
        return next((l for l in self.layers if l.name == name), None)


def describe_model(model_config: dict[str, Any]) -> ModelSpec:
    """The layer tree and findings of a serialized model (root of config.json or H5 `model_config`)."""
    if not isinstance(model_config, dict) or "class_name" not in model_config:
        raise ValueError("model config has no class_name")
    cfg = model_config.get("config")
    class_name = str(model_config["class_name"])
    name = _config_name(cfg, default=class_name.lower())
    trainable = bool(cfg.get("trainable", True)) if isinstance(cfg, dict) else True
    spec = ModelSpec(
        class_name=class_name,
        name=name,
        trainable=trainable,
        layers=[],
        config_layers=[],
        module=model_config.get("module"),
        registered_name=model_config.get("registered_name"),
    )
    spec.style = "k3" if _looks_k3(model_config) else "k2"
    spec.config_layers = _layer_specs(cfg, trainable, prefix="")
    spec.layers = _model_layers(class_name, spec.config_layers)
    spec.inputs, spec.outputs = _inputs_outputs(class_name, cfg, spec.config_layers)
    _collect_findings(model_config, spec)
    spec.source_config = model_config
    return spec


def _config_name(cfg: Any, default: str) -> str:
    if isinstance(cfg, dict) and isinstance(cfg.get("name"), str):
        return cfg["name"]
    return default


def _raw_layers(cfg: Any) -> list[dict[str, Any]]:
    # Keras <= 2.1 wrote a Sequential's config as the bare list of its layers.
    if isinstance(cfg, list):
        return [l for l in cfg if isinstance(l, dict)]
    if isinstance(cfg, dict) and isinstance(cfg.get("layers"), list):
        return [l for l in cfg["layers"] if isinstance(l, dict)]
    return []


def _layer_specs(cfg: Any, parent_trainable: bool, prefix: str) -> list[LayerSpec]:
    specs = []
    for i, entry in enumerate(_raw_layers(cfg)):
        lcfg = entry.get("config") if isinstance(entry.get("config"), (dict, list)) else {}
        cls = str(entry.get("class_name", "?"))
        name = entry.get("name") or _config_name(lcfg, default=f"{cls.lower()}_{i}")
        own_trainable = lcfg.get("trainable", True) if isinstance(lcfg, dict) else True
        trainable = parent_trainable and own_trainable is not False
        path = f"{prefix}{name}"
        spec = LayerSpec(
            name=str(name),
            class_name=cls,
            config=lcfg if isinstance(lcfg, dict) else {"layers": lcfg},
            trainable=trainable,
            path=path,
            module=entry.get("module"),
            registered_name=entry.get("registered_name"),
        )
        if _raw_layers(lcfg):
            spec.children = _model_layers(cls, _layer_specs(lcfg, trainable, prefix=path + "/"))
        specs.append(spec)
    return specs


def _model_layers(class_name: str, config_layers: list[LayerSpec]) -> list[LayerSpec]:
    """model.layers: a Sequential does not list its InputLayer; a Functional does."""
    if strip_registered_prefix(class_name) == "Sequential":
        return [l for l in config_layers if l.plain_class != "InputLayer"]
    return config_layers


def _looks_k3(model_config: dict[str, Any]) -> bool:
    if "module" in model_config or "registered_name" in model_config:
        return True
    for l in _raw_layers(model_config.get("config")):
        c = l.get("config") or {}
        if "batch_shape" in c or isinstance(c.get("dtype"), dict) and c["dtype"].get("module"):
            return True
    return False


def _shape_of_input(layer: LayerSpec) -> list[Any] | None:
    c = layer.config
    for key in ("batch_shape", "batch_input_shape"):
        if isinstance(c.get(key), list):
            return c[key]
    if isinstance(c.get("input_shape"), list):  # Keras 1 / shorthand
        return [None, *c["input_shape"]]
    return None


def _dtype_name(dtype: Any) -> str | None:
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, dict):
        inner = dtype.get("config")
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
    return None


def _node_names(nodes: Any) -> list[str]:
    """input_layers / output_layers: [["inp", 0, 0], …] or, for one tensor, ["inp", 0, 0]."""
    if not isinstance(nodes, list) or not nodes:
        return []
    if isinstance(nodes[0], str):
        return [nodes[0]]
    return [n[0] for n in nodes if isinstance(n, list) and n and isinstance(n[0], str)]


def _inputs_outputs(class_name: str, cfg: Any, layers: list[LayerSpec]):
    by_name = {l.name: l for l in layers}
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    if isinstance(cfg, dict) and "input_layers" in cfg:
        for n in _node_names(cfg.get("input_layers")):
            l = by_name.get(n)
            inputs.append(_io_entry(n, l, _shape_of_input(l) if l else None))
        for n in _node_names(cfg.get("output_layers")):
            l = by_name.get(n)
            outputs.append(_io_entry(n, l, _output_shape(l)))
    elif layers:
        first = layers[0]
        shape = _shape_of_input(first)
        if shape is None and isinstance(cfg, dict):
            bc = (cfg.get("build_input_shape") or
                  ((cfg.get("build_config") or {}).get("input_shape") if isinstance(cfg.get("build_config"), dict) else None))
            shape = bc if isinstance(bc, list) else None
        inputs.append(_io_entry(first.name if first.plain_class == "InputLayer" else "input", first, shape))
        last = layers[-1]
        outputs.append(_io_entry(last.name, last, _output_shape(last)))
    return inputs, outputs


def _io_entry(name: str, layer: LayerSpec | None, shape: list[Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name}
    if shape is not None:
        entry["shape"] = shape
    if layer is not None:
        entry["layer"] = layer.plain_class
        dt = _dtype_name(layer.config.get("dtype"))
        if dt and layer.plain_class == "InputLayer":
            entry["dtype"] = dt
    return entry


def _output_shape(layer: LayerSpec | None) -> list[Any] | None:
    if layer is None:
        return None
    c = layer.config
    if layer.plain_class == "Dense" and isinstance(c.get("units"), int):
        return [None, c["units"]]
    return None


def _collect_findings(model_config: dict[str, Any], spec: ModelSpec) -> None:
    if spec.is_model_subclass and _is_custom(spec.class_name, spec.module, spec.registered_name):
        spec.custom_objects.append(
            CustomObject(spec.name, spec.class_name, spec.registered_name, spec.module, kind="model")
        )
    for layer in spec.all_layers():
        if layer.plain_class == "Lambda":
            spec.lambdas.append(layer.path)
        elif _is_custom(layer.class_name, layer.module, layer.registered_name):
            spec.custom_objects.append(
                CustomObject(layer.path, layer.class_name, layer.registered_name, layer.module,
                             kind="model" if layer.is_model else "layer")
            )
        policy = _dtype_name(layer.config.get("dtype"))
        if policy:
            spec.dtype_policies.add(policy)
    for path in _serialized_lambdas(model_config, "model"):
        if not any(path.startswith(p) for p in spec.lambdas):
            spec.lambdas.append(path)


HUB_PREFIXES = ("keras_hub", "keras_nlp")


def is_hub_class(module: str | None, registered_name: str | None) -> bool:
    """A KerasHub (or older KerasNLP) class: `import keras_hub` registers it, no user code needed."""
    return bool((module and module.startswith(HUB_PREFIXES)) or
                (registered_name and registered_name.startswith(tuple(p + ">" for p in HUB_PREFIXES))))


def _is_custom(class_name: str, module: str | None, registered_name: str | None) -> bool:
    plain = strip_registered_prefix(class_name)
    if is_hub_class(module, registered_name):
        return False
    if ">" in class_name or (registered_name and ">" in registered_name):
        # 'Custom>Adam' is how tf-keras names its own new optimizers; not a user class.
        return not (class_name.startswith("Custom>") and plain in BUILTIN_LAYERS)
    if module is not None and not module.startswith(_KERAS_MODULES):
        return True
    return plain not in BUILTIN_LAYERS


def _serialized_lambdas(node: Any, path: str) -> Iterator[str]:
    """Python lambdas serialized as data anywhere in a config (`__lambda__` in Keras 3)."""
    if isinstance(node, dict):
        if node.get("class_name") == "__lambda__":
            yield path
            return
        for k, v in node.items():
            yield from _serialized_lambdas(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _serialized_lambdas(v, f"{path}/{i}")


def lambda_code_summary(layer: LayerSpec) -> str | None:
    """What a Lambda would run, described without running it: 'Python bytecode, 312 bytes'."""
    fn = layer.config.get("function")
    if isinstance(fn, dict) and fn.get("class_name") == "__lambda__":
        code = (fn.get("config") or {}).get("code")
    elif isinstance(fn, list) and fn:
        code = fn[0]
    else:
        return None if fn is None else f"function {fn!r}" if isinstance(fn, str) else None
    try:
        # A missing or non-text `code` raises TypeError, caught below.
        return f"marshalled Python bytecode, {len(base64.b64decode(code, validate=False))} bytes"  # type: ignore[arg-type]
    except (binascii.Error, TypeError, ValueError):  # we only describe, never decode for use
        return "marshalled Python bytecode"
