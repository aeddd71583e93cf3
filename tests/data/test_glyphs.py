"""The embedded glyph data set."""

import numpy as np
import pytest

from metagen.data.glyphs import font_paths, jittered, load_glyphs
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


def test_rendering_is_deterministic():
    cached = load_glyphs()
    fresh = load_glyphs(use_cache=False)
    np.testing.assert_array_equal(cached.images, fresh.images)
    assert cached.class_names == fresh.class_names


def test_jitter_is_seeded_and_small():
    glyph = load_glyphs().images[0, 0]
    a = jittered(glyph, np.random.default_rng(3))
    assert np.array_equal(a, jittered(glyph, np.random.default_rng(3)))
    assert not np.array_equal(a, jittered(glyph, np.random.default_rng(4)))
    assert abs(int(a.astype(int).sum()) - int(glyph.astype(int).sum())) < 0.35 * glyph.astype(int).sum()


def test_bad_options():
    with pytest.raises(InputError, match="min_fonts"):
        load_glyphs(min_fonts=1000)
