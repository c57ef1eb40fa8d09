"""The architecture graph drawn by Graphviz (`dot`), as keras.utils.plot_model draws it.

Layout is Graphviz's; this module only says what each box holds.  Every layer node's SVG
group carries `data-layer="<layer name>"` (and `data-parent` inside a nested model), every
edge `data-from`/`data-to`, every nested model's cluster `data-group`: the report page
searches, highlights and collapses by them.  Layer names come from the file, so they only
ever reach Graphviz inside entity-escaped HTML-like labels and reach the SVG as XML
attributes set through ElementTree, never as markup.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from bot.messages import human_int
from bot.render.graph_fold import FoldedGraph, fold
from bot.report import Graph, GraphNode

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")

_FILL = {"InputLayer": "#e8f1fb", "group": "#f6f6f6"}


class GraphvizMissing(RuntimeError):
    """The `dot` program (Debian package graphviz) is not installed."""


@dataclass
class Drawing:
    svg: str  # standalone SVG document text (no XML declaration, ready to inline in HTML)
    folded: FoldedGraph


def _shape(n: GraphNode) -> str:
    if not n.output_shape:
        return "shape ?"
    return "(" + ", ".join("None" if d is None else str(d) for d in n.output_shape) + ")"


def _label(n: GraphNode, repeat: int | None = None) -> str:
    e = html.escape
    params = "" if n.params is None else f"{human_int(n.params)} params"
    rows = [f'<TR><TD><B>{e(n.name)}</B></TD></TR>',
            f'<TR><TD><FONT POINT-SIZE="9">{e(n.class_name)} · {e(_shape(n))}'
            + (f" · {e(params)}" if params else "") + "</FONT></TD></TR>"]
    if repeat:
        rows.append(f'<TR><TD><FONT POINT-SIZE="9" COLOR="#b00000">× {repeat}</FONT></TD></TR>')
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"


def to_dot(graph: Graph, fold_above: int | None = None):  # -> graphviz.Digraph
    import graphviz  # type: ignore[import-untyped]  # no py.typed; Graphviz `dot` does the layout

    folded = fold(graph) if fold_above is None else fold(graph, fold_above)
    ids = {n.id: f"n{i}" for i, n in enumerate(folded.nodes)}
    dot = graphviz.Digraph("model", graph_attr={"rankdir": "TB", "compound": "true", "nodesep": "0.25",
                                                 "ranksep": "0.3", "fontname": "DejaVu Sans", "fontsize": "10"},
                           node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff",
                                      "fontname": "DejaVu Sans", "fontsize": "10", "margin": "0.08,0.03"},
                           edge_attr={"arrowsize": "0.6", "color": "#555555"})
    repeat_of = {nid: f.count for f in folded.folds for nid in f.node_ids}
    children: dict[str | None, list[GraphNode]] = {}
    for n in folded.nodes:
        children.setdefault(n.parent, []).append(n)

    def add(container, parent: str | None, depth: int) -> None:
        for n in children.get(parent, []):
            if n.is_group:
                with container.subgraph(name=f"cluster_{ids[n.id]}") as sub:
                    sub.attr(id=f"c{ids[n.id]}", label=_label(n, repeat_of.get(n.id)), style="rounded,filled",
                             fillcolor=_FILL["group"], color="#999999")
                    if not children.get(n.id):  # an empty nested model still needs a box to point at
                        sub.node(ids[n.id], id=ids[n.id], label="(no layers)", shape="plaintext")
                    else:
                        add(sub, n.id, depth + 1)
            else:
                container.node(ids[n.id], id=ids[n.id], label=_label(n, repeat_of.get(n.id)),
                               fillcolor=_FILL.get(n.class_name, "#ffffff"))

    add(dot, None, 0)
    for i, e in enumerate(folded.edges):
        src, dst, attrs = _endpoint(folded, ids, e.source, "ltail"), _endpoint(folded, ids, e.target, "lhead"), {}
        for (node, key) in (src, dst):
            if key:
                attrs.update(key)
        dot.edge(src[0], dst[0], id=f"e{i}", **attrs)
    if folded.kind == "order-only":  # stored order, no connections: invisible edges keep the column
        tops = [ids[n.id] for n in folded.nodes if n.parent is None]
        for a, b in zip(tops, tops[1:]):
            dot.edge(a, b, style="invis")
    return dot, folded, ids


def _endpoint(folded: FoldedGraph, ids: dict[str, str], node_id: str, side: str):
    """An edge to a nested model points at its cluster: Graphviz needs a real node inside it."""
    node = next((n for n in folded.nodes if n.id == node_id), None)
    if node is None or not node.is_group:
        return ids[node_id], None
    inside = [n for n in folded.nodes if n.parent == node_id and not n.is_group]
    target = (inside[-1] if side == "ltail" else inside[0]) if inside else node
    return ids[target.id], {side: f"cluster_{ids[node_id]}"}


def render_svg(graph: Graph, fold_above: int | None = None) -> Drawing:
    dot, folded, ids = to_dot(graph, fold_above)
    try:
        raw = dot.pipe(format="svg")
    except Exception as exc:  # graphviz.ExecutableNotFound; keep the import lazy
        if type(exc).__name__ == "ExecutableNotFound":
            raise GraphvizMissing("Graphviz `dot` is not installed (apt-get install graphviz)") from exc
        raise
    return Drawing(_annotate(raw, folded, ids), folded)


def render_png(graph: Graph, fold_above: int | None = None) -> bytes:
    dot, _, _ = to_dot(graph, fold_above)
    return dot.pipe(format="png")


def _annotate(raw: bytes, folded: FoldedGraph, ids: dict[str, str]) -> str:
    root = ET.fromstring(raw)
    by_id = {v: k for k, v in ids.items()}
    nodes = {n.id: n for n in folded.nodes}
    repeat_of = {nid: f.count for f in folded.folds for nid in f.node_ids}
    for g in root.iter(f"{{{SVG_NS}}}g"):
        gid, cls = g.get("id", ""), g.get("class", "")
        if cls == "node" and gid in by_id:
            n = nodes[by_id[gid]]
            g.set("data-layer", n.name)
            g.set("data-class", n.class_name)
            if n.parent is not None:
                g.set("data-parent", n.parent)
            if n.id in repeat_of:
                g.set("data-repeat", str(repeat_of[n.id]))
        elif cls == "cluster" and gid.startswith("c") and gid[1:] in by_id:
            n = nodes[by_id[gid[1:]]]
            g.set("data-layer", n.name)
            g.set("data-group", n.id)
            if n.parent is not None:
                g.set("data-parent", n.parent)
        elif cls == "edge" and gid.startswith("e") and gid[1:].isdigit():
            e = folded.edges[int(gid[1:])]
            g.set("data-from", nodes[e.source].name)
            g.set("data-to", nodes[e.target].name)
            if nodes[e.source].parent is not None and nodes[e.source].parent == nodes[e.target].parent:
                g.set("data-parent", nodes[e.source].parent or "")
    for t in root.iter(f"{{{SVG_NS}}}title"):  # Graphviz titles are our ids; names are in data-layer
        t.text = by_id.get(t.text or "", t.text)
    return ET.tostring(root, encoding="unicode")
