"""Episode sampling: shapes, labels, disjointness, determinism and refusals."""

import numpy as np
import pytest
import torch

from metagen.data.dataset import from_class_arrays
from metagen.errors import InputError
from metagen.tasks.sampler import EpisodeSampler, generation_task


@pytest.fixture
def dataset():
    # class c's images are all the value c * 10 + i, so every image is identifiable
    per_class = [np.stack([np.full((1, 4, 4), c * 10 + i, dtype=np.uint8) for i in range(8)]) for c in range(6)]
    return from_class_arrays("toy", per_class, [f"k{c}" for c in range(6)])


def ids(x):
    return set((x[:, 0, 0, 0] * 255).round().int().tolist())


def test_shapes_labels_and_disjoint_support_query(dataset):
    task = EpisodeSampler(dataset, n_way=3, k_shot=2, q_query=3).sample(np.random.default_rng(0))
    assert task.support_x.shape == (6, 1, 4, 4) and task.query_x.shape == (9, 1, 4, 4)
    assert task.support_y.tolist() == [0, 0, 1, 1, 2, 2]
    assert task.query_y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert not ids(task.support_x) & ids(task.query_x)
    for label, c in enumerate(task.classes):  # every image belongs to its labelled class
        sx = (task.support_x[task.support_y == label, 0, 0, 0] * 255).round().int()
        assert ((sx // 10) == c).all()
    assert len(set(task.classes)) == 3


def test_deterministic_for_a_seed(dataset):
    s = EpisodeSampler(dataset, 2, 1, 1)
    a = s.sample_batch(np.random.default_rng(5), 4)
    b = s.sample_batch(np.random.default_rng(5), 4)
    assert all(torch.equal(x.support_x, y.support_x) and x.classes == y.classes for x, y in zip(a, b))
    c = s.sample_batch(np.random.default_rng(6), 4)
    assert any(x.classes != y.classes or not torch.equal(x.support_x, y.support_x) for x, y in zip(a, c))


def test_fewer_images_than_k_plus_q(dataset):
    with pytest.raises(InputError, match="need 9 images per class"):
        EpisodeSampler(dataset, 2, 5, 4)
    with pytest.raises(InputError, match="need 7 classes"):
        EpisodeSampler(dataset, 7, 1, 1)


def test_generation_task(dataset):
    task = generation_task(dataset, 4, 5, np.random.default_rng(0))
    assert task.classes == (4,) and task.support_x.shape[0] == 5 and task.query_x.shape[0] == 3
    with pytest.raises(InputError, match="at least 9"):
        generation_task(dataset, 4, 8, np.random.default_rng(0))
