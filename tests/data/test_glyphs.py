"""The embedded glyph data set."""

import numpy as np
import pytest

from metagen.data.glyphs import font_paths, load_glyphs
from metagen.errors import InputError


def test_several_hundred_characters_at_16_fonts():
    assert len(font_paths()) >= 16
    ds = load_glyphs()
    assert ds.num_classes >= 300
    assert (ds.class_sizes() >= 16).all()
    assert ds.images.shape[1:] == (1, 28, 28)
    a = ds.images_of(ds.class_index("U+0041"))  # 'A'
    assert ds.class_meta[ds.class_index("U+0041")]["char"] == "A"
    assert a[:, 0, 0, :].max() < 16 and a.mean() > 20  # white ink on a black border


def test_rendering_is_deterministic_and_jitter_is_seeded():
    a = load_glyphs(size=16, min_fonts=16, jitter=1, seed=3, use_cache=False)
    b = load_glyphs(size=16, min_fonts=16, jitter=1, seed=3, use_cache=False)
    np.testing.assert_array_equal(a.images, b.images)
    assert (a.class_sizes() >= 32).all()
    c = load_glyphs(size=16, min_fonts=16, jitter=1, seed=4, use_cache=False)
    assert not np.array_equal(a.images, c.images)


def test_bad_options():
    with pytest.raises(InputError, match="min_fonts"):
        load_glyphs(min_fonts=1000)
