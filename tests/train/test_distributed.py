"""torchrun with 2 processes (gloo on this CPU) gives the same run as 1 process doing the whole
meta-batch."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.tiny import TINY


@pytest.mark.parametrize("algorithm", ["reptile", "maml"])
def test_two_processes_equal_one(tmp_path: Path, algorithm: str):
    raw = json.loads(json.dumps(TINY))
    # SGD inside and out: Adam's steps have size lr whatever the size of a gradient, so where a gradient
    # is near zero, summation-order rounding (torchrun runs each process on one thread) would become
    # lr-sized differences, and second-order MAML through Adam's normalisation amplifies it further.
    raw["meta"].update(
        inner_optimizer="sgd",
        inner_lr=1e-4,
        algorithm=algorithm,
        meta_batch=4,
        outer_optimizer="sgd",
        outer_lr=0.5 if algorithm == "reptile" else 0.01,
    )
    raw["train"].update(steps=3, checkpoint_every=3, sample_every=3)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    train = ["-m", "metagen.cli.main", "train", str(recipe), "--quiet", "--out"]
    subprocess.run([sys.executable, *train, str(tmp_path / "one")], check=True, capture_output=True)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run([*torchrun, *train, str(tmp_path / "two")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "two" / "run.json").read_text())["processes"] == 2
    subprocess.run([sys.executable, *train, str(tmp_path / "init"), "train.steps=0"], check=True, capture_output=True)
    one, two, init = (load_file(tmp_path / d / "model.safetensors") for d in ("one", "two", "init"))
    # the two runs agree to float rounding, which is far below what the three meta-steps moved: a
    # process that skipped its half of the meta-batch or was not averaged would differ by about that
    moved = max((one[k] - init[k]).abs().max().item() for k in one)
    gap = max((one[k] - two[k]).abs().max().item() for k in one)
    assert gap < 1e-5 < 0.01 * moved, (gap, moved)
    losses = [
        [json.loads(x)["loss"] for x in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
        for d in ("one", "two")
    ]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
