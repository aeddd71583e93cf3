"""train.init_from=dncnn25:PATH: a run that starts from published DnCNN weights (meta-transfer from
a published model), checked against the weights file itself, and its refusals."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from metagen.errors import CheckpointError, InputError
from metagen.reports.restoration_benchmark import training_summary
from metagen.train.config import config_from_dict
from metagen.train.loop import train
from tests.conftest import write_image

DEPTH, WIDTH = 3, 4


def kair_weights(path: Path, depth: int = DEPTH, width: int = WIDTH) -> dict[str, torch.Tensor]:
    """A state dict laid out as the KAIR model zoo releases DnCNN (``model.{2i}.weight`` / ``.bias``)."""
    gen = torch.Generator().manual_seed(1)
    state = {}
    for i in range(depth):
        c_in, c_out = 1 if i == 0 else width, 1 if i == depth - 1 else width
        state[f"model.{2 * i}.weight"] = torch.randn(c_out, c_in, 3, 3, generator=gen) * 0.1
        state[f"model.{2 * i}.bias"] = torch.randn(c_out, generator=gen) * 0.1
    torch.save(state, path)
    return state


def recipe(folder: Path, init_from: str, model: dict | None = None) -> dict:
    for i in range(2):
        pixels = np.random.default_rng(i).integers(0, 256, (24, 24), dtype=np.uint8)
        write_image(folder / "Train400" / f"img_{i}.png", pixels)
    return {
        "data": {"dataset": "Train400", "root": str(folder),
                 "options": {"degradations": ["gaussian:sigma=25"], "patch": 12}},
        "model": model or {"name": "dncnn", "options": {"channels": 1, "depth": DEPTH, "width": WIDTH}},
        "meta": {"algorithm": "fomaml", "n_way": 1, "k_shot": 2, "q_query": 2, "meta_batch": 1, "inner_steps": 1},
        "train": {"steps": 2, "seed": 0, "checkpoint_every": 1, "keep_checkpoints": 5, "sample_every": 100,
                  "preview_tasks": 1, "init_from": init_from},
    }  # fmt: skip


def test_a_run_starts_from_the_published_weights(tmp_path: Path):
    published = kair_weights(tmp_path / "dncnn.pth")
    run = tmp_path / "run"
    train(config_from_dict(recipe(tmp_path, f"dncnn25:{tmp_path / 'dncnn.pth'}")), run, show_progress=False)
    start = load_file(run / "checkpoints" / "step-00000000.safetensors")
    for i in range(DEPTH):
        for kind in ("weight", "bias"):
            assert torch.equal(start[f"model.body.{2 * i}.{kind}"], published[f"model.{2 * i}.{kind}"])
    end = load_file(run / "model.safetensors")
    assert not torch.equal(end["model.body.0.weight"], published["model.0.weight"])  # and trained on from there


@pytest.mark.parametrize(
    "model",
    [
        {"name": "dncnn", "options": {"channels": 1, "depth": DEPTH + 1, "width": WIDTH}},
        {"name": "dncnn", "options": {"channels": 1, "depth": DEPTH, "width": WIDTH * 2}},
        {"name": "unet", "options": {"width": 4, "levels": 1}},
    ],
)
def test_published_weights_for_another_network_are_refused(tmp_path: Path, model: dict):
    kair_weights(tmp_path / "dncnn.pth")
    config = config_from_dict(recipe(tmp_path, f"dncnn25:{tmp_path / 'dncnn.pth'}", model))
    with pytest.raises(CheckpointError, match="published weights of a dncnn network"):
        train(config, tmp_path / "run", show_progress=False)


def test_missing_or_foreign_published_weights_are_clear_errors(tmp_path: Path):
    def start_from(weights: str, out: str) -> None:
        train(config_from_dict(recipe(tmp_path, f"dncnn25:{tmp_path / weights}")), tmp_path / out, show_progress=False)

    with pytest.raises(InputError, match="DnCNN weights not found"):
        start_from("none.pth", "a")
    (tmp_path / "junk.pth").write_bytes(b"not a weights file")
    with pytest.raises(CheckpointError, match="not a readable PyTorch weights file"):
        start_from("junk.pth", "b")


def test_the_benchmark_says_a_run_started_from_published_weights(tmp_path: Path):
    kair_weights(tmp_path / "dncnn.pth")
    source = f"dncnn25:{tmp_path / 'dncnn.pth'}"
    train(config_from_dict(recipe(tmp_path, source)), tmp_path / "run", show_progress=False)
    summary = training_summary(tmp_path / "run")
    assert summary.startswith("2 steps in ")
    assert summary.endswith(f"starting from the weights of `{source}` (published weights)")
