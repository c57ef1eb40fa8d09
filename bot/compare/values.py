"""`diff --values`: how far each weight moved between two files, read block by block.

The two Reports say which weights pair up (bot.compare.diff); this module finds each weight's
HDF5 dataset in its file (legacy H5 through `weight_names`, v3 files through the layer's group
path, `.keras` archives through the stored `model.weights.h5` member, sharded weights across
their shards) and compares the numbers in blocks of at most VALUE_BLOCK_BYTES per side, so
memory stays bounded whatever the model size.  TF bundles (checkpoints, SavedModels) are not
compared: their Reports say so in `values_note`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import zipfile
from typing import Iterator

import h5py
import numpy as np

from bot.analysis.io import h5safe
from bot.analysis.io.artifact import Artifact
from bot.compare.diff import layer_pairs, weight_key, weight_pairs
from bot.compare.results import ValueDelta
from bot.errors import AnalysisError, ErrorCode
from bot.report import LayerInfo, Report

# Per side and per read: 4 MiB of stored values; with both sides as float64 about 6 blocks are live.
VALUE_BLOCK_BYTES = 4 * 1024**2
H5_FORMATS = ("keras-h5-model", "keras-h5-weights", "keras-v3-weights", "keras-v3-sharded-weights",
              "keras-v3-archive")
_COUNTER = re.compile(r"^(.*?)(?:_(\d+))?$")


def compare_values(art_a: Artifact, rep_a: Report, art_b: Artifact, rep_b: Report
                   ) -> tuple[list[ValueDelta], str | None]:
    """(one ValueDelta per weight on both sides with the same shape, a note on what was not compared)."""
    for r in (rep_a, rep_b):
        if r.format not in H5_FORMATS:
            return [], f"Values are compared for Keras HDF5-based files only; {r.source.name} is a {r.format}."
    out: list[ValueDelta] = []
    skipped = 0
    with _datasets(art_a, rep_a) as da, _datasets(art_b, rep_b) as db:
        for la, lb in layer_pairs(rep_a, rep_b):
            for i_a, i_b, wa, wb in _indexed_pairs(la, lb):
                if wa is None or wb is None or list(wa.shape) != list(wb.shape):
                    continue
                dsa, dsb = _at(da, la.name, i_a), _at(db, lb.name, i_b)
                if dsa is None or dsb is None:
                    skipped += 1
                    continue
                out.append(_compare(lb.name, weight_key(la, wa), dsa, dsb))
    note = f"{skipped} weight(s) could not be located in the files and were not compared." if skipped else None
    return out, note


def _indexed_pairs(la: LayerInfo, lb: LayerInfo):
    index_a = {id(w): i for i, w in enumerate(la.weights)}
    index_b = {id(w): i for i, w in enumerate(lb.weights)}
    for wa, wb in weight_pairs(la, lb):
        yield (index_a.get(id(wa)), index_b.get(id(wb)), wa, wb)


def _at(found: dict[str, list[h5py.Dataset]], layer: str, index: int | None) -> h5py.Dataset | None:
    items = found.get(layer) or []
    return items[index] if index is not None and index < len(items) else None


# --- locating datasets ------------------------------------------------------------------------------

@contextlib.contextmanager
def _datasets(art: Artifact, report: Report) -> Iterator[dict[str, list[h5py.Dataset]]]:
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(h5safe.open_h5(f)) for f in _open_h5_files(art, report, stack)]
        if report.format in ("keras-h5-model", "keras-h5-weights"):
            yield _legacy_datasets(files[0], report)
        else:
            yield {l.name: _v3_datasets(files, l.path) for l in report.layers if l.path and l.weights}


def _open_h5_files(art: Artifact, report: Report, stack: contextlib.ExitStack) -> list:
    from bot.analysis.keras.keras_v3 import WEIGHTS_H5, _member_file

    if report.format == "keras-v3-archive":
        if art.is_dir():
            child = art.child(WEIGHTS_H5)
            if child is None:
                raise AnalysisError(ErrorCode.CORRUPT, f"{art.name} has no {WEIGHTS_H5}.")
            return [stack.enter_context(child.open())]
        f = stack.enter_context(art.open())
        zf = zipfile.ZipFile(f)
        return [stack.enter_context(_member_file(f, zf, zf.getinfo(WEIGHTS_H5), report))]
    if report.format == "keras-v3-sharded-weights":
        with art.open() as f:
            index = json.loads(f.read())
        names = []
        for v in index.get("weight_map", {}).values():
            names += [n for n in (v if isinstance(v, list) else [v]) if n not in names]
        shards = [art.sibling(n) for n in names if "/" not in n and not n.startswith(".")]
        return [stack.enter_context(s.open()) for s in shards if s is not None]
    return [stack.enter_context(art.open())]


def _legacy_datasets(f: h5py.File, report: Report) -> dict[str, list[h5py.Dataset]]:
    group = f["model_weights"] if "model_weights" in f and "model_config" in f.attrs else f
    out = {}
    for layer in report.layers:
        g = h5safe.child(group, layer.name)
        if not isinstance(g, h5py.Group):
            continue
        names = h5safe.attr_list(g, "weight_names") or []
        out[layer.name] = [d for d in (h5safe.child(g, n) for n in names) if isinstance(d, h5py.Dataset)]
    return out


def _v3_datasets(files: list[h5py.File], path: str) -> list[h5py.Dataset]:
    """A layer's variables in the reader's order: its own vars/0..n, then sub-groups by counter."""
    groups = [g for g in (_get(f, path) for f in files) if isinstance(g, h5py.Group)]
    own: dict[int, h5py.Dataset] = {}
    subs: set[str] = set()
    for g in groups:
        vars_group = h5safe.child(g, "vars")
        if isinstance(vars_group, h5py.Group):
            own.update({int(k): vars_group[k] for k in vars_group.keys() if k.isdigit()})
        subs |= {k for k in g.keys() if k != "vars"}
    out = [own[k] for k in sorted(own)]
    for key in sorted(subs, key=_counter_key):
        out += _v3_datasets(files, f"{path}/{key}")
    return out


def _get(f: h5py.File, path: str):
    node = f
    for part in path.split("/"):
        node = h5safe.child(node, part) if isinstance(node, h5py.Group) else None
        if node is None:
            return None
    return node


def _counter_key(key: str) -> tuple[str, int]:
    m = _COUNTER.match(key)
    return (m.group(1), int(m.group(2)) if m.group(2) else -1) if m else (key, -1)


# --- comparing --------------------------------------------------------------------------------------

def _compare(layer: str, weight: str, da: h5py.Dataset, db: h5py.Dataset) -> ValueDelta:
    if da.dtype.kind in "SUO" or db.dtype.kind in "SUO":
        return ValueDelta(layer, weight, None, None, False, int(np.prod(da.shape)), "not numeric")
    total, worst, n, identical = 0.0, 0.0, 0, True
    for block in _blocks(tuple(da.shape), max(da.dtype.itemsize, db.dtype.itemsize)):
        d = _numbers(da[block])
        np.subtract(d, _numbers(db[block]), out=d)  # in place: one float64 block per side at most
        np.abs(d, out=d)
        if not d.size:
            continue
        nan = bool(np.isnan(d).any())
        worst = max(worst, float(np.nanmax(d)) if nan and not np.isnan(d).all() else math.nan if nan
                    else float(d.max()))
        total += float(np.nansum(d) if nan else d.sum())
        n += d.size
        identical = identical and not nan and not d.any()
    return ValueDelta(layer, weight, worst if n else 0.0, total / n if n else 0.0, identical, n)


def _numbers(x) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind == "V" and a.dtype.itemsize == 2:  # Keras 3 bfloat16, stored opaque
        import ml_dtypes

        a = a.view(ml_dtypes.bfloat16)
    return a.astype(np.float64)


def _blocks(shape: tuple[int, ...], itemsize: int) -> Iterator[tuple]:
    """Index tuples covering `shape`, each reading at most VALUE_BLOCK_BYTES (a scalar is one block)."""
    if not shape:
        yield ()
        return
    # The first axis k where one index (all of the trailing axes) fits in a block; the leading axes
    # are walked one index at a time, axis k in steps of as many indices as fit.
    k = 0
    while k < len(shape) - 1 and math.prod(shape[k + 1:]) * itemsize > VALUE_BLOCK_BYTES:
        k += 1
    inner = math.prod(shape[k + 1:]) * itemsize
    step = max(1, VALUE_BLOCK_BYTES // max(inner, 1))
    for lead in itertools.product(*(range(n) for n in shape[:k])):
        for start in range(0, shape[k], step):
            yield (*lead, slice(start, min(start + step, shape[k])))
