"""Slack cards for every fixture stay inside Block Kit's limits, lose no block, and say what live Keras says.

Every message is read back with slack_sdk's own Block classes (`Block.parse(...).to_dict()` runs
their validators); what `fit` drops is asserted, never just "no violations left".
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import textwrap

import pytest
from slack_sdk.models.blocks import Block

from bot import service
from bot.render import blocks as render
from bot.render.block_limits import (
    MAX_BLOCKS,
    MAX_MESSAGE_TEXT,
    MAX_SECTION_TEXT,
    Dropped,
    Fitted,
    fit,
    message_text_length,
)
from bot.report import Report
from bot.watch.message import announcement, announcement_text


def _inspect(path) -> Report:
    return service.inspect(str(path), allow_any_local=True, isolate=False)


def _text(blocks: list[dict]) -> str:
    out = []
    for b in blocks:
        out.append((b.get("text") or {}).get("text", ""))
        out += [f.get("text", "") for f in b.get("fields") or []]
        out += [e.get("text", "") for e in b.get("elements") or [] if isinstance(e.get("text"), str)]
    return "\n".join(out)


def assert_slack_accepts(message: Fitted, what: str) -> None:
    """Nothing was dropped, and slack_sdk reads every block back unchanged with its validators passing."""
    assert message.dropped == (), what
    assert message.text.strip(), what
    assert 0 < len(message.blocks) <= MAX_BLOCKS and message_text_length(message.blocks) <= MAX_MESSAGE_TEXT, what
    for block in message.blocks:
        parsed = Block.parse(block)
        assert parsed is not None, (what, block)
        assert parsed.to_dict() == block, (what, block)  # to_dict() raises SlackObjectFormationError


@pytest.fixture(scope="module")
def fixture_reports(fixtures_dir, expected):
    missing = [name for name in expected["artifacts"] if not (fixtures_dir / name).exists()]
    assert not missing, f"committed fixtures missing: {missing}"
    return {name: (_inspect(fixtures_dir / name), live) for name, live in expected["artifacts"].items()}


# The answer card's blocks in build order; `fit` drops from the end (bot/render/blocks.py docstring).
CARD_ORDER = ["verdict", "source", "fields-1", "fields-2", "reload", "reload-code", "warnings", "show-layers",
              "footer"]


def test_every_fixture_card_unfurl_announcement_and_layer_table_loses_no_block(fixture_reports, caplog):
    assert len(fixture_reports) > 50
    caplog.set_level(logging.WARNING, logger="ckptbot.render")
    for name, (report, _) in fixture_reports.items():
        card = render.report_card(report, requested_by="U222", layers_button_value='{"r":"x"}')
        assert_slack_accepts(card, name)
        if report.error is None:
            assert card.block_ids == [b for b in CARD_ORDER if b in card.block_ids], name
            assert {"verdict", "source", "fields-1", "footer"} <= set(card.block_ids), name
            assert ("show-layers" in card.block_ids) == bool(report.layers), name
            assert ("warnings" in card.block_ids) == bool(report.warnings), name
        tables = render.layer_table(report) if report.layers else []
        for table in tables:
            assert_slack_accepts(table, f"{name} layer table")
        if tables:
            rows = "\n".join(b["text"]["text"] for t in tables for b in t.blocks if b["block_id"].startswith("table-"))
            assert all(layer.name[:render.LAYER_NAME_WIDTH - 1] in rows for layer in report.layers), name
        assert_slack_accepts(render.unfurl_card(report), f"{name} unfurl")
        text = announcement_text(name, "runs/exp1", report, None)
        assert_slack_accepts(announcement(name, "runs/exp1", report, None, text), f"{name} announcement")
    assert [r.getMessage() for r in caplog.records] == []


def _two_thousand_layer_report(fixture_reports) -> Report:
    """A KerasHub-sized stand-in built from a real report: 2,000 custom layers, 12 inputs and outputs
    with long names, 200 metrics, 30 warnings. Its card cannot fit in 11k characters of block text."""
    big = Report.from_dict(fixture_reports["tfk__legacy_adam__save.h5"][0].to_dict())
    first = big.layers[0]
    big.layers = [dataclasses.replace(first, name=f"encoder_block_{i}_attention_output",
                                      class_name=f"keras_hub>TransformerEncoderVariant{i}") for i in range(2000)]
    assert big.model is not None and big.training is not None
    big.model.inputs = [{"name": f"token_stream_{i}_" + "x" * 600, "shape": [None, 512]} for i in range(12)]
    big.model.outputs = [{"name": f"logits_head_{i}_" + "y" * 600, "shape": [None, 512]} for i in range(12)]
    big.training.metrics = [f"metric_{i}_sparse_categorical_accuracy" for i in range(200)]
    big.reload.python = "model = keras.saving.load_model('x.h5')\n" * 200
    for i in range(30):
        big.warn(f"custom-object-{i}", f"layer {i} is the custom class TransformerEncoderVariant{i}; " * 5)
    return big


def test_an_oversized_card_loses_exactly_the_documented_tail_and_says_so(fixture_reports, caplog):
    big = _two_thousand_layer_report(fixture_reports)
    caplog.set_level(logging.WARNING, logger="ckptbot.render")
    card = render.report_card(big, requested_by="U222", layers_button_value='{"r":"x"}')
    assert [d.block_id for d in card.dropped] == ["footer", "show-layers", "warnings"]
    assert all(d.reason.endswith(f"characters of block text, more than {MAX_MESSAGE_TEXT}") for d in card.dropped)
    assert card.block_ids == ["verdict", "source", "fields-1", "reload", "reload-code"]
    assert card.blocks[2]["fields"][2]["text"].startswith("*Layers*\n2000 layers: 1 keras_hub&gt;TransformerEncoder")
    assert_slack_accepts(dataclasses.replace(card, dropped=()), "trimmed card")
    (logged,) = [r.getMessage() for r in caplog.records]
    assert logged.startswith("card for tfk__legacy_adam__save.h5: dropped 3 block(s)") and "warnings (section" in logged


def test_a_2000_layer_table_is_five_messages_and_names_the_rest_instead_of_dropping(fixture_reports):
    big = _two_thousand_layer_report(fixture_reports)
    tables = render.layer_table(big)
    assert len(tables) == render.MAX_TABLE_MESSAGES
    for table in tables:
        assert_slack_accepts(table, "2,000-layer table")
    rows = "\n".join(b["text"]["text"] for t in tables for b in t.blocks if b["block_id"].startswith("table-"))
    listed = rows.count("encoder_block_")
    assert f"encoder_block_{listed - 1}_" in rows and f"encoder_block_{listed}_" not in rows  # the first N, in order
    assert tables[-1].block_ids[-1] == "more-layers"
    assert tables[-1].blocks[-1]["elements"][0]["text"].startswith(f"…and {2000 - listed} more layers")
    assert 0 < listed < 2000


def test_fit_drops_an_invalid_block_where_it_is_and_then_the_tail_and_reports_both():
    good = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}
    blocks = [dict(good, block_id=f"b{i}") for i in range(5)]
    blocks.insert(1, {"type": "section", "block_id": "bad", "text": {"type": "mrkdwn", "text": "y" * 3001}})
    fitted = fit("test message", "fallback", blocks)
    assert fitted.block_ids == ["b0", "b1", "b2"]
    assert fitted.dropped[0] == Dropped("bad", "section", "slack_sdk: text attribute cannot exceed 3000 characters")
    assert [d.block_id for d in fitted.dropped[1:]] == ["b4", "b3"]


def test_cards_give_live_keras_parameter_counts_and_steps_in_numbers_for_people(fixture_reports):
    checked = 0
    for name, (report, live) in fixture_reports.items():
        if report.error is not None or live.get("count_params") is None or report.params is None:
            continue
        text, blocks = render.report_blocks(report)
        shown = _text(blocks)
        assert f"{live['count_params']:,} parameters" in shown, name
        # Weights-only files cannot show frozen layers (the core warns); the split is Keras' for full models.
        if live.get("trainable") is not None and report.params.trainable is not None and report.contents.architecture:
            assert f"({live['trainable']:,} trainable" in shown, name
        opt = live.get("optimizer") or {}
        if report.contents.optimizer_state and opt.get("iterations") is not None:
            assert f"after {opt['iterations']:,} steps" in blocks[0]["text"]["text"], name
        checked += 1
    assert checked > 30


def test_the_verdict_comes_first_and_the_fallback_text_repeats_it(fixture_reports):
    report, live = fixture_reports["tfk__legacy_adam__save.h5"]
    text, blocks = render.report_blocks(report)
    first = blocks[0]["text"]["text"]
    assert first == f":white_check_mark: *Full model (model.save) · legacy HDF5 by Keras {live['keras_version']} · Adam state after 5 steps*"
    assert "Adam state after 5 steps" in text


def test_a_model_with_362_layers_lists_every_layer_across_a_few_thread_messages(fixture_reports):
    report, live = fixture_reports["tfk__many__save.h5"]
    messages = render.layer_table_messages(report)
    table = "\n".join(_text(b) for _, b in messages)
    assert len(live["layers"]) == 362 and table.count("Activation") == 360
    assert 1 < len(messages) <= render.MAX_TABLE_MESSAGES


def test_names_from_a_file_cannot_ping_a_channel_or_break_the_code_block(fixture_reports):
    report, _ = fixture_reports["tfk__legacy_adam__save.h5"]
    hostile = Report.from_dict(report.to_dict())
    hostile.source.name = "<!channel> ```evil``` & co"
    hostile.layers[1].name = "<!here>" + "x" * 5000
    hostile.reload.python = "print('```')\n" * 2000
    text, blocks = render.report_blocks(hostile, layers_button_value="{}")
    shown = _text(blocks)
    assert "<!channel>" not in shown and "<!here>" not in shown and "&lt;!channel&gt;" in shown
    card = render.report_card(hostile, layers_button_value="{}")
    assert_slack_accepts(card, "hostile card")
    assert card.block_ids == ["verdict", "source", "fields-1", "reload", "reload-code", "show-layers"]
    for table in render.layer_table(hostile):
        assert "<!here>" not in _text(table.blocks)
        assert_slack_accepts(table, "hostile table")


def test_a_report_with_hundreds_of_warnings_is_cut_not_rejected(fixture_reports):
    report, _ = fixture_reports["k3__conv__save.keras"]
    noisy = Report.from_dict(report.to_dict())
    for i in range(500):
        noisy.warn(f"w{i}", "a long warning " * 40)
    hidden = len(noisy.warnings) - render.MAX_WARNINGS_LISTED
    card = render.report_card(noisy)
    assert_slack_accepts(card, "noisy card")
    assert all(len(b.get("text", {}).get("text", "")) <= MAX_SECTION_TEXT for b in card.blocks)
    assert "warnings" in card.block_ids and f"…and {hidden} more" in _text(card.blocks)


def test_errors_say_what_happened_in_one_card(tmp_path):
    (tmp_path / "pointer.h5").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:"
                                         + "a" * 64 + "\nsize 123456789\n")
    report = _inspect(tmp_path / "pointer.h5")
    card = render.error_card(report)
    assert card.blocks[0]["text"]["text"].startswith(":x: *pointer.h5*: This is a Git LFS pointer")
    assert "git lfs pull" in card.text and card.block_ids == ["error", "error-code"]
    assert_slack_accepts(card, "error card")


@pytest.mark.keras
def test_a_keras_model_with_tens_of_thousands_of_parameters_reads_with_thousands_separators(tmp_path):
    script = textwrap.dedent("""
        import json, sys, numpy as np, tf_keras as keras
        model = keras.Sequential([keras.Input((200,)), keras.layers.Dense(300, activation="relu"),
                                  keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(np.zeros((96, 200)), np.zeros((96, 10)), batch_size=32, epochs=1, verbose=0)
        model.save(sys.argv[1])
        print(json.dumps({"params": model.count_params(), "steps": int(model.optimizer.iterations.numpy())}))
    """)
    path = tmp_path / "wide.h5"
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=300,
                         env={"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    live = json.loads(out.stdout.strip().splitlines()[-1])
    text, blocks = render.report_blocks(_inspect(path))
    assert live["params"] == 63_310 and "63,310 parameters (63,310 trainable" in _text(blocks)
    assert f"Adam state after {live['steps']} steps" in text


@pytest.mark.parametrize("a, b", [("k3__toy__save.keras", "k3__conv__save.keras"),
                                  ("k3__toy__save_weights.weights.h5", "k3__nested__save.keras"),
                                  ("k3__toy__save_weights.weights.h5", "k3__toy__save.keras")])
def test_diff_and_check_answers_lose_no_block(fixtures_dir, a, b):
    kw = {"allow_any_local": True, "isolate": False}
    diff = render.result_card(f"diff {a} → {b}", service.diff(str(fixtures_dir / a), str(fixtures_dir / b), **kw))
    assert_slack_accepts(diff, "diff")
    assert diff.block_ids == ["headline", "changes"]
    check = render.result_card(f"check {a} against {b}",
                               service.check(str(fixtures_dir / a), str(fixtures_dir / b), **kw))
    assert_slack_accepts(check, "check")
    assert check.block_ids[0] == "headline"
