"""Reports as Slack Block Kit messages: verdict first, then what a person scans for.

Every `*_card` function returns a `Fitted` message (text, blocks, and the blocks `fit` had to
drop); the `*_blocks` functions are the same as `(fallback_text, blocks)` for the handlers. Long
content is cut with "…" and a pointer to the rest, so nothing is dropped for real files (the
tests hold this for every fixture). Text that comes from a file or a user (names, messages,
snippets) is escaped for mrkdwn, so a layer called `<!channel>` cannot ping a channel.

Each block has a `block_id`, in the order it is built, which is the reverse of the order
`block_limits.fit` drops them in when a message is still too big (README "The Slack bot" has the table):

- the answer card: `verdict`, `source`, `fields-1`, `fields-2`, `reload`, `reload-code`,
  `warnings`, `show-layers`, `footer` — so `footer` goes first, then the button, the warnings,
  the snippet; the verdict and the figures are the last to go;
- the error card: `error`, `error-code`; the unfurl: `verdict`, `figures`;
- a layer-table message: `title`, `table-1` … `table-3`, then (last message) `more-layers`;
- diff and check answers: `headline`, then `call`, `keras-error`, `problems`, `notes`/`changes`.
"""

from __future__ import annotations

from typing import Any

from bot.messages import human_bytes, human_int
from bot.render import verdict as v
from bot.render.block_limits import (
    MAX_BUTTON_TEXT,
    MAX_FALLBACK_TEXT,
    MAX_FIELD_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    Blocks,
    Fitted,
    clip,
    fit,
)
from bot.report import Report

SHOW_LAYERS_ACTION = "ckpt_show_layers"  # action_id of the "Show all layers" button (handlers/actions.py)
SHOW_GRAPH_ACTION = "ckpt_show_graph"  # "Show graph": the architecture as a PNG in the thread
OPEN_REPORT_ACTION = "ckpt_open_report"  # a link button; Slack still sends an action, acked in handlers
# Layers listed per table message, and messages per table: 4 sections of ≤ 2,900 characters stay
# under MAX_MESSAGE_TEXT; 5 messages (~600 layers) is as much as a thread should take.
TABLE_SECTIONS_PER_MESSAGE = 3
MAX_TABLE_MESSAGES = 5
LAYER_NAME_WIDTH = 40  # names longer than this are cut in the table (Keras names are usually < 30)
MAX_WARNINGS_LISTED = 8
MAX_IO_LISTED = 4
CODE_FENCE = "```"


def escape(text: object) -> str:
    """mrkdwn-safe text: Slack reads `&`, `<`, `>` as markup (formatting reference)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str, limit: int = MAX_SECTION_TEXT) -> str:
    body = escape(text.rstrip()).replace(CODE_FENCE, "`\u200b``")
    room = limit - 2 * len(CODE_FENCE) - 2
    return f"{CODE_FENCE}\n{clip(body, room)}\n{CODE_FENCE}"


def _named(block: dict[str, Any], block_id: str | None) -> dict[str, Any]:
    return {**block, "block_id": block_id} if block_id else block


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    return _named({"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_TEXT)}}, block_id)


def context(*texts: str, block_id: str | None = None) -> dict[str, Any]:
    return _named({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(t, MAX_FIELD_TEXT)}
                                                    for t in texts if t][:10]}, block_id)


def _fields(pairs: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Label/value pairs as section fields (two columns, ≤ 10 per section)."""
    out = [{"type": "mrkdwn", "text": clip(f"*{label}*\n{value}", MAX_FIELD_TEXT)}
           for label, value in pairs if value]
    return [{"type": "section", "fields": out[i:i + 10], "block_id": f"fields-{i // 10 + 1}"}
            for i in range(0, len(out), 10)]


def _fallback(*lines: str | None) -> str:
    return clip("\n".join(line for line in lines if line), MAX_FALLBACK_TEXT)


def _io_line(entries: list[dict[str, Any]]) -> str | None:
    if not entries:
        return None
    shown = [f"`{escape(e.get('name'))}` {tuple(e['shape']) if e.get('shape') is not None else ''}".strip()
             for e in entries[:MAX_IO_LISTED]]
    more = f" +{len(entries) - MAX_IO_LISTED} more" if len(entries) > MAX_IO_LISTED else ""
    return ", ".join(shown) + more


def _source_line(report: Report) -> str:
    bits = [f"*{escape(clip(report.source.name, 200))}*"]
    if report.format_detail:
        bits.append(escape(report.format_detail))
    if report.model:
        bits.append(f"{escape(report.model.class_name)} “{escape(clip(report.model.name, 100))}”")
    return " · ".join(bits)


def _warnings_section(report: Report) -> dict[str, Any] | None:
    if not report.warnings:
        return None
    each = (MAX_SECTION_TEXT - 200) // MAX_WARNINGS_LISTED  # all listed, and room for the "more" line
    lines = [clip(f"• *{escape(w.code)}*: {escape(w.message)}", each) for w in report.warnings[:MAX_WARNINGS_LISTED]]
    if len(report.warnings) > MAX_WARNINGS_LISTED:
        lines.append(f"…and {len(report.warnings) - MAX_WARNINGS_LISTED} more (`ckptbot inspect --json`)")
    return section(":warning: *Warnings*\n" + "\n".join(lines), "warnings")


def _reload_blocks(report: Report) -> Blocks:
    if not (report.reload.python or report.reload.summary):
        return []
    out = [section(f"*How to load it* — {escape(clip(report.reload.summary, 1500))}", "reload")]
    if report.reload.python:
        out.append(section(_code(report.reload.python), "reload-code"))
    return out


def report_card(report: Report, *, requested_by: str | None = None,
                layers_button_value: str | None = None, report_url: str | None = None) -> Fitted:
    """The answer card: verdict, then parameters, size, layers, versions, training, reload, warnings.

    `layers_button_value` (what handlers/actions.py needs to find the report again) adds a
    "Show all N layers" button; `requested_by` is a Slack user id credited in the footer.
    """
    if report.error is not None:
        return error_card(report)
    verdict = v.verdict(report)
    blocks: Blocks = [section(f":white_check_mark: *{escape(verdict)}*", "verdict"),
                      context(_source_line(report), block_id="source")]
    model = report.model
    blocks += _fields([
        ("Parameters", v.params_line(report)),
        ("Size", v.size_line(report)),
        ("Layers", escape(v.layer_types_line(report) or "") or None),
        ("Written by", escape(v.writer(report) or "") or None),
        ("Training", escape(v.optimizer_line(report) or "") or None),
        ("Optimizer state", _optimizer_state(report)),
        ("Inputs", _io_line(model.inputs) if model else None),
        ("Outputs", _io_line(model.outputs) if model else None),
    ])
    blocks += _reload_blocks(report)
    warnings = _warnings_section(report)
    if warnings:
        blocks.append(warnings)
    if layers_button_value and report.layers:
        buttons = [{"type": "button", "action_id": SHOW_LAYERS_ACTION, "value": layers_button_value,
                    "text": {"type": "plain_text", "text": clip(f"Show all {len(report.layers)} layers",
                                                                MAX_BUTTON_TEXT)}}]
        if report.graph is not None and report.graph.nodes:
            buttons.append({"type": "button", "action_id": SHOW_GRAPH_ACTION, "value": layers_button_value,
                            "text": {"type": "plain_text", "text": "Show graph"}})
        if report_url:  # CKPTBOT_PUBLIC_URL is set: the full page instead of a PNG in the thread
            buttons[-1:] = [b for b in buttons[-1:] if b["action_id"] != SHOW_GRAPH_ACTION]
            buttons.append({"type": "button", "action_id": OPEN_REPORT_ACTION, "url": report_url,
                            "text": {"type": "plain_text", "text": "Open full report"}})
        blocks.append({"type": "actions", "block_id": "show-layers", "elements": buttons})
    if requested_by:
        blocks.append(context(f"Asked by <@{escape(requested_by)}> · ckptbot reads the file's bytes, "
                              "it never loads or runs it", block_id="footer"))
    text = _fallback(f"{report.source.name}: {verdict}", v.params_line(report))
    return fit(f"card for {report.source.name}", text, blocks)


def report_blocks(report: Report, *, requested_by: str | None = None,
                  layers_button_value: str | None = None, report_url: str | None = None) -> tuple[str, Blocks]:
    return report_card(report, requested_by=requested_by, layers_button_value=layers_button_value,
                       report_url=report_url).pair()


def _optimizer_state(report: Report) -> str | None:
    opt = report.optimizer
    if opt is None or not report.contents.optimizer_state:
        return None
    steps = f", {human_int(opt.iterations)} steps" if opt.iterations is not None else ""
    return f"{escape(opt.class_name or 'optimizer')}: {human_bytes(opt.state_bytes)}{steps}"


def unfurl_card(report: Report) -> Fitted:
    """The compact card under a pasted link: verdict and one line of figures."""
    if report.error is not None:
        return fit(f"unfurl of {report.source.name}", "unfurl",
                   [context(f":x: {escape(clip(report.error.message, 500))}", block_id="verdict")])
    figures = " · ".join(x for x in (v.params_line(report), human_bytes(report.source.size_bytes)
                                     if report.source.size_bytes is not None else None,
                                     escape(v.layer_types_line(report, limit=4) or "")) if x)
    return fit(f"unfurl of {report.source.name}", "unfurl",
               [section(f"*{escape(v.verdict(report))}*", "verdict"),
                context(figures or escape(report.source.name), block_id="figures")])


def unfurl_blocks(report: Report) -> Blocks:
    return unfurl_card(report).blocks


def error_card(report: Report) -> Fitted:
    """Why this is not an answer, and what to do next (the sentence from bot.messages)."""
    assert report.error is not None
    name = escape(clip(report.source.name, 200))
    message = escape(clip(report.error.message, 1500))
    blocks = [section(f":x: *{name}*: {message}", "error"),
              context(f"code `{escape(report.error.code)}`", block_id="error-code")]
    return fit(f"error card for {report.source.name}", _fallback(f"{report.source.name}: {report.error.message}"),
               blocks)


def error_blocks(report: Report) -> tuple[str, Blocks]:
    return error_card(report).pair()


def layer_table(report: Report) -> list[Fitted]:
    """Every layer (name, type, parameters), as a few messages of code blocks for a thread.

    Beyond MAX_TABLE_MESSAGES messages the rows are not sent: the last message ends with a
    `more-layers` line that says how many were left out and how to see them.
    """
    rows = [_layer_row(layer.name, layer.class_name, layer.params, layer.trainable)
            for layer in report.layers]
    header = _layer_row("Layer", "Type", None, None)
    chunks: list[str] = []
    current: list[str] = [header]
    for row in rows:
        if sum(len(r) + 1 for r in current) + len(row) + 20 > MAX_SECTION_TEXT - 100:
            chunks.append("\n".join(current))
            current = [header]
        current.append(row)
    chunks.append("\n".join(current))
    per_message = TABLE_SECTIONS_PER_MESSAGE
    groups = [chunks[i:i + per_message] for i in range(0, len(chunks), per_message)]
    shown = groups[:MAX_TABLE_MESSAGES]
    listed = sum(c.count("\n") for g in shown for c in g)
    out: list[Fitted] = []
    for n, group in enumerate(shown, 1):
        title = f"*{escape(clip(report.source.name, 200))}*: {len(report.layers)} layers"
        if len(shown) > 1:
            title += f" (part {n} of {len(shown)})"
        blocks = [section(title, "title")] + [section(_code(c), f"table-{i}") for i, c in enumerate(group, 1)]
        if n == len(shown) and listed < len(rows):
            blocks.append(context(f"…and {len(rows) - listed} more layers: run "
                                  "`ckptbot inspect --all-layers` for the full table", block_id="more-layers"))
        text = _fallback(f"{report.source.name}: layer table, part {n} of {len(shown)}")
        out.append(fit(f"layer table {n} for {report.source.name}", text, blocks))
    return out


def layer_table_messages(report: Report) -> list[tuple[str, Blocks]]:
    return [m.pair() for m in layer_table(report)]


def _layer_row(name: str, class_name: str, params: int | None, trainable: bool | None) -> str:
    name = clip(name, LAYER_NAME_WIDTH)
    count = "Params" if params is None else human_int(params)
    frozen = " (frozen)" if trainable is False and params else ""
    return f"{name:<{LAYER_NAME_WIDTH}} {clip(class_name, 24):<24} {count:>12}{frozen}"


MAX_LISTED_LINES = 15  # changes, notes or layer problems listed in a diff/check answer


def _bullets(items: list[str], more_hint: str) -> str:
    lines = [f"• {escape(clip(str(x), 300))}" for x in items[:MAX_LISTED_LINES]]
    if len(items) > MAX_LISTED_LINES:
        lines.append(f"…and {len(items) - MAX_LISTED_LINES} more ({more_hint})")
    return "\n".join(lines)


def result_card(title: str, result: Any) -> Fitted:
    """`diff` and `check` answers (bot.compare.results): headline, then the lines that matter."""
    data = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    error = data.get("error")
    if error:
        message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
        return fit(title, _fallback(f"{title}: {message}"),
                   [section(f":x: *{escape(title)}*: {escape(clip(message, 1500))}", "headline")])
    if "verdict" in data:
        return _check_card(title, data)
    changes = [str(c) for c in data.get("changes") or []]
    headline = ("same architecture" if data.get("same_architecture") else "different architecture"
                ) if data.get("same_architecture") is not None else "compared"
    blocks: Blocks = [section(f":mag: *{escape(title)}*: {headline}", "headline")]
    blocks.append(section(_bullets(changes, "`ckptbot diff --json`") if changes else "No differences found.",
                          "changes"))
    return fit(title, _fallback(f"{title}: {headline}", *changes[:3]), blocks)


def result_blocks(title: str, result: Any) -> tuple[str, Blocks]:
    return result_card(title, result).pair()


_VERDICT_ICONS = {"loads": ":white_check_mark:", "loads-with-skips": ":warning:", "fails": ":x:"}


def _check_card(title: str, data: dict[str, Any]) -> Fitted:
    verdict = str(data.get("verdict"))
    icon = _VERDICT_ICONS.get(verdict, ":grey_question:")
    blocks: Blocks = [section(f"{icon} *{escape(title)}*: {escape(verdict)} — "
                              f"{escape(clip(data.get('reason', ''), 1500))}", "headline")]
    if data.get("call"):
        blocks.append(context(f"{escape(data.get('keras', ''))} · `{escape(clip(data['call'], 300))}`",
                              block_id="call"))
    if data.get("keras_error"):
        blocks.append(section("Keras would say:\n" + _code(data["keras_error"], 1500), "keras-error"))
    problems = [f"{l['layer']}: {l['status']}" + (f" ({l['detail']})" if l.get("detail") else "")
                for l in data.get("layers") or [] if l.get("status") != "loads"]
    if problems:
        blocks.append(section(_bullets(problems, "`ckptbot check --json`"), "problems"))
    if data.get("notes"):
        blocks.append(section(_bullets([str(n) for n in data["notes"]], "`ckptbot check --json`"), "notes"))
    return fit(title, _fallback(f"{title}: {verdict}", data.get("reason")), blocks)


def help_blocks(usage: list[tuple[str, str]]) -> tuple[str, Blocks]:
    """`/ckpt help`: one line per subcommand, from the dispatcher table (handlers/commands.py)."""
    lines = "\n".join(f"• `{escape(form)}` — {escape(what)}" for form, what in usage)
    text = ("*ckptbot* tells what is inside a Keras/TensorFlow model file and how to load it, "
            "from the file's bytes alone (it never loads or runs the file).\n" + lines +
            "\nYou can also mention me with a link, paste a link to a model, or upload a model file.")
    return _fallback("ckptbot: " + "; ".join(form for form, _ in usage)), [section(text)]


def notice_blocks(text: str) -> tuple[str, Blocks]:
    """A one-sentence message (usage hints, "busy", progress) as text and one section."""
    return _fallback(text), [section(escape(text))]


def progress_text(name: str, step: str) -> str:
    return clip(f":hourglass_flowing_sand: {name}: {step}", MAX_HEADER_TEXT * 4)

