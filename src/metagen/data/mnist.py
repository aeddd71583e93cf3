"""MNIST-format IDX files (LeCun et al. 1998), gzipped or not.

IDX: a 4-byte magic (two zero bytes, a type code, the number of dimensions), one big-endian uint32
per dimension, then the data. metagen reads unsigned-byte images [N, H, W] and labels [N].
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from metagen.data.dataset import ClassImageDataset
from metagen.errors import InputError

UBYTE = 0x08


def read_idx(path: str | Path) -> np.ndarray:
    """Read an unsigned-byte IDX file (``.gz`` or plain) into an array of its declared shape."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"IDX file not found: {p}")
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{p}: corrupt gzip data ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise InputError(f"{p}: not an IDX file (bad magic number)")
    if raw[2] != UBYTE:
        raise InputError(f"{p}: IDX data type 0x{raw[2]:02x} is not unsigned byte (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{p}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = int(np.prod(shape)) if shape else 0
    if len(raw) - header != expected:
        raise InputError(f"{p}: IDX body has {len(raw) - header} bytes, the header declares {expected} (truncated?)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def _find(root: Path, stem: str) -> Path:
    for base in (root, root / "mnist"):
        for name in (f"{stem}.gz", stem):
            if (base / name).is_file():
                return base / name
    raise InputError(f"MNIST file {stem}(.gz) not found under {root}")


def load_mnist(root: str | Path, split: str = "t10k") -> ClassImageDataset:
    """Load ``<split>-images-idx3-ubyte`` and ``<split>-labels-idx1-ubyte`` (``train`` or ``t10k``)."""
    root = Path(root).expanduser()
    if not root.exists():
        raise InputError(f"MNIST not found: {root} does not exist")
    images = read_idx(_find(root, f"{split}-images-idx3-ubyte"))
    labels = read_idx(_find(root, f"{split}-labels-idx1-ubyte")).astype(np.int64)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise InputError(f"MNIST under {root}: images {images.shape} and labels {labels.shape} do not match")
    if labels.max(initial=0) > 9:
        raise InputError(f"MNIST under {root}: label {labels.max()} out of range 0..9")
    return ClassImageDataset(f"mnist-{split}", images[:, None], labels, [str(d) for d in range(10)])
