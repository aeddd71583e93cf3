"""Class splits: disjoint, seeded, stored."""

import pytest

from metagen.data.splits import ClassSplit, make_split
from metagen.errors import InputError

NAMES = [f"c{i}" for i in range(100)]


def test_disjoint_complete_and_seeded(tmp_path):
    s = make_split(NAMES, 0.1, 20, seed=1)
    assert (len(s.train), len(s.val), len(s.test)) == (70, 10, 20)
    assert set(s.train) | set(s.val) | set(s.test) == set(NAMES)
    assert s == make_split(NAMES, 0.1, 20, seed=1)
    assert s != make_split(NAMES, 0.1, 20, seed=2)
    s.save(tmp_path / "split.json")
    assert ClassSplit.load(tmp_path / "split.json") == s


def test_overlap_and_impossible_sizes_are_refused():
    with pytest.raises(InputError, match="not disjoint"):
        ClassSplit(("a", "b"), ("b",), ())
    with pytest.raises(InputError, match="cannot split"):
        make_split(NAMES, 50, 50, seed=0)
