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
