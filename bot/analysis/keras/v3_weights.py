"""The Keras v3 weights layout (`model.weights.h5` in a `.keras`, `*.weights.h5`, shards).

Facts: keras-formats.md §3.3–§4.3.  Variables are unnamed datasets `vars/0..N` under groups
named after snake-cased classes (`layers/dense_1`), not after layers; Keras >= 3.6 adds the
real name as `vars/@name`.  Keras 2.13/2.14 used `_layer_checkpoint_dependencies/` instead of
`layers/`, with gaps in the counters.  We flatten each file (or every shard) into a
`V3Tree` of paths, then map groups onto the config's layers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import h5py

from bot.analysis.io import h5safe
from bot.analysis.keras import layer_variables
from bot.analysis.keras.assemble import WeightRecord
from bot.analysis.keras.config_walk import LayerSpec
from bot.analysis.keras.keras_classes import (
    BUILTIN_LAYERS,
    strip_registered_prefix,
    to_snake_case,
    v3_state_indices,
)

LAYER_CONTAINERS = ("layers", "_layer_checkpoint_dependencies")
_NOT_LAYERS = {"optimizer", "metrics", "vars"}

# What Keras calls a class's variables, in save order, when the count matches.
_VAR_NAMES: dict[str, tuple[str, ...]] = {
    "Dense": ("kernel", "bias"),
    "EinsumDense": ("kernel", "bias"),
    "Conv1D": ("kernel", "bias"),
    "Conv2D": ("kernel", "bias"),
    "Conv3D": ("kernel", "bias"),
    "Conv2DTranspose": ("kernel", "bias"),
    "DepthwiseConv2D": ("kernel", "bias"),
    "SeparableConv2D": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "Embedding": ("embeddings",),
    "LayerNormalization": ("gamma", "beta"),
    "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
    "LSTMCell": ("kernel", "recurrent_kernel", "bias"),
    "GRUCell": ("kernel", "recurrent_kernel", "bias"),
    "SimpleRNNCell": ("kernel", "recurrent_kernel", "bias"),
    "PReLU": ("alpha",),
}
_CELL_OF = {"LSTM": "LSTMCell", "GRU": "GRUCell", "SimpleRNN": "SimpleRNNCell"}


@dataclass
class V3Var:
    shape: list[int]
    dtype: str
    nbytes: int
    value: float | int | None = None  # only for small scalars (optimizer iteration, learning rate)


@dataclass
class V3Tree:
    vars: dict[str, V3Var] = field(default_factory=dict)  # 'layers/dense/vars/0' → meta
    groups: set[str] = field(default_factory=set)  # every group path, empty ones too
    names: dict[str, str] = field(default_factory=dict)  # 'layers/dense' → @name of its vars
    # Set by the reader before read_tree: the writer's Keras version (int4 packing changed in 3.14) and a
    # model-level DTypePolicyMap ({layer path: quantization mode}).
    writer_version: str | None = None
    policy_map: dict[str, str] = field(default_factory=dict)

    def children(self, path: str) -> list[str]:
        prefix = f"{path}/" if path else ""
        out = {g[len(prefix):].split("/", 1)[0] for g in self.groups if g.startswith(prefix) and g != path}
        out |= {v[len(prefix):].split("/", 1)[0] for v in self.vars if v.startswith(prefix)}
        return sorted(out, key=_counter_key)

    def own_vars(self, path: str) -> list[tuple[str, V3Var]]:
        prefix = f"{path}/vars/" if path else "vars/"
        items = [(k, v) for k, v in self.vars.items() if k.startswith(prefix) and "/" not in k[len(prefix):]]
        return sorted(items, key=lambda kv: int(kv[0].rsplit("/", 1)[1]) if kv[0].rsplit("/", 1)[1].isdigit() else 0)

    def vars_under(self, path: str) -> list[tuple[str, V3Var]]:
        return [(k, v) for k, v in self.vars.items() if k.startswith(path + "/")]

    @property
    def layer_container(self) -> str | None:
        return next((c for c in LAYER_CONTAINERS if c in self.groups), None)


def flatten(f: h5py.File, tree: V3Tree | None = None) -> V3Tree:
    """Adds one v3 weights file (or shard) to a tree: metadata only, plus the optimizer's scalars."""
    tree = tree or V3Tree()
    stack: list[tuple[str, h5py.Group]] = [("", f)]
    seen = 0
    while stack:
        prefix, group = stack.pop()
        if prefix:
            tree.groups.add(prefix.rstrip("/"))
        for key in list(group.keys()):
            seen += 1
            if seen > h5safe.MAX_OBJECTS:
                from bot.errors import AnalysisError, ErrorCode
                raise AnalysisError(ErrorCode.LIMIT, f"More than {h5safe.MAX_OBJECTS:,} HDF5 objects; no Keras "
                                    "model needs that many.")
            obj = h5safe.child(group, key)
            path = f"{prefix}{key}"
            if isinstance(obj, h5py.Dataset):
                shape, dtype, nbytes = h5safe.dataset_meta(obj)
                value = h5safe.read_scalar(obj) if path.startswith("optimizer/vars/") and not shape else None
                tree.vars[path] = V3Var(shape, dtype, nbytes, value)
            elif isinstance(obj, h5py.Group):
                if key == "vars" and prefix:
                    name = h5safe.attr_str(obj, "name")
                    if name:
                        tree.names[prefix.rstrip("/")] = name
                elif key == "vars" and not prefix:
                    name = h5safe.attr_str(obj, "name")
                    if name:
                        tree.names[""] = name
                stack.append((path + "/", obj))
    return tree


def looks_like_v3_weights(f: h5py.File) -> bool:
    keys = set(f.keys())
    return bool(keys) and keys <= {"layers", "vars", "optimizer", "metrics", *LAYER_CONTAINERS} | _extra_ok(keys)


def _extra_ok(keys: set[str]) -> set[str]:
    # Subclassed models save attributes under their own names (`dense1/vars`); accept any group that
    # holds a `vars` child only when the file also has the usual v3 markers.
    return keys if keys & {"layers", "vars", "optimizer", *LAYER_CONTAINERS} else set()


@dataclass
class V3Result:
    order: list[tuple[str, str, bool | None]]  # (layer name, class, trainable) in model order
    records: list[WeightRecord]
    optimizer_records: list[WeightRecord]
    iterations: int | None
    learning_rate: float | None
    matched_by: str  # "name" | "class-order" | "none"
    container: str | None
    paths: dict[str, str] = field(default_factory=dict)  # layer name → its group ("layers/dense_1")


def read_tree(tree: V3Tree, layers: list[LayerSpec] | None, model_trainable: bool = True) -> V3Result:
    container = tree.layer_container
    order: list[tuple[str, str, bool | None]] = []
    records: list[WeightRecord] = []
    matched_by = "none"
    paths: dict[str, str] = {}
    if container:
        pairs, matched_by = match_groups(tree, container, layers)
        for key, layer in pairs:
            gpath = f"{container}/{key}"
            name = layer.name if layer else tree.names.get(gpath, key)
            cls = strip_registered_prefix(layer.class_name) if layer else guess_class(key)
            trainable = (layer.trainable if layer else model_trainable) and model_trainable
            order.append((name, cls, trainable if layer else None))
            paths.setdefault(name, gpath)
            records += _records_for(tree, gpath, layer, name, cls, trainable)
    for key in tree.children(""):
        if key in _NOT_LAYERS or key in LAYER_CONTAINERS:
            continue
        # Attributes of subclassed models (`dense1/vars`) and other top-level saveables.
        name = tree.names.get(key, key)
        cls = guess_class(key)
        order.append((name, cls, None))
        paths.setdefault(name, key)
        records += _records_for(tree, key, None, name, cls, model_trainable)
    for path, var in tree.own_vars(""):  # the model's own variables
        records.append(WeightRecord(tree.names.get("", "model"), path, var.shape, var.dtype, var.nbytes,
                                    model_trainable))
    opt = tree.own_vars("optimizer")
    opt_records = [WeightRecord("optimizer", p, v.shape, v.dtype, v.nbytes, None) for p, v in opt]
    iterations, lr = optimizer_counters([v for _, v in opt])
    return V3Result(order, records, opt_records, iterations, lr, matched_by, container, paths)


def optimizer_counters(opt: list[V3Var]) -> tuple[int | None, float | None]:
    """(steps trained, learning rate) from a v3 `optimizer/vars` list.

    Keras 3 saves `iteration`, `learning_rate`, then slots.  A LossScaleOptimizer saves its own
    iteration, learning rate, step_counter and dynamic_scale (all scalars) before the inner
    optimizer's iteration and learning rate; `optimizer.iterations` is the inner count.
    """
    start = 0
    if len(opt) >= 5 and all(not v.shape for v in opt[:5]) and isinstance(opt[4].value, int) \
            and isinstance(opt[2].value, int):
        start = 4
    it = opt[start].value if len(opt) > start else None
    lr = opt[start + 1].value if len(opt) > start + 1 else None
    return (it if isinstance(it, int) else None), (lr if isinstance(lr, float) else None)


def match_groups(tree: V3Tree, container: str, layers: list[LayerSpec] | None
                 ) -> tuple[list[tuple[str, LayerSpec | None]], str]:
    keys = tree.children(container)
    if not layers:
        return [(k, None) for k in keys], "none"
    by_name = {l.name: l for l in layers}
    named = {k: tree.names.get(f"{container}/{k}") for k in keys}
    if keys and all(n in by_name for n in named.values()):
        # all() above: every name is a layer's, so none is None.
        return [(k, by_name[named[k]]) for k in keys_in_layer_order(keys, named, layers)], "name"  # type: ignore[index]
    # Keras < 3.6: re-derive the snake-case names; pair per class in order, which also survives the
    # counter gaps of Keras 2.13 (keras-formats.md §3.3).
    remaining: dict[str, list[str]] = {}
    for k in keys:
        remaining.setdefault(_base(k), []).append(k)
    pairs: list[tuple[str, LayerSpec | None]] = []
    for layer in layers:
        base = to_snake_case(strip_registered_prefix(layer.class_name))
        bucket = remaining.get(base)
        if bucket:
            pairs.append((bucket.pop(0), layer))
    for bucket in remaining.values():
        pairs += [(k, None) for k in bucket]
    return pairs, "class-order"


def keys_in_layer_order(keys: list[str], named: dict[str, str | None], layers: list[LayerSpec]) -> list[str]:
    rank = {l.name: i for i, l in enumerate(layers)}
    return sorted(keys, key=lambda k: rank.get(named[k] or "", len(rank)))


def _records_for(tree: V3Tree, gpath: str, layer: LayerSpec | None, top: str, cls: str,
                 trainable: bool) -> list[WeightRecord]:
    own = tree.own_vars(gpath)
    config = layer.config if layer else {}
    prefix = layer.path if layer else top
    out = layer_variables.own_records(tree, own, layer, top, cls, trainable, prefix)
    if out is None:
        out = []
        state = v3_state_indices(cls, config, len(own))
        names = _var_names(cls, config, len(own))
        for i, (path, var) in enumerate(own):
            out.append(WeightRecord(top, f"{prefix}/{names[i]}", var.shape, var.dtype, var.nbytes,
                                    trainable and i not in state))
    for key in tree.children(gpath):
        sub = f"{gpath}/{key}"
        if key == "vars":
            continue
        if key in LAYER_CONTAINERS and layer is not None and layer.children:
            pairs, _ = match_groups(tree, sub, layer.children)
            for ck, child in pairs:
                ccls = strip_registered_prefix(child.class_name) if child else guess_class(ck)
                ctrain = trainable and (child.trainable if child else True)
                out += _records_for(tree, f"{sub}/{ck}", child, top, ccls, ctrain)
        elif key in LAYER_CONTAINERS:
            for ck in tree.children(sub):
                out += _records_for(tree, f"{sub}/{ck}", None, top, guess_class(ck), trainable)
        else:
            # Sub-objects of a layer (an RNN's `cell`, Bidirectional's `forward_layer`): same trainability.
            sub_cls = _CELL_OF.get(cls, guess_class(key))
            out += _records_for(tree, sub, None, top, sub_cls, trainable)
    return out


def _var_names(cls: str, config: dict, n: int) -> list[str]:
    names = _VAR_NAMES.get(cls)
    if cls in {"BatchNormalization", "SyncBatchNormalization"} and n in (2, 3):
        kept = [x for x, on in (("gamma", config.get("scale", True)), ("beta", config.get("center", True))) if on]
        names = (*kept, "moving_mean", "moving_variance")
    if cls in {"Dense", "Conv1D", "Conv2D", "Conv3D", "EinsumDense"} and n == 1:
        names = ("kernel",)
    if names and len(names) == n:
        return list(names)
    return [f"vars/{i}" for i in range(n)]


_COUNTER = re.compile(r"^(.*?)(?:_(\d+))?$")


def _base(key: str) -> str:
    m = _COUNTER.match(key)
    return m.group(1) if m else key


def _counter_key(key: str) -> tuple[str, int]:
    m = _COUNTER.match(key)
    return (m.group(1), int(m.group(2)) if m and m.group(2) else -1) if m else (key, -1)


_SNAKE_TO_CLASS = {to_snake_case(n): n for n in BUILTIN_LAYERS}


def guess_class(group_key: str) -> str:
    """'batch_normalization_2' → 'BatchNormalization' (v3 group names are snake-cased class names)."""
    return _SNAKE_TO_CLASS.get(group_key) or _SNAKE_TO_CLASS.get(_base(group_key)) or "unknown"
