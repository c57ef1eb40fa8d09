"""Exit codes of every `ckptbot` command: one table (each code is asserted by a CLI test).

Their own module so that the commands (bot/cli.py), the bot's startup (bot/app.py) and the
watcher share them without importing each other.
"""

from __future__ import annotations

EXIT_OK = 0  # a model was inspected / diff or check ran and the weights load
EXIT_INTERNAL = 1  # a bug in ckptbot (the report or message says so)
EXIT_NOT_A_MODEL = 2  # the input is not a model (the report carries `error`)
EXIT_CHECK_FAILS = 3  # `check`: the weights will not load into that architecture
EXIT_CONFIG = 4  # bad or missing configuration (names the variable), or Redis unreachable for `cache`
EXIT_USAGE = 64  # bad command-line usage (EX_USAGE), distinct from "not a model"
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it

TABLE = "\n".join(f"  {v:>3}  {k}" for k, v in sorted(
    ((k, v) for k, v in globals().items() if k.startswith("EXIT_")), key=lambda kv: kv[1]))
