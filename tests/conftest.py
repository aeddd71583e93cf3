"""Shared fixtures. Tests that need ../shared/data fail (not skip) when it is missing under CI."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# One decoded-image cache per test session, so tests never depend on (or fill) the user's cache.
os.environ.setdefault("METAGEN_CACHE", tempfile.mkdtemp(prefix="metagen-test-cache-"))

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets: $METAGEN_DATA, else ../shared/data beside the repository."""
    root = Path(os.environ.get("METAGEN_DATA") or REPO.parent / "shared" / "data")
    if not (root / "omniglot").is_dir():
        message = f"real data not found at {root} (set METAGEN_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return root


def write_image(path: Path, array: np.ndarray, fmt: str | None = None) -> Path:
    """Write a uint8 [H, W] or [H, W, 3] array as an image file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)
    return path


@pytest.fixture
def class_folder(tmp_path: Path) -> Path:
    """Three classes of 6 grey 20x20 images in assorted formats."""
    rng = np.random.default_rng(0)
    root = tmp_path / "classes"
    exts = [".png", ".bmp", ".pgm", ".tif", ".jpg", ".png"]
    for c in range(3):
        for i, ext in enumerate(exts):
            write_image(root / f"class{c}" / f"img{i}{ext}", rng.integers(0, 256, (20, 20), dtype=np.uint8))
    return root
