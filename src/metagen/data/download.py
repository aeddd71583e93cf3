"""Fetching the official archives, for users with internet access, with checksum verification.

A download goes to a temporary file beside the target, its md5 is checked against the published
one, and only then is it renamed into place: a failed or tampered download never leaves a file
that looks complete.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

from metagen.data.omniglot import OFFICIAL_ZIPS
from metagen.errors import InputError


def file_md5(path: str | Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_verified(url: str, target: str | Path, md5: str, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``target`` if it is not already there with the right md5."""
    target = Path(target)
    if target.is_file() and file_md5(target) == md5:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
        got = file_md5(tmp)
        if got != md5:
            raise InputError(f"download of {url} has md5 {got}, expected {md5}; not saved")
        os.replace(tmp, target)
    except OSError as exc:
        raise InputError(f"cannot download {url}: {exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def download_omniglot(folder: str | Path, base_url: str | None = None) -> list[Path]:
    """Fetch both official Omniglot zips into ``folder``; ``base_url`` replaces the GitHub location
    (a mirror, or a ``file://`` folder)."""
    paths = []
    for url, md5 in OFFICIAL_ZIPS.values():
        name = url.rsplit("/", 1)[-1]
        paths.append(download_verified(f"{base_url.rstrip('/')}/{name}" if base_url else url, Path(folder) / name, md5))
    return paths
