"""Checkpoints: round trip, atomic writes, and refusal of tampered or foreign files."""

import json
import pickle
from pathlib import Path

import pytest
import torch

from metagen.errors import CheckpointError
from metagen.train.checkpoint import (
    load_checkpoint,
    optimizer_from_checkpoint,
    optimizer_to_checkpoint,
    save_checkpoint,
)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    tensors = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(3)}
    return save_checkpoint(tmp_path / "ck", tensors, {"kind": "test", "step": 3})


def test_round_trip_and_no_leftovers(saved: Path):
    tensors, meta = load_checkpoint(saved)
    assert torch.equal(tensors["w"], torch.arange(6.0).reshape(2, 3)) and meta["step"] == 3
    assert sorted(p.name for p in saved.parent.iterdir()) == ["ck.json", "ck.safetensors"]


def test_tampered_weights_are_refused(saved: Path):
    w = saved.with_suffix(".safetensors")
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 does not match"):
        load_checkpoint(saved)


def test_tampered_record_is_refused(saved: Path):
    meta = json.loads(saved.read_text())
    meta["step"] = 999
    saved.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint(saved)


def test_weights_of_another_checkpoint_are_refused(saved: Path, tmp_path: Path):
    other = save_checkpoint(tmp_path / "other", {"w": torch.zeros(2, 3)}, {"kind": "test"})
    saved.with_suffix(".safetensors").write_bytes(other.with_suffix(".safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="sha256 does not match"):
        load_checkpoint(saved)


def test_pickle_is_never_loaded(tmp_path: Path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps(Boom()))
    (tmp_path / "evil.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(CheckpointError, match="not a metagen checkpoint"):
        load_checkpoint(tmp_path / "evil.json")


def test_not_json_and_missing(tmp_path: Path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "x.json")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "absent.json")


def test_optimizer_state_round_trip(tmp_path: Path):
    p = torch.nn.Parameter(torch.randn(4))
    opt = torch.optim.Adam([p], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (p**2).sum().backward()
        opt.step()
    tensors, record = optimizer_to_checkpoint(opt)
    path = save_checkpoint(tmp_path / "o", tensors, {"optimizer": record})
    loaded, meta = load_checkpoint(path)
    q = torch.nn.Parameter(p.detach().clone())
    opt2 = torch.optim.Adam([q], lr=0.1)
    optimizer_from_checkpoint(opt2, loaded, meta["optimizer"])
    for o, param in ((opt, p), (opt2, q)):
        o.zero_grad()
        (param**2).sum().backward()
        o.step()
    torch.testing.assert_close(p, q, rtol=0, atol=0)
