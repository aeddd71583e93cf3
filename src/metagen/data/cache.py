"""On-disk cache of decoded, resized data sets.

An entry is keyed by a digest of the source's bytes and of the transform (size, channels, loader
version), so editing a source file or asking for another size gives a new entry, never a stale one.
Entries are ``.npz`` files written atomically and read with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from metagen.data.dataset import ClassImageDataset
from metagen.io import write_bytes_atomic
from metagen.paths import cache_dir

CACHE_FORMAT = 1


def digest_file(path: Path, h: "hashlib._Hash | None" = None) -> str:
    """sha256 of a file's bytes (or feed them into ``h`` and return its hex digest so far)."""
    h = h or hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest_files(root: Path, files: Iterable[Path]) -> str:
    """sha256 over the relative paths and bytes of ``files`` (in sorted order)."""
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(str(f.relative_to(root)).encode() + b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()


def _entry_path(source_digest: str, transform: dict[str, Any]) -> Path:
    key = json.dumps({"source": source_digest, "transform": transform, "format": CACHE_FORMAT}, sort_keys=True)
    return cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.npz"


def _save(path: Path, ds: ClassImageDataset) -> None:
    header = json.dumps({"name": ds.name, "class_names": ds.class_names, "class_meta": ds.class_meta})
    buffer = io.BytesIO()
    np.savez(buffer, images=ds.images, labels=ds.labels, header=np.frombuffer(header.encode(), dtype=np.uint8))
    write_bytes_atomic(path, buffer.getvalue())


def _load(path: Path) -> ClassImageDataset | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(z["header"].tobytes().decode())
            return ClassImageDataset(
                header["name"], z["images"], z["labels"], header["class_names"], header["class_meta"]
            )
    except Exception:  # a damaged entry is rebuilt, never trusted
        return None


def cached_dataset(
    source_digest: str, transform: dict[str, Any], build: Callable[[], ClassImageDataset], use_cache: bool = True
) -> ClassImageDataset:
    """Return the cached data set for (source, transform), building and storing it on a miss."""
    if not use_cache or os.environ.get("METAGEN_CACHE", "") == "off":
        return build()
    path = _entry_path(source_digest, transform)
    if path.exists():
        ds = _load(path)
        if ds is not None:
            return ds
    ds = build()
    try:
        _save(path, ds)
    except OSError:
        pass  # a read-only or full cache folder only costs speed
    return ds
