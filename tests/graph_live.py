"""What live Keras says a model's graph is: its layers and who feeds whom, as JSON.

    python tests/graph_live.py --stack k3|tfk --make-shared OUT_DIR  FILE...  > live.json

Loads each FILE with real Keras (Keras 3 or tf_keras) and prints, per file and per nested
model, `model.layers` names and the (inbound layer, layer) pairs of every call node that
belongs to that model — the figures the report page's graph is compared with.
`--make-shared` first saves a two-input, two-output model with a shared layer (`.keras` and
`.h5` in Keras 3; `.h5` in tf_keras) into OUT_DIR and describes those too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _keras(stack: str):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if stack == "tfk":
        import tf_keras as K
    else:
        import keras as K
    return K


def build_shared(K):
    a = K.Input((4,), name="left")
    b = K.Input((4,), name="right")
    shared = K.layers.Dense(3, name="shared")  # called twice: one layer, two call nodes
    la, lb = shared(a), shared(b)
    both = K.layers.Concatenate(name="join")([la, lb])
    diff = K.layers.Subtract(name="delta")([la, lb])
    out1 = K.layers.Dense(2, name="score")(both)
    out2 = K.layers.Dense(1, name="gap")(diff)
    return K.Model([a, b], [out1, out2], name="siamese")


def _inbound_layers(node) -> list:
    if not hasattr(node, "inbound_layers"):  # Keras 3 (keras/src/ops/node.py)
        return [p.operation for p in node.parent_nodes]
    layers = node.inbound_layers  # tf_keras: one layer or a list
    return list(layers) if isinstance(layers, (list, tuple)) else [layers]


def describe(model) -> dict:
    names = [l.name for l in model.layers]
    # The call nodes of this model's graph: Keras 3 keys them "<id(op)>_ib-<i>"
    # (keras/src/ops/function.py, make_node_key), tf_keras "<name>_ib-<i>" (_network_nodes).
    own_nodes = getattr(model, "_nodes", None)
    network_nodes = getattr(model, "_network_nodes", None)
    edges = set()
    for layer in model.layers:
        for i, node in enumerate(layer._inbound_nodes):
            if own_nodes is not None and f"{id(layer)}_ib-{i}" not in own_nodes:
                continue
            if network_nodes is not None and f"{layer.name}_ib-{i}" not in network_nodes:
                continue
            for src in _inbound_layers(node):
                if src.name in names:
                    edges.add((src.name, layer.name))
    groups = {l.name: describe(l) for l in model.layers if hasattr(l, "layers") and l.layers}
    return {"layers": names, "edges": sorted(edges), "groups": groups}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stack", choices=["k3", "tfk"], required=True)
    ap.add_argument("--make-shared", metavar="OUT_DIR")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    K = _keras(args.stack)
    files = list(args.files)
    if args.make_shared:
        m = build_shared(K)
        for ext in ((".keras", ".h5") if args.stack == "k3" else (".h5",)):
            path = os.path.join(args.make_shared, f"{args.stack}__shared{ext}")
            m.save(path)
            files.append(path)
    out = {}
    for path in files:
        model = K.models.load_model(path, compile=False)
        out[path] = describe(model)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
