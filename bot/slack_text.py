"""What people type to the bot, read into plain values: `/ckpt` lines and @mentions.

Slack delivers links as `<url>` or `<url|label>` (and, with `should_escape`, users and
channels as `<@U…>`/`<#C…|name>`), and escapes `&`, `<`, `>` as entities in message text.
This module turns that markup back into the references a person meant, so the handlers
see `https://host/model.h5` and never `<https://host/model.h5|model.h5>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# `<https://x/y.h5|y.h5>` or `<s3://b/k>`: Slack's link markup; the label is for display only.
# (Applied after _OTHER_MARKUP, so what is left between `<` and `|`/`>` is a link target.)
_LINK_MARKUP = re.compile(r"<([^|>\s]+)(?:\|[^>]*)?>")
# Any other markup: `<@U123>`, `<#C123|general>`, `<!here>`, `<mailto:a@b|a@b>`.
_OTHER_MARKUP = re.compile(r"<[@#!][^>]*>|<mailto:[^>]*>")
_BARE_LINK = re.compile(r"(?:https?|s3|file)://[^\s<>|\"'`]+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?)]}>'\"`"
MODEL_SUFFIXES = (".h5", ".hdf5", ".keras", ".zip", ".pb", ".tflite", ".onnx", ".safetensors", ".pt",
                  ".pth", ".bin", ".ckpt", ".index", ".npz", ".npy", ".msgpack", ".weights")

HELP = "help"
INSPECT = "inspect"


@dataclass(frozen=True)
class Request:
    """One question: `name` is a subcommand ("inspect", "diff", "check", "help", …), `args` its references."""

    name: str
    args: list[str] = field(default_factory=list)
    # What the person typed after the subcommand, for usage messages.
    text: str = ""


def unescape(text: str) -> str:
    """Slack's three entities back to characters (`&amp;` last, so `&amp;lt;` stays `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plain_text(text: str) -> str:
    """Links unwrapped to their URL, user/channel markup removed, entities unescaped."""
    text = _OTHER_MARKUP.sub(" ", text)
    text = _LINK_MARKUP.sub(lambda m: f" {m.group(1)} ", text)
    return unescape(text)


def references(text: str) -> list[str]:
    """Links and path-like words in `text`, in order: what the person wants inspected."""
    found: list[str] = []
    for word in plain_text(text).split():
        word = word.strip(_TRAILING_PUNCTUATION + "(<[{")
        if _looks_like_reference(word) and word not in found:
            found.append(word)
    return found


def _looks_like_reference(word: str) -> bool:
    if not word:
        return False
    if _BARE_LINK.fullmatch(word):
        return True
    if word.startswith(("/", "~/", "./", "../")) and len(word) > 1:
        return True
    return word.lower().endswith(MODEL_SUFFIXES) and "://" not in word


def parse_command(text: str, subcommands: frozenset[str] | set[str]) -> Request:
    """`/ckpt` text: `diff a b`, `check w m`, `help`, or a reference to inspect.

    The first word picks the subcommand when it is one of `subcommands`; anything else is a
    reference (the first word, so a path with no slash and no model suffix still works).
    """
    words = plain_text(text).split()
    if not words:
        return Request(HELP)
    head = words[0].lower()
    if head in subcommands:
        rest = " ".join(words[1:])
        return Request(head, references(rest) or words[1:], rest)
    return Request(INSPECT, references(text) or [words[0].strip(_TRAILING_PUNCTUATION)], " ".join(words))


def parse_mention(text: str, subcommands: frozenset[str] | set[str]) -> Request:
    """"@ckptbot what's in <link>?" → inspect; "@ckptbot diff <a> <b>" → diff; no link → help.

    A subcommand counts when it is a word of its own before the first reference, so a link
    whose path contains "diff" is still a link.
    """
    plain = plain_text(text)
    refs = references(text)
    first_ref_at = min((plain.find(r) for r in refs), default=len(plain))
    words = [w.strip(_TRAILING_PUNCTUATION).lower() for w in plain[:first_ref_at].split()]
    for name in subcommands:
        if name in words:
            after = re.split(rf"\b{re.escape(name)}\b", plain, maxsplit=1, flags=re.IGNORECASE)[-1]
            return Request(name, refs, after.strip())
    if not refs:
        return Request(HELP, [], plain.strip())
    return Request(INSPECT, refs[:1], plain.strip())


def is_model_file_name(name: str) -> bool:
    """Upload names worth inspecting (`model.weights.h5`, `ckpt.keras`, `saved_model.zip`, …)."""
    return name.lower().endswith(MODEL_SUFFIXES)
