"""50 people type /ckpt at once: how fast is each acknowledged, and when is the last one answered?

    python benchmarks/bench_slack_acks.py [--n 50] [--file tests/fixtures/keras/tfk__many__save.h5]

Side by side, against the same local Slack stand-in and the same N distinct copies of one
fixture (so no answer comes from the cache):

* naive:   Bolt's defaults (5 listener threads), inspecting inside the listener after ack(),
           served by a threaded WSGI server in this process;
* ckptbot: `ckptbot serve` as in production (gunicorn, 32 listener threads, a 4-worker
           inspection pool), in its own process.

Slack's deadline for an ack is 3 s; Bolt answers 404 to a command whose listener never got a
thread in time (slack-bolt.md §1.2).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from tests.slack_bot_process import SIGNING_SECRET, BotProcess  # noqa: E402
from tests.slack_sender import SlackSender  # noqa: E402
from tests.slack_standin import SlackStandIn  # noqa: E402


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def naive_app_url(standin: SlackStandIn, root: Path) -> tuple[str, _ThreadingServer]:
    """Bolt as its getting-started guide wires it: default executor, work inside the listener."""
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    from bot import service
    from bot.config import Settings
    from bot.render.blocks import report_blocks

    settings = Settings(SLACK_BOT_TOKEN=standin.bot_token, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                        SLACK_API_URL=standin.api_url, CKPTBOT_LOCAL_ROOTS=str(root))
    app = App(client=WebClient(token=standin.bot_token, base_url=standin.api_url), signing_secret=SIGNING_SECRET)

    @app.command("/ckpt")
    def inspect_after_ack(ack, command, respond):
        ack(text="Looking…")
        report = service.inspect(command["text"], settings)
        text, blocks = report_blocks(report)
        respond(text=text, blocks=blocks, response_type="in_channel")

    httpd = make_server("127.0.0.1", 0, SlackRequestHandler(app), server_class=_ThreadingServer,
                        handler_class=_QuietHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/slack/events", httpd


def burst(sender: SlackSender, standin: SlackStandIn, files: list[Path], tag: str) -> dict[str, float]:
    acks: dict[int, tuple[int, float]] = {}
    start = time.monotonic()

    def ask(i: int) -> None:
        t0 = time.monotonic()
        status, _ = sender.command(str(files[i]), standin.response_url(f"{tag}{i}"), timeout=30)
        acks[i] = (status, time.monotonic() - t0)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(files))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [s for s, _ in acks.values() if s == 200]
    try:
        standin.wait_for("response_url", count=len(ok), timeout=300, where=lambda c: f"/{tag}" in c.path)
    except AssertionError:
        pass
    answers = [c for c in standin.calls_to("response_url") if f"/{tag}" in c.path]
    last = max((c.at for c in answers), default=start) - start
    seconds = sorted(s for _, s in acks.values())
    cards = [c for c in answers if "parameters" in c.args.get("text", "")]  # real answers, not errors
    return {"acked_200": len(ok), "refused": len(files) - len(ok), "answered": len(answers), "cards": len(cards),
            "ack_p50_ms": 1000 * statistics.median(seconds), "ack_max_ms": 1000 * seconds[-1],
            "last_answer_s": last}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--file", default=str(REPO / "tests/fixtures/keras/tfk__many__save.h5"))
    args = parser.parse_args()
    source = Path(args.file)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = [root / f"copy{i:03d}{''.join(source.suffixes)}" for i in range(args.n)]
        for f in files:
            shutil.copy(source, f)
        standin = SlackStandIn().start()
        url, httpd = naive_app_url(standin, root)
        naive = burst(SlackSender(url, SIGNING_SECRET), standin, files, "naive")
        httpd.shutdown()
        for f in files:  # fresh identities: nothing from the naive run's cache
            f.touch()
        with BotProcess(standin, root, CKPTBOT_LOCAL_ROOTS=str(root)) as bot:
            ours = burst(bot.sender, standin, files, "ckptbot")
        standin.stop()
    print(f"{args.n} simultaneous /ckpt on {source.name} ({source.stat().st_size:,} bytes), distinct copies")
    print(f"{'':16}{'naive Bolt':>14}{'ckptbot':>14}")
    for key in ("acked_200", "refused", "answered", "cards", "ack_p50_ms", "ack_max_ms", "last_answer_s"):
        print(f"{key:16}{naive[key]:>14.2f}{ours[key]:>14.2f}")
    if ours["ack_max_ms"]:
        print(f"worst ack: ckptbot is {naive['ack_max_ms'] / ours['ack_max_ms']:.0f}x faster")


if __name__ == "__main__":
    main()
