"""Few-shot classification through the same engine: training, validation accuracy, evaluation."""

import json
from pathlib import Path

import pytest
import torch

from metagen.cli.main import main
from metagen.errors import ConfigError
from metagen.evaluate import evaluate_classifier, mean_interval
from metagen.nn import build_network
from metagen.train.config import config_from_dict
from metagen.train.loop import train

TINY_CLS = {
    "data": {"dataset": "glyphs", "size": 28},
    "model": {"name": "conv4", "options": {"width": 8}},
    "meta": {
        "algorithm": "maml",
        "n_way": 3,
        "k_shot": 1,
        "q_query": 2,
        "meta_batch": 2,
        "inner_steps": 1,
        "adapt_steps": 2,
        "inner_lr": 0.4,
        "inner_optimizer": "sgd",
    },
    "train": {"steps": 4, "seed": 0, "log_every": 1, "checkpoint_every": 2, "sample_every": 2},
}


def test_conv4_is_transductive_and_bufferless():
    net = build_network("conv4", {"num_classes": 5, "width": 8})
    assert not list(net.buffers())
    x = torch.rand(6, 1, 28, 28)
    assert net(x).shape == (6, 5)
    net.eval()  # batch statistics are used in eval mode too: the output depends on the batch
    assert not torch.allclose(net(x)[:3], net(x[:3]))


@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "metasgd", "reptile"])
def test_train_then_evaluate(tmp_path: Path, algorithm: str):
    run = train(config_from_dict(TINY_CLS, [f"meta.algorithm={algorithm}"]), tmp_path / "run", show_progress=False)
    lines = [json.loads(x) for x in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    accs = [x["val_accuracy"] for x in lines if "val_accuracy" in x]
    assert len(accs) == 2 and all(0.0 <= a <= 1.0 for a in accs)
    report = evaluate_classifier(run.run_dir, tasks=5, seed=1)
    assert report["tasks"] == 5 and 0.0 <= report["accuracy"] <= 1.0 and report["interval95"] >= 0.0
    assert report == {**evaluate_classifier(run.run_dir, tasks=5, seed=1), "seconds": report["seconds"]}


def test_evaluate_cli_and_refusals(tmp_path: Path, capsys):
    train(config_from_dict(TINY_CLS), tmp_path / "run", show_progress=False)
    assert main(["evaluate", "--run", str(tmp_path / "run"), "--tasks", "4", "--out", str(tmp_path / "r")]) == 0
    assert (
        "3-way 1-shot" in capsys.readouterr().out
        and json.loads((tmp_path / "r" / "report.json").read_text())["tasks"] == 4
    )
    assert main(["evaluate", "--run", str(tmp_path / "run"), "--n-way", "5"]) == 2
    assert "3 outputs" in capsys.readouterr().err
    shots = tmp_path / "s.png"
    from PIL import Image

    Image.new("L", (28, 28)).save(shots)
    assert (
        main(["generate", "--run", str(tmp_path / "run"), "--shots", str(shots), "--out", str(tmp_path / "g.png")]) == 2
    )
    assert "not a few-shot generator" in capsys.readouterr().err


def test_classifier_needs_two_ways():
    with pytest.raises(ConfigError, match="n_way of 2 or more"):
        train(config_from_dict(TINY_CLS, ["meta.n_way=1"]), "/tmp/never-written", show_progress=False)


def test_mean_interval_against_formula():
    values = [0.5, 0.7, 0.9, 0.6]
    mean, half = mean_interval(values)
    import statistics

    assert mean == pytest.approx(0.675)
    assert half == pytest.approx(1.96 * statistics.stdev(values) / 2)


def test_vmap_run_equals_loop_run(tmp_path: Path):
    from safetensors.torch import load_file

    for batching in ("loop", "vmap"):
        train(config_from_dict(TINY_CLS, [f"meta.batching={batching}"]), tmp_path / batching, show_progress=False)
    a, b = (load_file(tmp_path / d / "model.safetensors") for d in ("loop", "vmap"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("recipe", ["classifier", "vae"])
def test_thread_run_equals_loop_run(tmp_path: Path, recipe: str):
    """meta.batching=threads gives the very run of the loop with single-threaded operations, whatever
    the number of workers (the VAE draws noise per task, from each task's own generator); the loop
    with multi-threaded operations differs from both by float rounding only."""
    from safetensors.torch import load_file

    from metagen.meta.threaded import single_threaded_ops
    from tests.tiny import TINY

    base = TINY_CLS if recipe == "classifier" else TINY
    with single_threaded_ops():
        train(config_from_dict(base), tmp_path / "loop", show_progress=False)
    for workers in (2, 3):
        cfg = config_from_dict(base, ["meta.batching=threads", f"meta.workers={workers}"])
        train(cfg, tmp_path / f"threads{workers}", show_progress=False)
    a, b, c = (load_file(tmp_path / d / "model.safetensors") for d in ("loop", "threads2", "threads3"))
    for k in a:
        if k.startswith("model."):
            assert torch.equal(a[k], b[k]) and torch.equal(b[k], c[k]), k


def test_vmap_refusals():
    from tests.tiny import TINY

    with pytest.raises(ConfigError, match="deterministic task loss"):
        train(config_from_dict(TINY, ["meta.batching=vmap"]), "/tmp/never-written", show_progress=False)
    with pytest.raises(ConfigError, match="SGD inner loop"):
        train(
            config_from_dict(TINY_CLS, ["meta.batching=vmap", "meta.inner_optimizer=adam"]),
            "/tmp/never",
            show_progress=False,
        )


def test_validation_tasks_shrink_to_the_classes_a_small_validation_split_has(tmp_path: Path):
    from metagen.train.experiment import load_data_parts
    from tests.tiny import TINY_FEATURES

    config = config_from_dict(TINY_FEATURES, ["train.sample_every=2"])
    parts = load_data_parts(config)
    n_way = parts.val.num_classes + 1  # more ways than the validation split has classes
    assert n_way <= parts.train.num_classes
    run = train(config_from_dict(TINY_FEATURES, ["train.sample_every=2", f"meta.n_way={n_way}"]), tmp_path / "run",
                show_progress=False)  # fmt: skip
    lines = [json.loads(x) for x in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    previews = [x for x in lines if "val_accuracy" in x]
    assert len(previews) == 2 and all(x["val_accuracy_n_way"] == n_way - 1 for x in previews)
    assert (run.run_dir / "model.safetensors").is_file()
