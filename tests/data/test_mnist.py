"""IDX reading against files written here by an independent encoder (struct)."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from metagen.data.mnist import load_mnist, read_idx
from metagen.errors import InputError


def _idx(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip(tmp_path: Path, gz: bool):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5, 9], dtype=np.uint8)
    for name, arr in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        data = _idx(arr)
        (tmp_path / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)
    ds = load_mnist(tmp_path)
    np.testing.assert_array_equal(ds.images[:, 0], images)
    np.testing.assert_array_equal(ds.labels, labels)


def test_truncated_and_bad_magic(tmp_path: Path):
    data = _idx(np.zeros((3, 4, 4), dtype=np.uint8))
    (tmp_path / "cut").write_bytes(data[:-5])
    with pytest.raises(InputError, match="truncated"):
        read_idx(tmp_path / "cut")
    (tmp_path / "bad").write_bytes(b"\x01\x02" + data[2:])
    with pytest.raises(InputError, match="bad magic"):
        read_idx(tmp_path / "bad")
