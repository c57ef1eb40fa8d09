"""`ckptbot inspect --graph`: the architecture as a compact rich tree, for ssh sessions.

Each layer hangs under the first layer feeding it (its other inputs are named after "←"),
nested models hold their own layers, and folded repeats (bot/render/graph_fold.py) show
"× N".  Names are printed through rich's escape: a layer called "[red]" stays text.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from bot.messages import human_int
from bot.render.graph_fold import fold
from bot.report import GraphNode, Report


def _line(n: GraphNode, extra_inputs: list[str], repeat: int | None) -> str:
    shape = "(" + ", ".join("None" if d is None else str(d) for d in n.output_shape) + ")" if n.output_shape else ""
    bits = [f"[bold]{escape(n.name)}[/]", f"[cyan]{escape(n.class_name)}[/]"]
    if shape:
        bits.append(escape(shape))
    if n.params:
        bits.append(f"{human_int(n.params)} params")
    if repeat:
        bits.append(f"[magenta]× {repeat}[/]")
    if extra_inputs:
        bits.append("[dim]← " + escape(", ".join(extra_inputs)) + "[/]")
    return " ".join(bits)


def graph_tree(report: Report) -> Tree | None:
    if report.graph is None:
        return None
    g = fold(report.graph)
    title = f"[bold]{escape(report.model.name if report.model else report.source.name)}[/]"
    if g.kind == "order-only":
        title += " [yellow](order only: weights file, no connections stored)[/]"
    root = Tree(title)
    names = {n.id: n.name for n in g.nodes}
    inputs: dict[str, list[str]] = {}
    for e in g.edges:
        inputs.setdefault(e.target, []).append(e.source)
    repeat = {nid: f.count for f in g.folds for nid in f.node_ids}
    branch: dict[str, Tree] = {}
    holder_of: dict[str, Tree] = {}
    last_in: dict[int, str] = {}  # id(tree) -> the node added to it last
    for n in g.nodes:
        srcs = inputs.get(n.id, [])
        container = branch.get(n.parent, root) if n.parent else root
        anchor = next((s for s in srcs if s in branch and _same_parent(g.nodes, s, n)), None)
        holder = container
        if anchor is not None:
            # A chain stays flat (the next layer is a sibling of the one feeding it); a branch nests.
            flat = (holder_of[anchor] is container and last_in.get(id(container)) == anchor
                    and _fanout(g.edges, anchor) == 1)
            holder = holder_of[anchor] if flat else branch[anchor]
        extra = [names.get(s, s) for s in srcs if s != anchor]
        branch[n.id] = holder.add(_line(n, extra, repeat.get(n.id)))
        holder_of[n.id] = holder
        last_in[id(holder)] = n.id
    return root


def _same_parent(nodes: list[GraphNode], src_id: str, n: GraphNode) -> bool:
    src = next((x for x in nodes if x.id == src_id), None)
    return src is not None and src.parent == n.parent


def _fanout(edges, src: str) -> int:
    return sum(1 for e in edges if e.source == src)


def print_graph(report: Report, console: Console | None = None) -> None:
    console = console or Console()
    if report.error is not None:
        console.print(f"[bold red]✗ {escape(report.source.name)}[/]: not a model ({escape(report.error.code)})")
        console.print(escape(report.error.message))
        return
    tree = graph_tree(report)
    if tree is None:
        console.print(f"{escape(report.source.name)}: this format stores no layers to draw.")
        return
    console.print(tree)
