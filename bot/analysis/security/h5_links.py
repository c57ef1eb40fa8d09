"""Every link and dataset of an HDF5 file checked once for what makes a loader read elsewhere.

The readers only visit what Keras names (layer_names, vars/N), so a link hung anywhere else in the
file was silent; a loader that walks the file (h5py visititems, tf-keras by_name loading, a scanner)
would follow it.  Links are read with getlink=True, never followed; groups are visited once by object
address, so a hard-link cycle ends the walk instead of looping (CVE-2026-1669 patterns).
"""

from __future__ import annotations

import h5py

from bot.report import SecurityFinding

# Keras files hold a few thousand objects; the walk stops here and says so.
MAX_LINKS = 200_000
# Shape bomb: declared bytes above 1 GiB and over 1,000 times what is stored (Keras 3.15's check is
# the same idea: declared >> stored, keras/src/saving/saving_lib.py).
BOMB_MIN_BYTES = 1 << 30
BOMB_RATIO = 1000


def _f(code: str, where: str, message: str) -> SecurityFinding:
    return SecurityFinding(code, ["CVE-2026-1669"] if code == "hdf5-link" else [], where, message, [])


def link_findings(h5: h5py.File) -> list[SecurityFinding]:
    out: list[SecurityFinding] = []
    seen_groups: set[int] = {h5py.h5o.get_info(h5.id).addr}
    stack: list[h5py.Group] = [h5]
    count = 0
    while stack:
        group = stack.pop()
        for key in list(group.keys()):
            count += 1
            where = f"{group.name.rstrip('/')}/{key}"
            if count > MAX_LINKS:
                return out + [_f("hdf5-too-many-objects", where, f"More than {MAX_LINKS:,} HDF5 links; "
                                 "I stopped checking there.")]
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                out.append(_f("hdf5-link", where, f"An HDF5 external link to {link.filename!r} "
                              f"(object {link.path!r}): a loader that follows it reads that file."))
                continue
            if isinstance(link, h5py.SoftLink):
                out.append(_f("hdf5-link", where, f"An HDF5 soft link to {link.path!r}: Keras never writes links."))
                continue
            try:
                obj = group[key]
            except (KeyError, OSError, RuntimeError, ValueError):
                continue  # unreadable entries are the readers' business
            if isinstance(obj, h5py.Group):
                addr = h5py.h5o.get_info(obj.id).addr
                if addr in seen_groups:
                    out.append(_f("hdf5-link-cycle" if _is_ancestor(obj, group) else "hdf5-hard-link", where,
                                  f"`{where}` is another name for a group already seen: a hard link"
                                  + (" back to its own ancestor, a cycle." if _is_ancestor(obj, group) else ".")))
                    continue
                seen_groups.add(addr)
                stack.append(obj)
            elif isinstance(obj, h5py.Dataset):
                out.extend(_dataset_findings(obj, where))
    return out


def _is_ancestor(candidate: h5py.Group, group: h5py.Group) -> bool:
    # h5py names an object by the path it was opened through; compare addresses up the opened path.
    target = h5py.h5o.get_info(candidate.id).addr
    node = group
    for _ in range(64):
        if h5py.h5o.get_info(node.id).addr == target:
            return True
        if node.name in ("/", None):
            return False
        node = node.parent
    return False


def _dataset_findings(ds: h5py.Dataset, where: str) -> list[SecurityFinding]:
    out: list[SecurityFinding] = []
    try:
        if ds.is_virtual:
            out.append(_f("hdf5-link", where, "A virtual dataset that maps data from other files."))
        external = ds.external
        if external:
            out.append(_f("hdf5-link", where, f"A dataset stored in the external file {external[0][0]!r}."))
        declared = ds.dtype.itemsize * _count(ds.shape or ())
        stored = ds.id.get_storage_size()
        # Real weights store about what they declare (gzip of noise: ~1x); a fill-value-only dataset
        # declaring a terabyte in a few KB is the CVE-2026-0897 shape bomb.
        if declared > BOMB_MIN_BYTES and declared > BOMB_RATIO * max(stored, 1):
            out.append(SecurityFinding("size-bomb", ["CVE-2026-0897"], where,
                                       f"Declares {declared:,} bytes but stores {stored:,}: loading it would "
                                       "allocate the declared size.", []))
    except (OSError, RuntimeError, ValueError, OverflowError):
        pass
    return out


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n
