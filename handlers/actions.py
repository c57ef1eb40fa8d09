""""Show all N layers" → the full layer table in the card's thread.

The button carries the reference (or Slack file id); the report comes back from the cache.
Where the bot may not post (a /ckpt answer in a channel it has not joined), the table goes
to the person who clicked, through the action's response_url.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.render import blocks as render
from handlers.answers import failure_text
from handlers.backend import SlackBackend


def register(app: App, backend: SlackBackend) -> None:
    @app.action(render.SHOW_LAYERS_ACTION)
    def layer_table_requested(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        target = json.loads(body["actions"][0]["value"])
        channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id")
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or message.get("ts") or body.get("container", {}).get("message_ts")

        def post_layer_table() -> None:
            if "f" in target:
                report = backend.inspect_upload(client.files_info(file=target["f"])["file"])
            else:
                report = backend.inspect(target["r"])
            if report.error is not None:
                text, blocks = render.error_blocks(report)
                respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
                return
            messages = render.layer_table_messages(report)
            try:
                for text, blocks in messages:
                    client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)
            except SlackApiError:  # not in that channel: show it to the person who asked
                for text, blocks in messages:
                    respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

        backend.submit(post_layer_table, lambda: respond(text=failure_text("the layer table")[0],
                                                         response_type="ephemeral", replace_original=False))

    @app.action(render.OPEN_REPORT_ACTION)
    def report_link_clicked(ack: Ack) -> None:  # Slack opens the URL itself; the action only needs an ack
        ack()

    @app.action(render.SHOW_GRAPH_ACTION)
    def graph_requested(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """The graph as a PNG in the card's thread, through Slack's upload flow (getUploadURLExternal,
        the upload, completeUploadExternal: what files_upload_v2 does)."""
        ack()
        target = json.loads(body["actions"][0]["value"])
        channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id")
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or message.get("ts") or body.get("container", {}).get("message_ts")

        def post_graph() -> None:
            from bot.render.graph_svg import render_png

            if "f" in target:
                report = backend.inspect_upload(client.files_info(file=target["f"])["file"])
            else:
                report = backend.inspect(target["r"])
            if report.error is not None or report.graph is None:
                text, blocks = render.error_blocks(report) if report.error else ("No graph to draw.", None)
                respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
                return
            png = render_png(report.graph)
            title = f"{report.source.name}: architecture"
            try:
                client.files_upload_v2(channel=channel, thread_ts=thread_ts, content=png,
                                       filename="graph.png", title=title)
            except SlackApiError:  # not in that channel: say so to the person who clicked
                respond(text="I could not post the graph in this channel; invite me and try again.",
                        response_type="ephemeral", replace_original=False)

        def say_it_broke() -> None:
            respond(text=failure_text("the graph")[0], response_type="ephemeral", replace_original=False)

        backend.submit(post_graph, say_it_broke)
