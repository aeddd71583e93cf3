"""Decoding image files safely into arrays.

Every image that enters metagen passes through :func:`decode_image`, so that a corrupt, truncated,
empty or oversized file gives one clear ``InputError`` that names the file, never a Pillow traceback.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from metagen.errors import InputError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".pbm", ".tif", ".tiff")

ColourMode = Literal["L", "RGB"]


def is_image_name(name: str) -> bool:
    """True when ``name`` ends with an image extension metagen reads."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def open_image(data: bytes, source: str) -> Image.Image:
    """Decode ``data`` fully into a Pillow image; raise ``InputError`` naming ``source`` on failure.

    Pillow's decompression-bomb warning is treated as an error, so an image over
    ``PIL.Image.MAX_IMAGE_PIXELS`` is refused rather than decoded.
    """
    if len(data) == 0:
        raise InputError(f"{source}: empty file (0 bytes), not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(
            f"{source}: image too large ({exc}); refusing to decode it (Pillow's decompression-bomb limit)"
        ) from None
    except UnidentifiedImageError:
        raise InputError(f"{source}: not an image file metagen can read (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{source}: corrupt or truncated image ({exc})") from None
    return image


def channel_mode(image: Image.Image) -> ColourMode:
    """'L' for single-channel images (grey, 1-bit, palette without colour), 'RGB' otherwise."""
    if image.mode in ("1", "L", "I", "I;16", "F", "LA"):
        return "L"
    if image.mode == "P":
        palette = image.convert("RGB")
        arr = np.asarray(palette)
        return "L" if np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]) else "RGB"
    return "RGB"


def to_array(image: Image.Image, mode: ColourMode, size: int | tuple[int, int] | None) -> np.ndarray:
    """Convert to ``mode``, resize with antialiasing to ``size`` (square int or (width, height)),
    and return uint8 of shape [C, H, W]."""
    if image.mode in ("I", "I;16", "F"):
        arr = np.asarray(image, dtype=np.float64)
        span = max(arr.max() - arr.min(), 1e-12)
        image = Image.fromarray(((arr - arr.min()) / span * 255).round().astype(np.uint8))
    converted = image.convert(mode)
    if size is not None:
        wh = (size, size) if isinstance(size, int) else size
        if converted.size != wh:
            converted = converted.resize(wh, Image.Resampling.LANCZOS)
    arr = np.asarray(converted, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(2, 0, 1))


def read_image_file(
    path: str | Path, mode: ColourMode | None = None, size: int | tuple[int, int] | None = None
) -> np.ndarray:
    """Read one image file into uint8 [C, H, W]. ``mode`` None keeps the file's own channel count."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"image not found: {p}")
    if p.is_dir():
        raise InputError(f"{p}: is a folder, expected an image file")
    image = open_image(p.read_bytes(), str(p))
    return to_array(image, mode or channel_mode(image), size)
