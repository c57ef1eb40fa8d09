"""Rewrite every golden output after a change in what users see:

    python tests/golden/regenerate.py

then read `git diff tests/golden/` — that diff IS the change users will see — and commit it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.golden.cases import CASES, ROOT, files  # noqa: E402


def main() -> int:
    for case in CASES:
        for path, text in files(case).items():
            old = path.read_text() if path.exists() else None
            path.write_text(text)
            print(f"{'unchanged' if old == text else 'written  '} {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
