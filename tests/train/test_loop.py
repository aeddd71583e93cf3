"""Meta-training runs: outputs, resume equivalence (in-process and after SIGKILL), and refusals."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from metagen.errors import CheckpointError, ConfigError, InputError
from metagen.train.config import config_from_dict
from metagen.train.loop import train
from tests.tiny import TINY


class Interrupt(Exception):
    pass


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model.safetensors")


def test_run_directory_contents(tmp_path: Path):
    result = train(config_from_dict(TINY), tmp_path / "run", show_progress=False)
    run = result.run_dir
    for name in ("config.yaml", "split.json", "metrics.jsonl", "model.json", "model.safetensors", "run.json"):
        assert (run / name).is_file(), name
    assert len(list((run / "checkpoints").glob("*.json"))) == 2  # keep_checkpoints
    assert list((run / "samples").glob("*.png"))
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2, 3, 4, 5, 6]
    split = json.loads((run / "split.json").read_text())
    assert not set(split["train"]) & set(split["test"]) and not set(split["train"]) & set(split["val"])
    meta = json.loads((run / "model.json").read_text())
    assert meta["network"]["name"] == "conv_vae" and meta["split"] == split and meta["step"] == 6


@pytest.mark.parametrize(
    "overrides",
    [["meta.algorithm=reptile"], ["meta.algorithm=fomaml"], ["meta.algorithm=maml"], ["meta.algorithm=metasgd"],
     ["meta.algorithm=fomaml", "train.lr_schedule=cosine"]],  # the schedule's rate is set again on resume
    ids=["reptile", "fomaml", "maml", "metasgd", "fomaml-cosine"],
)  # fmt: skip
def test_interrupted_run_resumes_to_identical_weights(tmp_path: Path, overrides: list[str]):
    cfg = config_from_dict(TINY, overrides)
    train(cfg, tmp_path / "a", show_progress=False)

    def stop_at_5(step):
        if step == 5:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(cfg, tmp_path / "b", show_progress=False, on_step=stop_at_5)
    result = train(cfg, tmp_path / "b", resume=True, show_progress=False)
    assert result.resumed_from == 4
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    assert (tmp_path / "a/metrics.jsonl").read_text() == (tmp_path / "b/metrics.jsonl").read_text()


def test_sigkill_then_resume_matches_uninterrupted(tmp_path: Path):
    recipe = tmp_path / "tiny.yaml"
    raw = json.loads(json.dumps(TINY))
    raw["train"].update(steps=30, checkpoint_every=3, log_every=5)
    recipe.write_text(yaml.safe_dump(raw))
    cmd = [sys.executable, "-m", "metagen.cli.main", "train", str(recipe), "--quiet"]
    subprocess.run(cmd + ["--out", str(tmp_path / "a")], check=True, capture_output=True)
    proc = subprocess.Popen(cmd + ["--out", str(tmp_path / "b")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((tmp_path / "b" / "checkpoints").glob("step-*0006.json")) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "b" / "model.json").exists(), "the run finished before it could be killed"
    subprocess.run(cmd + ["--out", str(tmp_path / "b"), "--resume"], check=True, capture_output=True)
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)


def test_existing_run_is_never_overwritten(tmp_path: Path):
    cfg = config_from_dict(TINY)
    train(cfg, tmp_path / "run", show_progress=False)
    before = (tmp_path / "run" / "model.safetensors").read_bytes()
    with pytest.raises(InputError, match="already holds a run"):
        train(cfg, tmp_path / "run", show_progress=False)
    with pytest.raises(InputError, match="config differs from the run's in meta.inner_lr"):
        train(config_from_dict(TINY, ["meta.inner_lr=0.5"]), tmp_path / "run", resume=True, show_progress=False)
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before


def test_resume_can_extend_a_finished_run(tmp_path: Path):
    train(config_from_dict(TINY), tmp_path / "run", show_progress=False)
    result = train(config_from_dict(TINY, ["train.steps=8"]), tmp_path / "run", resume=True, show_progress=False)
    assert (result.resumed_from, result.steps) == (6, 8)


def test_same_seed_same_trajectory(tmp_path: Path):
    cfg = config_from_dict(TINY, ["meta.algorithm=fomaml"])
    train(cfg, tmp_path / "a", show_progress=False)
    train(cfg, tmp_path / "b", show_progress=False)
    assert (tmp_path / "a/metrics.jsonl").read_text() == (tmp_path / "b/metrics.jsonl").read_text()
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)


def network_weights(path: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(path).items() if k.startswith("model.")}


def test_init_from_starts_at_another_runs_weights(tmp_path: Path):
    """train.init_from (meta-transfer): a new run starts from the weights of a run of the same
    network, here an ordinary (Reptile) run continued by first-order MAML; not from its step."""
    train(config_from_dict(TINY), tmp_path / "source", show_progress=False)
    source = network_weights(tmp_path / "source" / "model.safetensors")
    keep = "train.keep_checkpoints=10"
    cfg = config_from_dict(TINY, ["meta.algorithm=fomaml", keep, f"train.init_from={tmp_path / 'source'}"])
    result = train(cfg, tmp_path / "b", show_progress=False)
    first = tmp_path / "b" / "checkpoints" / "step-00000000.safetensors"
    start, end = network_weights(first), network_weights(tmp_path / "b" / "model.safetensors")
    assert result.steps == 6 and result.resumed_from == 0 and source
    assert start.keys() == source.keys() and all(torch.equal(source[k], start[k]) for k in source)
    assert not all(torch.equal(source[k], end[k]) for k in source)  # and trained on from there
    train(config_from_dict(TINY, [keep]), tmp_path / "c", show_progress=False)
    fresh = network_weights(tmp_path / "c" / "checkpoints" / "step-00000000.safetensors")
    assert not all(torch.equal(source[k], fresh[k]) for k in source)  # not where a fresh run starts
    assert json.loads((tmp_path / "b" / "run.json").read_text())["initialised_from"] == str(tmp_path / "source")


def test_init_from_another_network_is_a_clear_error(tmp_path: Path):
    train(config_from_dict(TINY), tmp_path / "source", show_progress=False)
    wider = config_from_dict(TINY, ["model.options.width=16", f"train.init_from={tmp_path / 'source'}"])
    with pytest.raises(CheckpointError, match="saved for network"):
        train(wider, tmp_path / "b", show_progress=False)
    with pytest.raises(InputError, match="run not found"):
        train(config_from_dict(TINY, [f"train.init_from={tmp_path / 'nowhere'}"]), tmp_path / "c", show_progress=False)


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path: Path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(InputError, match="CUDA is not available"):
        train(config_from_dict(TINY, ["train.device=cuda"]), tmp_path / "run", show_progress=False)


def test_time_budget_stops_early_with_a_final_model(tmp_path: Path):
    result = train(
        config_from_dict(TINY, ["train.steps=100000", "train.time_budget_s=1.0"]), tmp_path / "r", show_progress=False
    )
    assert result.stopped_by_budget and 1 <= result.steps < 100000
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert record["steps"] == result.steps and record["stopped_by_time_budget"]
    assert json.loads((tmp_path / "r" / "model.json").read_text())["step"] == result.steps


def test_time_budget_counts_every_session_of_a_resumed_run(tmp_path: Path):
    """An interrupted run resumes where it stopped: its time budget is spent over all sessions."""
    budget = ["train.steps=100000", "train.time_budget_s=1.0"]
    first = train(config_from_dict(TINY, budget), tmp_path / "r", show_progress=False)
    spent = json.loads((tmp_path / "r" / "run.json").read_text())["training_seconds"]
    assert 1.0 <= spent and json.loads((tmp_path / "r" / "model.json").read_text())["training_seconds"] == spent
    again = train(config_from_dict(TINY, budget), tmp_path / "r", resume=True, show_progress=False)
    assert again.stopped_by_budget and again.steps == first.steps + 1  # the budget was already spent: one step
    more = train(config_from_dict(TINY, ["train.steps=100000", "train.time_budget_s=2.0"]), tmp_path / "r",
                 resume=True, show_progress=False)  # fmt: skip
    total = json.loads((tmp_path / "r" / "run.json").read_text())["training_seconds"]
    assert more.steps > again.steps and 2.0 <= total < spent + 2.0 + more.seconds


def test_training_time_of_a_checkpoint_from_before_it_was_recorded(tmp_path: Path):
    """Checkpoints record the training time spent; for one written before they did, the run.json of
    the session that ended at that step says it, and nothing else is guessed."""
    from metagen.train.loop import _earlier_training_seconds

    assert _earlier_training_seconds({"training_seconds": 12.5}, tmp_path, 7) == 12.5
    assert _earlier_training_seconds({}, tmp_path, 7) == 0.0
    (tmp_path / "run.json").write_text(json.dumps({"steps": 7, "training_seconds": 30.0}))
    assert _earlier_training_seconds({}, tmp_path, 7) == 30.0
    assert _earlier_training_seconds({}, tmp_path, 5) == 0.0  # run.json is of another session


def test_divergence_is_a_clear_error(tmp_path: Path, capsys):
    from metagen.cli.main import main

    recipe = tmp_path / "r.yaml"
    raw = json.loads(json.dumps(TINY))
    raw["meta"].update(inner_optimizer="sgd", inner_lr=1e30)
    recipe.write_text(yaml.safe_dump(raw))
    code = main(["train", str(recipe), "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "diverged at step" in err and "internal error" not in err


def test_bfloat16_training_steps_in_bfloat16_and_keeps_float32_weights(tmp_path: Path, monkeypatch):
    dtypes: set[torch.dtype] = set()
    convolve = torch.nn.Conv2d._conv_forward

    def recording(self, x, weight, bias):
        out = convolve(self, x, weight, bias)
        dtypes.add(out.dtype)
        return out

    monkeypatch.setattr(torch.nn.Conv2d, "_conv_forward", recording)
    tiny = ["meta.algorithm=fomaml", "train.sample_every=1000"]
    found = {}
    for precision in ("float32", "bfloat16"):
        dtypes.clear()
        config = config_from_dict(TINY, [*tiny, f"train.precision={precision}"])
        train(config, tmp_path / precision, show_progress=False)
        found[precision] = set(dtypes)
    assert found["float32"] == {torch.float32}
    assert torch.bfloat16 in found["bfloat16"]
    train(config_from_dict(TINY, [*tiny, "train.steps=0"]), tmp_path / "start", show_progress=False)
    start, full, mixed = (weights(tmp_path / name) for name in ("start", "float32", "bfloat16"))
    assert all(t.dtype == torch.float32 for t in mixed.values())
    moved = torch.cat([(full[k] - start[k]).flatten() for k in start]).norm()
    apart = torch.cat([(full[k] - mixed[k]).flatten() for k in start]).norm()
    assert 0 < apart < 0.2 * moved  # the same training, rounded
    with pytest.raises(ConfigError, match="train.precision"):
        config_from_dict(TINY, ["train.precision=float16"])
