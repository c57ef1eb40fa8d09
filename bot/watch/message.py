"""The announcement itself: fallback text and Block Kit blocks for one new checkpoint.

    :floppy_disk: New checkpoint `ckpt-0007.keras` in `runs/exp1`
    *Full model (model.save) · .keras archive by Keras 3.15.1 (tensorflow) · Adam state after 7 steps*
    58 parameters (58 trainable, 0 non-trainable) · 21.7 KB · Dense ×2
    Since ckpt-0003.keras: 4 steps trained · parameters unchanged (58) · size +0 B · same layers
    ```model = keras.saving.load_model("…/ckpt-0007.keras")```

The verdict and figures are the compact card links unfurl to (bot.render.blocks.unfurl_blocks).
File and folder names come from whoever writes into the watched folder, so everything is
escaped for mrkdwn (a file named `<!channel>.h5` must not ping the channel), and the message
is checked against Slack's limits (bot.render.block_limits.fit) rather than being refused.
Blocks, in the order they are built and the reverse of the order they are dropped in if the
message is still too big: `headline`, `verdict`, `figures`, `delta`, `reload-code`, `warnings`
(so the warnings go first, then the snippet; what is dropped is logged and in `Fitted.dropped`).
"""

from __future__ import annotations

from typing import Any

from bot.render.block_limits import (
    MAX_FALLBACK_TEXT,
    MAX_SECTION_TEXT,
    Fitted,
    clip,
    fit,
)
from bot.render.blocks import context, escape, section, unfurl_card
from bot.render.verdict import params_line, size_line, verdict
from bot.report import Report
from bot.watch.delta import Delta

CODE_FENCE = "```"
MAX_WARNINGS_SHOWN = 3  # a notice, not the full report: `/ckpt <path>` lists them all


def _headline(name: str, run_label: str) -> str:
    return f"New checkpoint {name} in {run_label}"


def announcement_text(name: str, run_label: str, report: Report, delta: Delta | None) -> str:
    """The notification and screen-reader fallback (Slack formats it as mrkdwn too: escaped)."""
    lines = [_headline(name, run_label), verdict(report)]
    figures = [x for x in (params_line(report), size_line(report)) if x]
    if figures:
        lines.append(" · ".join(figures))
    lines.append(delta.sentence() if delta else "First checkpoint of this run I have seen.")
    return clip(escape("\n".join(lines)), MAX_FALLBACK_TEXT)


def announcement(name: str, run_label: str, report: Report, delta: Delta | None, text: str) -> Fitted:
    blocks: list[dict[str, Any]] = [
        section(f":floppy_disk: New checkpoint `{escape(name)}` in `{escape(run_label)}`", "headline"),
        *unfurl_card(report).blocks,
        section(escape(delta.sentence()) if delta else "_First checkpoint of this run I have seen._", "delta"),
    ]
    snippet = (report.reload.python or "").strip()
    if snippet:
        body = escape(snippet).replace(CODE_FENCE, "`\u200b``")
        blocks.append(section(CODE_FENCE + "\n" + clip(body, MAX_SECTION_TEXT - 8) + "\n" + CODE_FENCE,
                              "reload-code"))
    if report.warnings:
        shown = report.warnings[:MAX_WARNINGS_SHOWN]
        blocks.append(context(*(f":warning: {escape(w.message)}" for w in shown), block_id="warnings"))
    return fit(f"announcement of {name}", text, blocks)


def announcement_blocks(name: str, run_label: str, report: Report, delta: Delta | None,
                        text: str) -> list[dict[str, Any]]:
    return announcement(name, run_label, report, delta, text).blocks
