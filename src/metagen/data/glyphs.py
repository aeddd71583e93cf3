"""An embedded few-shot data set: characters rendered from the fonts that ship with matplotlib.

Each class is one Unicode character; its images are that character in each of the TrueType fonts
in matplotlib's ``mpl-data/fonts/ttf`` folder (DejaVu Sans / Sans Mono / Serif and STIX General,
in their weights and slants: 16 fonts). A character is a class when at least ``min_fonts`` of those
fonts cover it (727 characters qualify at 16). Rendering is deterministic: the glyph is drawn large,
cropped to its ink, centred on a square with a margin and resized with antialiasing, white on
black like Omniglot. Optional seeded affine jitter adds extra images per font.

This is the data ``metagen demo`` uses, so the demo needs no download.
"""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from metagen.data.cache import cached_dataset
from metagen.data.dataset import ClassImageDataset, from_class_arrays
from metagen.errors import InputError

LOADER_VERSION = 1
RENDER_PX = 96  # glyphs are drawn at this size, then cropped and resized
MIN_CODEPOINTS = 1000  # fonts covering fewer code points are symbol or display fonts: left out
EXCLUDED_FONTS = ("LastResort",)  # draws placeholder boxes for every code point


def font_paths() -> list[Path]:
    """The matplotlib TrueType fonts used for rendering, sorted by file name."""
    import matplotlib
    from fontTools.ttLib import TTFont

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    chosen = []
    for path in sorted(folder.glob("*.ttf")):
        if any(x in path.name for x in EXCLUDED_FONTS):
            continue
        if len(TTFont(path, lazy=True).getBestCmap() or {}) >= MIN_CODEPOINTS:
            chosen.append(path)
    return chosen


def covered_characters(fonts: list[Path], min_fonts: int) -> list[str]:
    """Visible characters (letters, digits, punctuation, symbols) covered by >= ``min_fonts`` fonts."""
    from fontTools.ttLib import TTFont

    counts: dict[int, int] = {}
    for path in fonts:
        for cp in TTFont(path, lazy=True).getBestCmap() or {}:
            counts[cp] = counts.get(cp, 0) + 1
    return [chr(cp) for cp in sorted(counts) if counts[cp] >= min_fonts and unicodedata.category(chr(cp))[0] in "LNPS"]


def render_glyph(font: ImageFont.FreeTypeFont, char: str, size: int) -> np.ndarray | None:
    """Draw ``char`` white on black, cropped to its ink, centred with a 10% margin, resized to
    ``size`` x ``size`` with antialiasing. None when the font draws no ink for it."""
    canvas = Image.new("L", (2 * RENDER_PX, 2 * RENDER_PX), 0)
    ImageDraw.Draw(canvas).text((RENDER_PX // 2, RENDER_PX // 2), char, fill=255, font=font)
    box = canvas.getbbox()
    if box is None:
        return None
    ink = canvas.crop(box)
    side = int(max(ink.size) * 1.2) + 2
    square = Image.new("L", (side, side), 0)
    square.paste(ink, ((side - ink.size[0]) // 2, (side - ink.size[1]) // 2))
    return np.asarray(square.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


def jittered(
    image: np.ndarray, rng: np.random.Generator, max_degrees: float = 8.0, max_shift: float = 0.06
) -> np.ndarray:
    """A small random affine copy: rotation up to ``max_degrees``, scale 0.9..1.1, shift up to
    ``max_shift`` of the side."""
    size = image.shape[0]
    angle = rng.uniform(-max_degrees, max_degrees)
    scale = rng.uniform(0.9, 1.1)
    dx, dy = rng.uniform(-max_shift, max_shift, 2) * size
    pil = Image.fromarray(image)
    big = pil.resize((int(size * scale),) * 2, Image.Resampling.LANCZOS).rotate(angle, Image.Resampling.BILINEAR)
    out = Image.new("L", (size, size), 0)
    out.paste(big, (int(round((size - big.size[0]) / 2 + dx)), int(round((size - big.size[1]) / 2 + dy))))
    return np.asarray(out, dtype=np.uint8)


def load_glyphs(
    size: int = 28, min_fonts: int = 16, jitter: int = 0, seed: int = 0, use_cache: bool = True
) -> ClassImageDataset:
    """The glyph data set: one class per character, one image per covering font (plus ``jitter``
    seeded affine copies of each). Class metadata records the code point and Unicode name."""
    fonts = font_paths()
    if not 1 <= min_fonts <= len(fonts):
        raise InputError(f"min_fonts must be between 1 and {len(fonts)} (the fonts available), got {min_fonts}")
    if jitter < 0:
        raise InputError(f"jitter must be 0 or more, got {jitter}")
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in fonts)).hexdigest()
    transform = {
        "loader": "glyphs",
        "version": LOADER_VERSION,
        "size": size,
        "min_fonts": min_fonts,
        "jitter": jitter,
        "seed": seed,
    }

    def build() -> ClassImageDataset:
        loaded = [ImageFont.truetype(str(p), RENDER_PX) for p in fonts]
        rng = np.random.default_rng(seed)
        per_class, names, meta = [], [], []
        for char in covered_characters(fonts, min_fonts):
            drawn = [g for f in loaded if (g := render_glyph(f, char, size)) is not None]
            if len(drawn) < min_fonts:
                continue
            drawn += [jittered(g, rng) for g in list(drawn) for _ in range(jitter)]
            per_class.append(np.stack(drawn)[:, None])
            names.append(f"U+{ord(char):04X}")
            meta.append({"char": char, "unicode_name": unicodedata.name(char, "")})
        return from_class_arrays("glyphs", per_class, names, meta)

    return cached_dataset(digest, transform, build, use_cache)
