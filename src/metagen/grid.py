"""Sample grids: rows of images written as one PNG."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from metagen.io import write_bytes_atomic


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (or uint8), any shape -> uint8: clipped to [0, 1], scaled by 255 and
    rounded (as KAIR's ``single2uint`` does before PSNR is measured)."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return arr


def grid_image(rows: Sequence[torch.Tensor | np.ndarray], pad: int = 2, scale: int = 1) -> Image.Image:
    """Lay out ``rows`` (each [n_i, C, H, W], same C, H, W) one row per entry, padded, grey background
    between cells; rows of different lengths are left-aligned."""
    rows = [to_uint8(r) for r in rows]
    c, h, w = rows[0].shape[1:]
    ncols = max(len(r) for r in rows)
    canvas = np.full((len(rows) * (h + pad) + pad, ncols * (w + pad) + pad, c), 64, dtype=np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            canvas[y : y + h, x : x + w] = img.transpose(1, 2, 0)
    image = Image.fromarray(canvas[..., 0] if c == 1 else canvas)
    if scale > 1:
        image = image.resize((image.size[0] * scale, image.size[1] * scale), Image.Resampling.NEAREST)
    return image


def save_png_atomic(image: Image.Image, path: str | Path) -> Path:
    """Write a PNG atomically, so a reader never sees half a file."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return write_bytes_atomic(path, buffer.getvalue())


def save_grid(rows: Sequence[torch.Tensor | np.ndarray], path: str | Path, scale: int = 2) -> Path:
    """Write ``rows`` as a PNG grid at ``path``."""
    return save_png_atomic(grid_image(rows, scale=scale), path)
