"""What people type to the bot, read the way they meant it (Slack's markup unwrapped)."""

from __future__ import annotations

from bot.slack_text import (
    HELP,
    INSPECT,
    is_model_file_name,
    parse_command,
    parse_mention,
    references,
)
from handlers.questions import SUBCOMMAND_WORDS


def test_a_link_with_a_label_is_read_as_its_url():
    assert references("look at <https://models.example.com/a.h5|a.h5> please") == ["https://models.example.com/a.h5"]


def test_entities_in_links_are_unescaped():
    assert references("<https://h.example/m.h5?a=1&amp;b=2>") == ["https://h.example/m.h5?a=1&b=2"]


def test_user_channel_and_special_mentions_are_not_references():
    assert references("<@U123> <#C1|general> <!here> <mailto:a@b.c|a@b.c>") == []


def test_trailing_punctuation_is_not_part_of_a_path():
    assert references("what's in /data/run1/model.keras?") == ["/data/run1/model.keras"]


def test_mention_asking_whats_in_a_link_is_an_inspection():
    request = parse_mention("<@UBOT> what's in <https://x.example/ckpt/model.h5|model.h5>?", SUBCOMMAND_WORDS)
    assert (request.name, request.args) == (INSPECT, ["https://x.example/ckpt/model.h5"])


def test_mention_asking_for_a_diff_names_both_files():
    request = parse_mention("<@UBOT> diff <https://x.example/a.h5> <https://x.example/b.h5>", SUBCOMMAND_WORDS)
    assert (request.name, request.args) == ("diff", ["https://x.example/a.h5", "https://x.example/b.h5"])


def test_a_subcommand_word_inside_a_link_is_still_a_link():
    request = parse_mention("<@UBOT> <https://x.example/diff/check.h5>", SUBCOMMAND_WORDS)
    assert (request.name, request.args) == (INSPECT, ["https://x.example/diff/check.h5"])


def test_a_mention_without_a_link_gets_help():
    assert parse_mention("<@UBOT> hello there", SUBCOMMAND_WORDS).name == HELP


def test_command_text_picks_its_subcommand_from_the_first_word():
    assert parse_command("check w.weights.h5 m.keras", SUBCOMMAND_WORDS).args == ["w.weights.h5", "m.keras"]
    assert parse_command("", SUBCOMMAND_WORDS).name == HELP
    assert parse_command("HELP", SUBCOMMAND_WORDS).name == HELP
    assert parse_command("my_model", SUBCOMMAND_WORDS).args == ["my_model"]  # a bare name is a reference


def test_escaped_command_text_is_read_like_raw_text():
    raw = parse_command("https://x.example/m.keras", SUBCOMMAND_WORDS)
    escaped = parse_command("<https://x.example/m.keras>", SUBCOMMAND_WORDS)
    assert raw == escaped


def test_model_uploads_are_recognised_by_name():
    assert all(map(is_model_file_name, ["m.h5", "M.HDF5", "x.keras", "x.weights.h5", "saved.zip", "m.onnx"]))
    assert not any(map(is_model_file_name, ["photo.jpg", "notes.txt", "h5"]))
