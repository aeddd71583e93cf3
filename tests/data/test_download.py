"""Checksum-verified downloads, tested on local files (file:// URLs)."""

import hashlib
from pathlib import Path

import pytest

from metagen.data.download import download_verified
from metagen.errors import InputError


def test_verified_download_and_refusal(tmp_path: Path):
    src = tmp_path / "src.zip"
    src.write_bytes(b"omniglot bytes")
    md5 = hashlib.md5(b"omniglot bytes").hexdigest()
    got = download_verified(src.as_uri(), tmp_path / "out" / "a.zip", md5)
    assert got.read_bytes() == b"omniglot bytes"
    with pytest.raises(InputError, match="expected 0000"):
        download_verified(src.as_uri(), tmp_path / "out" / "b.zip", "0000")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.zip"]  # nothing half-written


def test_unreachable_url(tmp_path: Path):
    with pytest.raises(InputError, match="cannot download"):
        download_verified((tmp_path / "absent.zip").as_uri(), tmp_path / "x.zip", "0")
