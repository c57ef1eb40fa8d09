"""A model config → the architecture graph: one node per layer, one edge per connection.

Pure data (no drawing: bot/render/graph_svg.py draws it).  Connections come from each
layer's `inbound_nodes`, in every form Keras wrote them:

* Keras 1/2 and tf-keras: a list of call nodes, each a list of `[layer_name, node_index,
  tensor_index, kwargs]` (Keras 1: no kwargs); tensors passed as keyword arguments
  (MultiHeadAttention's `value=`) appear in kwargs as `[name, node_index, tensor_index]`
  (tf_keras/src/engine/functional.py, `process_node` / `_deserialize_keras_tensors`).
* Keras 3: a list of `{"args": [...], "kwargs": {...}}`, where every tensor, at any depth,
  is `{"class_name": "__keras_tensor__", "config": {"shape", "dtype", "keras_history":
  [layer_name, node_index, tensor_index]}}` (keras/src/models/functional.py,
  `deserialize_node`).  Those carry the producing layer's output shape, which is used.
* Sequential (and Keras <= 2.1's bare-list Sequential): a chain in layer order; its
  InputLayer is not one of `model.layers`, so it is not a node either.

Nested models become group nodes whose own layers carry `parent`; a shared layer is one
node with an edge per distinct caller.  Weights-only files get an "order-only" graph from
the stored layer layout: nodes, no edges (the file records no connections).
"""

from __future__ import annotations

from typing import Any, Iterator

from bot.analysis.keras.keras_classes import MODEL_CLASSES, strip_registered_prefix
from bot.analysis.keras.shapes import infer_output_shape
from bot.report import Graph, GraphEdge, GraphNode, LayerInfo, WeightInfo


def graph_from_config(model_config: Any, layers: list[LayerInfo]) -> Graph | None:
    """The graph of a serialized model; None when the config has no layer list (a subclass)."""
    if not isinstance(model_config, dict):
        return None
    cls = strip_registered_prefix(str(model_config.get("class_name", "")))
    entries = _entries(model_config.get("config"))
    if not entries:
        return None
    g = Graph(kind="sequential" if cls == "Sequential" else "functional")
    params = {l.name: l.params for l in layers}
    by_layer = {l.name: l.weights for l in layers}
    _add_model(g, cls, entries, None, "", params, by_layer, [])
    return g


def order_only_graph(layers: list[LayerInfo]) -> Graph | None:
    """Weights-only files: the layers in stored order, honestly without connections."""
    if not layers:
        return None
    return Graph(kind="order-only", nodes=[GraphNode(id=l.name, name=l.name, class_name=l.class_name,
                                                     params=l.params) for l in layers])


def _entries(cfg: Any) -> list[dict[str, Any]]:
    raw = cfg if isinstance(cfg, list) else cfg.get("layers") if isinstance(cfg, dict) else None
    return [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []


def _config(entry: dict[str, Any]) -> dict[str, Any]:
    cfg = entry.get("config")
    return cfg if isinstance(cfg, dict) else {}


def _name(entry: dict[str, Any], i: int) -> str:
    cfg = _config(entry)
    name = entry.get("name") or cfg.get("name")
    return str(name) if name else f"{str(entry.get('class_name', 'layer')).lower()}_{i}"


def _add_model(g: Graph, cls: str, entries: list[dict[str, Any]], parent: str | None, prefix: str,
               params: dict[str, int], by_layer: dict[str, list[WeightInfo]], weights: list[WeightInfo]) -> None:
    sequential = cls == "Sequential"
    produced = _produced_shapes(entries)
    names = [_name(e, i) for i, e in enumerate(entries)]
    shape_of: dict[str, list[Any] | None] = {}
    seq_input: list[Any] | None = None
    kept: list[str] = []
    first_node = len(g.nodes)
    for entry, name in zip(entries, names):
        lcls = strip_registered_prefix(str(entry.get("class_name", "?")))
        lcfg = _config(entry)
        if sequential and lcls == "InputLayer":  # not in model.layers, so not a node
            seq_input = infer_output_shape(lcls, lcfg, [])
            continue
        node_id = prefix + name
        if sequential:
            srcs = kept[-1:]
            ins = [shape_of.get(s) for s in srcs] if srcs else [seq_input or _build_shape(entry)]
        else:
            nodes = entry.get("inbound_nodes")
            srcs = list(dict.fromkeys(_inbound_layers(nodes)))
            # Shapes from the first call only, one per tensor (Concatenate([x, x]) takes x twice).
            first_call = list(_inbound_layers(nodes[:1])) if isinstance(nodes, list) else []
            ins = [shape_of.get(s) for s in first_call] if first_call else [_build_shape(entry)]
        shape = produced.get(name) or infer_output_shape(lcls, lcfg, ins)
        shape_of[name] = shape
        nested = _entries(lcfg) if (lcls in MODEL_CLASSES or "layers" in lcfg) else []
        g.nodes.append(GraphNode(id=node_id, name=name, class_name=lcls, parent=parent, output_shape=shape,
                                 params=params.get(name) if parent is None else None, is_group=bool(nested)))
        g.edges.extend(GraphEdge(source=prefix + s, target=node_id) for s in srcs if s in names)
        kept.append(name)
        if nested:
            # The top-level LayerInfo of a nested model holds all its weights; deeper groups share them.
            group_weights = weights if parent is not None else by_layer.get(name, [])
            _add_model(g, lcls, nested, node_id, node_id + "/", params, by_layer, group_weights)
            if shape is None:  # a nested model's output is its output layer's
                g.nodes[-1 - _count_under(g, node_id)].output_shape = shape_of[name] = _group_output(g, node_id, lcfg)
    if parent is not None:
        _inner_params(g.nodes[first_node:], parent, weights)


def _inner_params(nodes: list[GraphNode], parent: str, weights: list[WeightInfo]) -> None:
    """A nested model's layers: their weights are the group's, named "<group>/.../<layer>/<var>"."""
    mine = [n for n in nodes if n.parent == parent]
    claimed: set[int] = set()
    for n in mine:
        hits = [i for i, w in enumerate(weights) if n.name in w.name.split("/")[:-1]]
        claimed.update(hits)
        n.params = sum(_size(weights[i].shape) for i in hits) if hits else None
    for n in mine:  # every weight has its layer: the rest hold none (InputLayer, Dropout…)
        if n.params is None and len(claimed) == len(weights):
            n.params = 0


def _count_under(g: Graph, group: str) -> int:
    return sum(1 for n in g.nodes if n.id.startswith(group + "/"))


def _group_output(g: Graph, group: str, cfg: dict[str, Any]) -> list[Any] | None:
    children = [n for n in g.nodes if n.parent == group]
    outs = cfg.get("output_layers")
    if isinstance(outs, list) and outs:  # [[name, 0, 0]] or, for one tensor, [name, 0, 0]
        names = [outs[0]] if isinstance(outs[0], str) else [o[0] for o in outs if isinstance(o, list) and o]
        if len(names) != 1:
            return None
        return next((n.output_shape for n in children if n.name == names[0]), None)
    return children[-1].output_shape if children else None


def _size(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _build_shape(entry: dict[str, Any]) -> list[Any] | None:
    bc = entry.get("build_config")
    shape = bc.get("input_shape") if isinstance(bc, dict) else None
    return shape if isinstance(shape, list) and all(not isinstance(d, list) for d in shape) else None


def _inbound_layers(nodes: Any) -> Iterator[str]:
    """Names of the layers feeding a layer, across all its call nodes (shared layers: several)."""
    if not isinstance(nodes, list):
        return
    for node in nodes:
        if isinstance(node, dict):  # Keras 3
            yield from _k3_history(node)
        elif isinstance(node, list):  # Keras 1/2: [[name, node_idx, tensor_idx, kwargs?], ...]
            for ref in node:
                yield from _k2_refs(ref)


def _k3_history(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            hist = (obj.get("config") or {}).get("keras_history") if isinstance(obj.get("config"), dict) else None
            if isinstance(hist, list) and hist and isinstance(hist[0], str):
                yield hist[0]
            return
        for v in obj.values():
            yield from _k3_history(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _k3_history(v)


def _k2_refs(obj: Any) -> Iterator[str]:
    if isinstance(obj, list) and len(obj) >= 3 and isinstance(obj[0], str) and isinstance(obj[1], int):
        yield obj[0]
        if len(obj) > 3 and isinstance(obj[3], dict):
            for v in obj[3].values():
                yield from _k2_refs(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _k2_refs(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _k2_refs(v)


def _produced_shapes(entries: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Keras 3 records the shape of every tensor a layer consumes: its producer's output shape."""
    out: dict[str, list[Any]] = {}

    def visit(obj: Any) -> None:
        if isinstance(obj, dict):
            if obj.get("class_name") == "__keras_tensor__" and isinstance(obj.get("config"), dict):
                c = obj["config"]
                hist, shape = c.get("keras_history"), c.get("shape")
                if (isinstance(hist, list) and len(hist) >= 3 and isinstance(hist[0], str)
                        and hist[2] == 0 and isinstance(shape, list)):
                    out.setdefault(hist[0], shape)
                return
            for v in obj.values():
                visit(v)
        elif isinstance(obj, list):
            for v in obj:
                visit(v)

    for e in entries:
        visit(e.get("inbound_nodes"))
    return out
