"""The terminal report (rich): verdict first, then what a person scans for."""

from __future__ import annotations

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from bot.messages import human_int
from bot.render import verdict as v
from bot.report import Report


def print_report(report: Report, console: Console | None = None, *, all_layers: bool = False) -> None:
    console = console or Console()
    if report.error is not None:
        console.print(f"[bold red]✗ {report.source.name}[/]: not a model ([red]{report.error.code}[/])")
        console.print(report.error.message)
        return
    console.print(f"[bold green]✓[/] [bold]{v.verdict(report)}[/]")
    rows = [
        ("File", f"{report.source.name}" + (f" — {report.format_detail}" if report.format_detail else "")),
        ("Model", f"{report.model.class_name} “{report.model.name}”" if report.model else None),
        ("Parameters", v.params_line(report)),
        ("Size", v.size_line(report)),
        ("Layers", v.layer_types_line(report)),
        ("Training", v.optimizer_line(report)),
        ("Inputs", _io(report.model.inputs) if report.model else None),
        ("Outputs", _io(report.model.outputs) if report.model else None),
    ]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column()
    for label, value in rows:
        if value:
            grid.add_row(label, value)
    console.print(grid)
    if report.layers:
        console.print(_layer_table(report, limit=None if all_layers else 30))
    for w in report.warnings:
        console.print(f"[bold yellow]⚠ {w.code}[/]: {w.message}")
    if report.reload.python:
        console.print(f"\n[bold]How to load it[/] — {report.reload.summary}")
        console.print(Syntax(report.reload.python.rstrip(), "python", theme="ansi_dark", word_wrap=True))
    elif report.reload.summary:
        console.print(f"\n[bold]How to load it[/] — {report.reload.summary}")
    others = [o for o in report.reload.options if o.python.strip() != report.reload.python.strip() or not o.works]
    if others:
        console.print("[bold]In other Keras versions[/]")
        for o in others:
            mark = "[green]✓[/]" if o.works else "[red]✗[/]"
            why = o.purpose + (f" — fails with: {o.error}" if o.error and not o.works else "")
            console.print(f"  {mark} {o.keras}: {why}")


def _io(entries: list[dict]) -> str | None:
    if not entries:
        return None
    return ", ".join(f"{e.get('name')} {tuple(e['shape']) if e.get('shape') else ''}".strip() for e in entries)


def _layer_table(report: Report, limit: int | None) -> Table:
    t = Table(title=None, show_edge=False, header_style="bold")
    t.add_column("Layer")
    t.add_column("Type")
    t.add_column("Params", justify="right")
    t.add_column("Weights")
    layers = report.layers if limit is None else report.layers[:limit]
    for l in layers:
        weights = ", ".join(f"{w.name.rsplit('/', 1)[-1]} {tuple(w.shape)} {w.dtype}" for w in l.weights[:4])
        if len(l.weights) > 4:
            weights += f", +{len(l.weights) - 4}"
        frozen = " [dim](frozen)[/]" if l.trainable is False and l.params else ""
        t.add_row(l.name + frozen, l.class_name, human_int(l.params), weights)
    if limit is not None and len(report.layers) > limit:
        t.add_row(f"… {len(report.layers) - limit} more (use --all-layers)", "", "", "")
    return t


def print_diff(result, console: Console | None = None) -> None:
    """`ckptbot diff`: headline changes, then the layer and weight tables, then values if compared."""
    console = console or Console()
    if result.error is not None:
        console.print(f"[bold red]✗ diff[/]: [red]{result.error.code}[/] — {result.error.message}")
        return
    console.print(f"[bold]{result.a.name}[/] → [bold]{result.b.name}[/]")
    mark = "[green]same architecture[/]" if result.same_architecture else "[yellow]architecture changed[/]"
    console.print(f"{mark}")
    for line in result.changes:
        console.print(f"  • {line}")
    if result.layers:
        t = Table(show_edge=False, header_style="bold")
        for col in ("Change", "Layer (A)", "Layer (B)", "Type", "Params A → B"):
            t.add_column(col)
        for c in result.layers:
            t.add_row(c.change, c.name_a or "", c.name_b or "", c.class_b or c.class_a or "",
                      f"{_n(c.params_a)} → {_n(c.params_b)}")
        console.print(t)
    if result.weights:
        t = Table(show_edge=False, header_style="bold")
        for col in ("Change", "Layer", "Weight", "A", "B"):
            t.add_column(col)
        for w in result.weights:
            t.add_row(w.change, w.layer, w.weight, _shape_dtype(w.shape_a, w.dtype_a), _shape_dtype(w.shape_b, w.dtype_b))
        console.print(t)
    if result.values is not None:
        moved = [v for v in result.values if not v.equal]
        console.print(f"\n[bold]Values[/]: {len(result.values)} weight(s) compared, {len(moved)} differ")
        if moved:
            t = Table(show_edge=False, header_style="bold")
            for col in ("Layer", "Weight", "Max |Δ|", "Mean |Δ|", "Elements"):
                t.add_column(col, justify="right" if col not in ("Layer", "Weight") else "left")
            for delta in sorted(moved, key=lambda d: -(d.max_abs_diff or 0))[:30]:
                t.add_row(delta.layer, delta.weight, f"{delta.max_abs_diff:.3g}", f"{delta.mean_abs_diff:.3g}",
                          human_int(delta.elements))
            console.print(t)
        if result.values_note:
            console.print(f"[yellow]⚠[/] {result.values_note}")


def print_check(result, console: Console | None = None) -> None:
    """`ckptbot check`: the verdict in one line, Keras' words, then per-layer detail."""
    console = console or Console()
    if result.error is not None:
        console.print(f"[bold red]✗ check[/]: [red]{result.error.code}[/] — {result.error.message}")
        return
    style = {"loads": "bold green", "loads-with-skips": "bold yellow", "fails": "bold red"}[result.verdict]
    console.print(f"[{style}]{result.verdict}[/] — {result.weights.name} into {result.against.name} "
                  f"({result.keras}, {result.rule})")
    console.print(result.reason)
    if result.keras_error:
        console.print(f"[red]Keras would say:[/] {result.keras_error}")
    t = Table(show_edge=False, header_style="bold")
    for col in ("Layer", "Status", "In the file", "Detail"):
        t.add_column(col)
    for l in result.layers:
        color = {"loads": "green", "ignored": "yellow"}.get(l.status, "red")
        t.add_row(l.layer, f"[{color}]{l.status}[/]", l.saved_as or "", l.detail)
    console.print(t)
    for note in result.notes:
        console.print(f"[yellow]•[/] {note}")


def _n(v: int | None) -> str:
    return "—" if v is None else human_int(v)


def _shape_dtype(shape: list[int] | None, dtype: str | None) -> str:
    return "—" if shape is None else f"{tuple(shape)} {dtype or ''}".strip()
