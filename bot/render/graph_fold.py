"""Large graphs stay readable: a block of layers repeated N times is drawn once, "× N".

Pure data (Graph in, FoldedGraph out).  A repeat is a run of top-level layers whose
(class, parameters, output shape) sequence recurs back to back at least MIN_REPEATS times,
like the 48 identical blocks of a transformer.  The first instance stands for all of them;
edges from later instances are redirected to it, and edges that only chained one instance
to the next are dropped (they would read as a loop).  Small graphs are never folded, so
there every layer is its own node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.report import Graph, GraphEdge, GraphNode

FOLD_ABOVE = 120  # top-level layers; below this the full graph is readable
MIN_REPEATS = 3
MAX_PERIOD = 40  # layers per repeated block


@dataclass
class Fold:
    node_ids: list[str]  # the first instance's top-level nodes, which stand for every instance
    count: int
    first: str  # first layer name of the first and of the last instance, for the label
    last: str


@dataclass
class FoldedGraph:
    kind: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    folds: list[Fold] = field(default_factory=list)
    hidden_layers: int = 0  # layers not drawn because an earlier instance stands for them


def fold(graph: Graph, above: int = FOLD_ABOVE) -> FoldedGraph:
    top = [n for n in graph.nodes if n.parent is None]
    if len(top) <= above or graph.kind == "order-only":
        return FoldedGraph(graph.kind, list(graph.nodes), list(graph.edges))
    sig = [(n.class_name, n.params, tuple(n.output_shape or ())) for n in top]
    alias: dict[str, str] = {}  # hidden top-level node id -> the node that stands for it
    instance: dict[str, tuple[int, int]] = {}  # node id -> (fold index, instance index)
    folds: list[Fold] = []
    i = 0
    while i < len(top):
        period, count = _best_run(sig, i)
        if count < MIN_REPEATS:
            i += 1
            continue
        fi = len(folds)
        folds.append(Fold([n.id for n in top[i:i + period]], count, top[i].name, top[i + (count - 1) * period].name))
        for k in range(count):
            for j in range(period):
                node = top[i + k * period + j]
                instance[node.id] = (fi, k)
                if k:
                    alias[node.id] = top[i + j].id
        i += period * count
    hidden = set(alias)
    nodes = [n for n in graph.nodes if n.id not in hidden and not _under(n, hidden, graph)]
    edges: list[GraphEdge] = []
    seen: set[tuple[str, str]] = set()
    for e in graph.edges:
        if _top_of(e.source) in hidden and e.source not in alias or _top_of(e.target) in hidden and e.target not in alias:
            continue  # inside a hidden nested model
        src, dst = alias.get(e.source, e.source), alias.get(e.target, e.target)
        a, b = instance.get(e.source), instance.get(e.target)
        if src == dst or (a and b and a[0] == b[0] and a[1] != b[1]):
            continue
        if (src, dst) not in seen:
            seen.add((src, dst))
            edges.append(GraphEdge(src, dst))
    return FoldedGraph(graph.kind, nodes, edges, folds, hidden_layers=len(hidden))


def _top_of(node_id: str) -> str:
    return node_id.split("/", 1)[0]


def _under(n: GraphNode, hidden: set[str], graph: Graph) -> bool:
    return n.parent is not None and _top_of(n.id) in hidden


def _best_run(sig: list[tuple], i: int) -> tuple[int, int]:
    """The period and repeat count of the back-to-back repetition starting at i that covers most layers."""
    best = (1, 1)
    for p in range(1, min(MAX_PERIOD, (len(sig) - i) // MIN_REPEATS) + 1):
        block = sig[i:i + p]
        k = 1
        while sig[i + k * p:i + (k + 1) * p] == block:
            k += 1
        if k >= MIN_REPEATS and p * k > best[0] * best[1]:
            best = (p, k)
    return best
