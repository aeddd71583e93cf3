"""torchrun with 2 processes (gloo on this CPU) gives the same run as 1 process doing the whole
meta-batch."""

import json
import os
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


# Runs ``metagen`` in-process, then counts the threads of the process group left behind: a left group's
# threads wait for work for ever; the threads of a group left as it should be are gone within moments
# (a busy machine may still list one that is ending, so it looks again for up to 10 s). Each process
# writes its count to its own file in $COUNTS: the processes' printed lines interleave.
COUNT_LEFT_GLOO_THREADS = """
import glob, os, sys, time
from pathlib import Path
from metagen.cli.main import main
status = main(sys.argv[1:])
for _ in range(100):
    left = 0
    for path in glob.glob(f"/proc/{os.getpid()}/task/*/comm"):
        try:
            left += "gloo" in open(path).read()
        except OSError:  # the thread ended while being looked at
            pass
    if not left:
        break
    time.sleep(0.1)
Path(os.environ["COUNTS"], os.environ["RANK"]).write_text(f"exit {status} gloo threads left {left}")
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads through Linux's /proc")
def test_a_distributed_run_leaves_its_process_group(tmp_path: Path):
    """A gloo group still alive when the interpreter shuts down can abort the process after its run is
    written (about one run in ten on two busy cores, seen in CI): its worker thread frees the last
    collective's tensors while the interpreter is going. So ``train`` leaves the group: once it
    returns, none of the group's threads are left, in either process."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(TINY | {"train": TINY["train"] | {"steps": 2}}))
    script = tmp_path / "count.py"
    script.write_text(COUNT_LEFT_GLOO_THREADS)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    train = ["train", str(recipe), "--quiet", "--out", str(tmp_path / "run")]
    counts = tmp_path / "counts"
    counts.mkdir()
    done = subprocess.run([*torchrun, str(script), *train], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COUNTS": str(counts)})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert {p.name: p.read_text() for p in counts.iterdir()} == {r: "exit 0 gloo threads left 0" for r in "01"}
