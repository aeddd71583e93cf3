"""The restoration benchmark over training seeds refuses on the command line what it cannot train or
score, before training anything."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from tests.conftest import REPO, write_image


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--train-seconds", "0"], "--train-seconds and --transfer-seconds must be positive"),
        (["--seeds", "1", "1"], "--seeds must be distinct"),
        (["--workers", "0"], "--workers at least 1"),
        (["--sets", "Set5", "--degradations", "poisson:peak=30"], "no condition Set5 poisson:peak=30"),
        (["--override", "train.nonsense=1"], "unknown config key train.nonsense"),
        (["--meta-override", "meta.inner_steps=-1"], "meta.inner_steps must be 0 or more"),
        (["--sure-steps", "10", "0"], "--sure-steps"),
    ],
)  # fmt: skip
def test_what_cannot_be_trained_or_scored_is_refused(tmp_path, arguments, message):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "restoration_seeds.py"), *arguments,
                           "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()  # nothing trained


def _pattern(h: int, w: int, phase: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.uint8(255 * (0.5 + 0.35 * np.sin(xx / 5 + phase) * np.cos(yy / 7)))


def test_seeds_train_score_and_resume_on_a_tiny_recipe(tmp_path):
    """Two seeds of a tiny network, trained and scored end to end; run again with one more
    degradation, it trains nothing and scores only the new condition."""
    for i in range(3):
        write_image(tmp_path / "Train400" / f"t{i}.png", _pattern(40, 40, i))
    write_image(tmp_path / "Set12" / "01.png", _pattern(32, 36, 5))
    tiny = [f"data.root={tmp_path}", "data.options.patch=16", "model.options.width=4", "model.options.levels=1",
            "meta.k_shot=2", "meta.q_query=2", "meta.meta_batch=2", "train.checkpoint_every=5"]  # fmt: skip
    results = tmp_path / "seeds"

    def run(*degradations: str) -> dict:
        done = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "restoration_seeds.py"), "--seeds", "3", "4",
             "--train-seconds", "2", "--transfer-seconds", "1", "--override", *tiny, "--sets", "Set12",
             "--degradations", *degradations, "--max-images", "1", "--root", str(tmp_path), "--dncnn", "",
             "--runs-dir", str(tmp_path / "runs"), "--results-name", str(results)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(results.with_suffix(".json").read_text())

    first = run("poisson:peak=30")
    rows = {r["method"]: r for r in first["aggregated"]}
    assert rows["metagen meta-learned, 10 steps"]["seeds"] == [3, 4]
    assert rows["same net, ordinary training, 0 steps"]["seeds"] == [3, 4]
    assert rows["total variation (skimage)"]["seeds"] == [3]  # the peers, once
    against = {d["against"] for d in first["differences"]}
    assert "same net, ordinary training, 10 steps" in against and any("(best peer)" in a for a in against)
    for seed in (3, 4):  # each seed's own training seed, and meta-transfer from its own pretraining
        config = yaml.safe_load((tmp_path / "runs" / f"seed{seed}" / "meta" / "config.yaml").read_text())
        assert config["train"]["seed"] == seed
        assert config["train"]["init_from"] == str(tmp_path / "runs" / f"seed{seed}" / "plain-pretrain")
    trained = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("seed*/*/run.json")}
    cache = tmp_path / "runs" / "seed3" / "seed_scores.json"
    stored = json.loads(cache.read_text())
    stored["rows"]["Set12 poisson:peak=30"][0]["psnr"] = 99.0  # a mark that scoring again would erase
    cache.write_text(json.dumps(stored))

    second = run("poisson:peak=30", "speckle:std=0.3")
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("seed*/*/run.json")} == trained
    again = json.loads(cache.read_text())["rows"]
    assert list(again) == ["Set12 poisson:peak=30", "Set12 speckle:std=0.3"]
    assert again["Set12 poisson:peak=30"][0]["psnr"] == 99.0  # kept, not scored again
    assert {r["degradation"] for r in second["aggregated"]} == {"poisson:peak=30", "speckle:std=0.3"}


def test_a_training_run_that_fails_stops_with_its_reason(tmp_path):
    (tmp_path / "Train400").mkdir()  # no images to train on: the recipe loads, its training fails
    write_image(tmp_path / "Set12" / "01.png", _pattern(32, 36, 5))
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "restoration_seeds.py"), "--seeds", "0", "--train-seconds", "2",
         "--transfer-seconds", "1", "--override", f"data.root={tmp_path}", "data.options.patch=16",
         "--sets", "Set12", "--degradations", "poisson:peak=30", "--root", str(tmp_path), "--dncnn", "",
         "--runs-dir", str(tmp_path / "runs"), "--results-name", str(tmp_path / "seeds")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1
    assert "a training run failed (image set Train400: no images in" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "seeds.md").exists()
