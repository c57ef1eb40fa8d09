"""Slack cards for every fixture stay inside Block Kit's limits and say what live Keras says."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bot import service
from bot.render import blocks as render
from bot.render.block_limits import MAX_BLOCKS, MAX_SECTION_TEXT, limit_violations
from bot.report import Report


def _inspect(path) -> Report:
    return service.inspect(str(path), allow_any_local=True, isolate=False)


def _text(blocks: list[dict]) -> str:
    out = []
    for b in blocks:
        out.append((b.get("text") or {}).get("text", ""))
        out += [f.get("text", "") for f in b.get("fields") or []]
        out += [e.get("text", "") for e in b.get("elements") or [] if isinstance(e.get("text"), str)]
    return "\n".join(out)


@pytest.fixture(scope="module")
def fixture_reports(fixtures_dir, expected):
    return {name: (_inspect(fixtures_dir / name), live) for name, live in expected["artifacts"].items()
            if (fixtures_dir / name).exists()}


def test_every_fixture_card_unfurl_and_layer_table_is_within_block_kit_limits(fixture_reports):
    assert len(fixture_reports) > 50
    for name, (report, _) in fixture_reports.items():
        messages = [render.report_blocks(report, requested_by="U222", layers_button_value='{"r":"x"}')]
        messages += render.layer_table_messages(report) if report.layers else []
        for text, blocks in messages:
            assert limit_violations(text, blocks) == [], name
        assert limit_violations("unfurl", render.unfurl_blocks(report)) == [], name


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
    assert limit_violations(text, blocks) == []
    for _, table in render.layer_table_messages(hostile):
        assert "<!here>" not in _text(table) and limit_violations("t", table) == []


def test_a_report_with_hundreds_of_warnings_is_cut_not_rejected(fixture_reports):
    report, _ = fixture_reports["k3__conv__save.keras"]
    noisy = Report.from_dict(report.to_dict())
    for i in range(500):
        noisy.warn(f"w{i}", "a long warning " * 40)
    hidden = len(noisy.warnings) - render.MAX_WARNINGS_LISTED
    text, blocks = render.report_blocks(noisy)
    assert len(blocks) <= MAX_BLOCKS and all(len(b.get("text", {}).get("text", "")) <= MAX_SECTION_TEXT for b in blocks)
    assert f"…and {hidden} more" in _text(blocks)


def test_errors_say_what_happened_in_one_card(tmp_path):
    (tmp_path / "pointer.h5").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:"
                                         + "a" * 64 + "\nsize 123456789\n")
    report = _inspect(tmp_path / "pointer.h5")
    text, blocks = render.error_blocks(report)
    assert blocks[0]["text"]["text"].startswith(":x: *pointer.h5*: This is a Git LFS pointer")
    assert "git lfs pull" in text and limit_violations(text, blocks) == []


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
