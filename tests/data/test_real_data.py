"""Loaders against the real data sets in ../shared/data: exact published counts."""

import time

import numpy as np
import pytest

from metagen.data.faces import load_att_faces, load_celeba_identities
from metagen.data.mnist import load_mnist
from metagen.data.omniglot import load_omniglot
from metagen.data.registry import class_split, load_dataset
from metagen.data.splits import apply_split, packaged_split

pytestmark = pytest.mark.shared_data


def test_omniglot_counts_alphabets_and_polarity(shared_data):
    bg = load_omniglot(shared_data / "omniglot", "background")
    ev = load_omniglot(shared_data / "omniglot", "evaluation")
    assert (bg.num_classes, ev.num_classes) == (964, 659)
    assert bg.images.shape == (964 * 20, 1, 28, 28) and (bg.class_sizes() == 20).all()
    assert (ev.class_sizes() == 20).all()
    assert len({m["alphabet"] for m in bg.class_meta}) == 30
    assert len({m["alphabet"] for m in ev.class_meta}) == 20
    # white strokes on black: the border is black, and ink covers a minority of pixels
    assert bg.images[:, :, 0, :].mean() < 5 and bg.images.mean() < 50


def test_omniglot_other_size_and_rotations(shared_data):
    ds = load_omniglot(shared_data / "omniglot", "evaluation", size=32)
    assert ds.image_size == (32, 32)
    from metagen.data.dataset import rotation_augmented

    part = ds.subset(range(5))
    rot = rotation_augmented(part)
    assert rot.num_classes == 20
    np.testing.assert_array_equal(rot.images_of(5), np.rot90(part.images_of(0), 1, axes=(2, 3)))


def test_omniglot_second_load_is_fast(shared_data):
    load_omniglot(shared_data / "omniglot", "background")
    t0 = time.perf_counter()
    load_omniglot(shared_data / "omniglot", "background")
    assert time.perf_counter() - t0 < 2.0


def test_omniglot_protocol_split(shared_data):
    ds = load_dataset("omniglot", shared_data)
    split = class_split("omniglot", ds, seed=0)
    assert (len(split.train), len(split.val), len(split.test)) == (900, 64, 659)
    assert split == class_split("omniglot", ds, seed=0)


def test_celeba_identity_subset(shared_data):
    ds = load_celeba_identities(shared_data / "faces")
    assert (ds.num_classes, ds.images.shape[0]) == (299, 6275)
    assert ds.images.shape[1:] == (3, 64, 64)
    big = load_celeba_identities(shared_data / "faces", min_images=20)
    assert big.num_classes == 202
    split = packaged_split("celeba_identities")
    assert len(split.train) + len(split.val) + len(split.test) == 202
    assert apply_split(big, split, "test").num_classes == 50


def test_att_faces(shared_data):
    ds = load_att_faces(shared_data / "faces")
    assert ds.num_classes == 40 and (ds.class_sizes() == 10).all()
    assert ds.images.shape[1:] == (1, 64, 64)
    split = packaged_split("att_faces")
    assert (len(split.train), len(split.test)) == (30, 10)
    assert apply_split(ds, split, "train").num_classes == 30


def test_mnist_test_split(shared_data):
    ds = load_mnist(shared_data / "mnist")
    assert ds.images.shape == (10000, 1, 28, 28) and ds.num_classes == 10
    assert ds.class_sizes().sum() == 10000 and ds.class_sizes().min() > 800
