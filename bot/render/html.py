"""The full report as one self-contained HTML page (`ckptbot inspect --html`, `/r/<token>`).

Everything is inline: CSS, a few lines of script, the graph as SVG; the page's
Content-Security-Policy forbids any network request.  Every string from the file (layer
and weight names, warnings, snippets) goes through `html.escape`; data for the script is
JSON with `<` escaped, so no name can close a tag or start one.
"""

from __future__ import annotations

import dataclasses
import json
from html import escape
from importlib import resources
from string import Template
from typing import Any

from bot.messages import human_bytes, human_int
from bot.render import verdict as v
from bot.report import ReloadOption, Report

_COLORS = {"weights": "#457b9d", "optimizer": "#e9a23b", "other": "#a8b3bf"}
MAX_CHART_LAYERS = 60
# Fields other parts of ckptbot may add to the Report; drawn when present.
EXTRA_FIELDS = ("quantization", "preset", "security")


def _template() -> Template:
    return Template(resources.files("bot.render").joinpath("templates/page.html").read_text(encoding="utf-8"))


def page(title: str, body: str) -> str:
    return _template().substitute(title=escape(title), body=body)


def report_page(report: Report) -> str:
    return page(f"{report.source.name} — ckptbot", _header(report) + "<main>" + report_sections(report) + "</main>")


def _header(report: Report) -> str:
    if report.error is not None:
        return (f"<header><h1>{escape(report.source.name)}</h1><div class='verdict bad'>not a model "
                f"({escape(report.error.code)})</div></header>")
    return f"<header><h1>{escape(report.source.name)}</h1><div class='verdict'>{escape(v.verdict(report))}</div></header>"


def report_sections(report: Report, key: str = "r", highlight: set[str] | None = None) -> str:
    if report.error is not None:
        return f"<section><h2>Not a model</h2><p>{escape(report.error.message)}</p></section>"
    parts = [_facts(report), _size_bar(report), _extras(report), _warnings(report), _graph(report, key),
             _params_chart(report), _layer_table(report, key, highlight or set()), _reload(report, key)]
    return "".join(p for p in parts if p)


def _facts(report: Report) -> str:
    rows = [
        ("Verdict", v.verdict(report)),
        ("File", report.source.name + (f" — {report.format_detail}" if report.format_detail else "")),
        ("Format", report.format),
        ("Model", f"{report.model.class_name} “{report.model.name}”" if report.model else None),
        ("Parameters", v.params_line(report)),
        ("Size", v.size_line(report)),
        ("Keras", report.keras_version),
        ("Backend", report.backend),
        ("Layers", v.layer_types_line(report)),
        ("Training", v.optimizer_line(report)),
        ("Inputs", _io(report.model.inputs) if report.model else None),
        ("Outputs", _io(report.model.outputs) if report.model else None),
    ]
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(val))}</dd>" for k, val in rows if val)
    return f"<section id='facts'><h2>Summary</h2><dl>{body}</dl></section>"


def _io(entries: list[dict]) -> str | None:
    if not entries:
        return None
    return ", ".join(f"{e.get('name')} {tuple(e['shape']) if e.get('shape') else ''}".strip() for e in entries)


def _size_bar(report: Report) -> str:
    sb = report.size_breakdown
    if sb is None:
        return ""
    parts = {"weights": sb.weights_bytes, "optimizer": sb.optimizer_bytes, "other": sb.other_bytes}
    total = sum(parts.values()) or 1
    bar = "".join(f"<span title='{k}: {human_bytes(n)}' style='width:{100 * n / total:.2f}%;"
                  f"background:{_COLORS[k]}'></span>" for k, n in parts.items() if n)
    legend = "".join(f"<span><i class='sw' style='background:{_COLORS[k]}'></i>{k} {escape(human_bytes(n))}</span>"
                     for k, n in parts.items())
    return f"<section id='size'><h2>Size</h2><div class='bar'>{bar}</div><div class='legend'>{legend}</div></section>"


def _params_chart(report: Report) -> str:
    layers = [l for l in report.layers if l.params]
    if not layers:
        return ""
    note = ""
    if len(layers) > MAX_CHART_LAYERS:
        note = f"<p class='muted'>The {MAX_CHART_LAYERS} largest of {len(layers)} layers with parameters.</p>"
        keep = {id(l) for l in sorted(layers, key=lambda l: -l.params)[:MAX_CHART_LAYERS]}
        layers = [l for l in layers if id(l) in keep]
    top = max(l.params for l in layers)
    rows = "".join(f"<span>{escape(l.name)}</span><i style='width:{100 * l.params / top:.2f}%'></i>"
                   f"<span>{escape(human_int(l.params))}</span>" for l in layers)
    return f"<section id='params'><h2>Parameters per layer</h2>{note}<div class='hbar'>{rows}</div></section>"


def _graph(report: Report, key: str) -> str:
    if report.graph is None or not report.graph.nodes:
        return ""
    from bot.render.graph_svg import GraphvizMissing, render_svg

    try:
        drawing = render_svg(report.graph)
    except GraphvizMissing as exc:
        return f"<section id='graph-{key}'><h2>Architecture</h2><p class='muted'>{escape(str(exc))}</p></section>"
    notes = []
    if report.graph.kind == "order-only":
        notes.append("Order only: this file stores weights, not the architecture, so the layers are shown in "
                     "stored order without connections.")
    for f in drawing.folded.folds:
        notes.append(f"{len(f.node_ids)} layer(s) repeated × {f.count} ({f.first} … {f.last}): drawn once.")
    if any(n.is_group for n in report.graph.nodes):
        notes.append("Click a nested model's box to fold or unfold its layers.")
    note = "".join(f"<p class='muted'>{escape(n)}</p>" for n in notes)
    return (f"<section id='graph-{key}' class='graph' data-kind='{escape(report.graph.kind)}'>"
            f"<h2>Architecture</h2>{note}{drawing.svg}</section>")


def _layer_table(report: Report, key: str, highlight: set[str]) -> str:
    if not report.layers:
        return ""
    rows = []
    for l in report.layers:
        weights = "<br>".join(f"{escape(w.name)} <span class='muted'>{escape(str(tuple(w.shape)))} "
                              f"{escape(w.dtype)}</span>" for w in l.weights)
        trainable = "" if l.trainable is None else "yes" if l.trainable else "frozen"
        cls = " class='changed'" if l.name in highlight else ""
        rows.append(f"<tr data-layer='{escape(l.name)}'{cls}><td>{escape(l.name)}</td><td>{escape(l.class_name)}</td>"
                    f"<td>{escape(human_int(l.params))}</td><td>{trainable}</td><td>{weights}</td></tr>")
    return (f"<section id='layers-{key}'><h2>Layers and weights</h2>"
            f"<input type='search' placeholder='Filter layers and weights' data-filter='table-{key}' "
            f"aria-label='Filter layers and weights'>"
            f"<table id='table-{key}'><thead><tr><th>Layer</th><th>Class</th><th>Params</th><th>Trainable</th>"
            f"<th>Weights</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>")


def _reload(report: Report, key: str) -> str:
    r = report.reload
    if not r.summary and not r.python:
        return ""
    out = [f"<section id='reload-{key}'><h2>How to load it</h2><p>{escape(r.summary)}</p>"]
    snippets: list[tuple[str, str, ReloadOption | None]] = [("main", r.python, None)] if r.python else []
    snippets += [(f"o{i}", o.python, o) for i, o in enumerate(r.options)
                 if o.python.strip() and o.python.strip() != r.python.strip()]
    for sid, code, opt in snippets:
        if opt is not None:
            mark = "<span class='ok'>✓</span>" if opt.works else "<span class='bad'>✗</span>"
            why = opt.purpose + (f" — fails with: {opt.error}" if opt.error and not opt.works else "")
            out.append(f"<p>{mark} <b>{escape(opt.keras)}</b>: {escape(why)}</p>")
        out.append(f"<pre id='snippet-{key}-{sid}'>{escape(code.rstrip())}</pre>"
                   f"<button type='button' data-copy='snippet-{key}-{sid}'>Copy</button>")
    out.append("</section>")
    return "".join(out)


def _warnings(report: Report) -> str:
    if not report.warnings:
        return ""
    items = "".join(f"<div class='warn'><b>{escape(w.code)}</b>: {escape(w.message)}</div>" for w in report.warnings)
    return f"<section id='warnings'><h2>Warnings</h2>{items}</section>"


def _extras(report: Report) -> str:
    out = []
    for name in EXTRA_FIELDS:
        value = getattr(report, name, None)
        if value is None or value == [] or value == {}:
            continue
        is_record = dataclasses.is_dataclass(value) and not isinstance(value, type)
        data = dataclasses.asdict(value) if is_record else value  # type: ignore[arg-type]
        out.append(f"<section id='{name}'><h2>{escape(name.capitalize())}</h2>{_data(data)}</section>")
    return "".join(out)


def _data(d: Any) -> str:
    if isinstance(d, dict):
        rows = "".join(f"<dt>{escape(str(k))}</dt><dd>{_data(x)}</dd>" for k, x in d.items()
                       if x not in (None, [], {}))
        return f"<dl>{rows}</dl>"
    if isinstance(d, list):
        return "<ul>" + "".join(f"<li>{_data(x)}</li>" for x in d) + "</ul>"
    return escape(str(d))


def json_for_script(data: Any) -> str:
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def diff_page(a: Report, b: Report, result: Any) -> str:
    """Both reports side by side; changed layers highlighted in both tables and graphs."""
    changed_a = {c.name_a for c in result.layers if c.name_a} | {w.layer for w in result.weights}
    changed_b = {c.name_b for c in result.layers if c.name_b} | {w.layer for w in result.weights}
    head = (f"<header><h1>{escape(a.source.name)} → {escape(b.source.name)}</h1><div class='verdict'>"
            + escape("same architecture" if result.same_architecture else "architecture differs"
                     if result.same_architecture is False else "") + "</div></header>")
    if result.error is not None:
        return page("diff — ckptbot", head + f"<main><section><p>{escape(result.error.message)}</p></section></main>")
    changes = "".join(f"<li>{escape(c)}</li>" for c in result.changes) or "<li>No differences found.</li>"
    rows = "".join(f"<tr class='{escape(c.change)}'><td>{escape(c.change)}</td><td>{escape(c.name_a or '')}</td>"
                   f"<td>{escape(c.name_b or '')}</td><td>{escape(c.class_a or '')}</td><td>{escape(c.class_b or '')}</td>"
                   f"</tr>" for c in result.layers)
    rows += "".join(f"<tr class='changed'><td>{escape(w.change)}</td><td colspan='2'>{escape(w.layer)}/"
                    f"{escape(w.weight)}</td><td>{escape(str(w.shape_a))} {escape(w.dtype_a or '')}</td>"
                    f"<td>{escape(str(w.shape_b))} {escape(w.dtype_b or '')}</td></tr>" for w in result.weights)
    table = ("<table id='table-changes'><thead><tr><th>Change</th><th>A</th><th>B</th><th>A has</th><th>B has</th>"
             f"</tr></thead><tbody>{rows}</tbody></table>") if rows else ""
    marks = json_for_script({"a": sorted(changed_a), "b": sorted(changed_b)})
    script = ("<script type='application/json' id='changed-layers'>" + marks + "</script><script>(function(){"
              "var m=JSON.parse(document.getElementById('changed-layers').textContent);"
              "['a','b'].forEach(function(k){var s=document.getElementById('graph-'+k);if(!s)return;"
              "s.querySelectorAll('g[data-layer]').forEach(function(g){"
              "if(m[k].indexOf(g.getAttribute('data-layer'))>=0){g.classList.add('hl');}});});})();</script>")
    body = (head + f"<main><section id='changes'><h2>What changed</h2><ul>{changes}</ul>{table}</section>"
            f"<div class='cols'><div>{report_sections(a, 'a', changed_a)}</div>"
            f"<div>{report_sections(b, 'b', changed_b)}</div></div></main>" + script)
    return page(f"{a.source.name} → {b.source.name} — ckptbot diff", body)
