"""Mutated model files never take the parser down with them: every case gets an answer.

hypothesis flips bytes, truncates, or overwrites 8 bytes with 0xFF in real fixtures (a
legacy Keras .h5, a Keras 3 .keras, a Keras 3 .weights.h5 and a TF checkpoint index), the mutations the security reference's fuzz run
used (security.md §3.1: ~0.05 % hang, some segfault on this h5py).  Each mutant goes through
a pool of pre-started isolated workers.  A bounded number of cases runs in CI; raise
FUZZ_CASES locally for a longer run. A damaged file must get a damaged-file answer: an
`internal` report (the core raised) fails the case.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.errors import ErrorCode  # noqa: E402
from bot.isolation import ParserPool  # noqa: E402
from bot.report import FORMATS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEEDS = {
    "legacy.h5": (ROOT / "tests" / "fixtures" / "hostile" / "byteflip_seed.h5").read_bytes(),
    "model.keras": (ROOT / "tests" / "fixtures" / "keras" / "k3__seq__save.keras").read_bytes(),
    "w.weights.h5": (ROOT / "tests" / "fixtures" / "keras" / "k213__toy__save_weights.weights.h5").read_bytes(),
    "m.index": (ROOT / "tests" / "fixtures" / "keras" / "tfk__legacy_adam__save_weights_ckpt" / "m.index").read_bytes(),
}
FUZZ_CASES = 160  # ~30 ms each through warm workers; a hang costs the 2 s wall limit
# Every code a damaged file may get. `internal` is not one: it means the core raised, a bug in
# ckptbot, and a fuzz case that finds one fails (then it goes into FOUND below once fixed).
CODES = {code.value for code in ErrorCode if code is not ErrorCode.INTERNAL}


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    root = tmp_path_factory.mktemp("mutants")
    limits = Settings(CKPTBOT_MAX_WALL_SECONDS="2", CKPTBOT_LOCAL_ROOTS=str(root))
    with ParserPool(2, limits) as workers:
        yield workers, root


def _mutations():
    flips = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8)
    truncation = st.floats(0, 1, exclude_max=True).map(lambda at: ("truncate", at))
    overwrite = st.floats(0, 1, exclude_max=True).map(lambda at: ("ff8", at))
    return st.one_of(flips.map(lambda f: ("flip", f)), truncation, overwrite)


def _mutate(data: bytes, mutation) -> bytes:
    kind, arg = mutation
    out = bytearray(data)
    if kind == "flip":
        for at, value in arg:
            out[int(at * len(out))] = value
    elif kind == "truncate":
        del out[int(arg * len(out)):]
    else:
        at = int(arg * (len(out) - 8))
        out[at:at + 8] = b"\xff" * 8
    return bytes(out)


@settings(max_examples=FUZZ_CASES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(sorted(SEEDS)), mutation=_mutations())
def test_every_mutant_gets_an_answer_and_the_pool_survives(pool, seed, mutation):
    workers, root = pool
    path = root / seed
    path.write_bytes(_mutate(SEEDS[seed], mutation))
    report = workers.submit(str(path))
    assert report.format in FORMATS
    assert report.error is None or report.error.code in CODES, (seed, mutation, report.error)


# Mutants the fuzzer found that make the core raise (an `internal` report): kept as regressions.
FOUND = [("model.keras", ("flip", [(0.9375, 1)]))]  # KeyError from h5py in h5safe.child()


@pytest.mark.parametrize("seed, mutation", FOUND)
def test_mutants_found_earlier_are_reported_as_damaged_not_as_bugs(pool, seed, mutation):
    workers, root = pool
    path = root / f"found-{seed}"
    path.write_bytes(_mutate(SEEDS[seed], mutation))
    report = workers.submit(str(path))
    assert report.error is not None and report.error.code != ErrorCode.INTERNAL.value, report.error
