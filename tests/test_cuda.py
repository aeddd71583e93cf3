"""The models on a CUDA GPU: every generator family and the restorer train there, their runs load
on either device, and the CPU and the GPU generate and restore the same images from the same run
and seed (to float tolerance, TF32 off). Skipped where no GPU is present, as on CI; on a machine
with one: ``python -m pytest tests/test_cuda.py``."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from metagen.cli.main import main
from metagen.eval.features import load_feature_space
from metagen.fewshot.adapt import generate, load_generator
from metagen.restore import restore_with_run
from metagen.train.config import config_from_dict
from metagen.train.loop import train
from tests.fewshot.test_gan import CONDITIONAL, TINY_GAN
from tests.fewshot.test_restorer import restoration_run, smooth_image  # noqa: F401 (a fixture)
from tests.fewshot.test_set_gan import TINY_SET_GAN
from tests.fewshot.test_set_vae import TINY_SET_VAE
from tests.tiny import TINY, TINY_FEATURES

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

# recipe, overrides: one per generator family and meta-learner
GENERATORS = {
    "vae-reptile": (TINY, []),
    "vae-maml": (TINY, ["meta.algorithm=maml"]),
    "vae-metasgd": (TINY, ["meta.algorithm=metasgd"]),
    "vae-fomaml-threads": (TINY, ["meta.algorithm=fomaml", "meta.batching=threads", "meta.workers=2"]),
    "gan-figr": (TINY_GAN, []),
    "gan-dawson": (TINY_GAN, ["meta.algorithm=fomaml"]),
    "cgan": (TINY_GAN, CONDITIONAL),
    "set-vae-local": (TINY_SET_VAE, ["model.options.local_levels=2"]),
    "set-vae-warp": (TINY_SET_VAE, ["model.options.warp=true", "model.family.fusion=pick"]),
    "set-gan": (TINY_SET_GAN, []),
}


@pytest.fixture(autouse=True)
def exact_float32() -> Iterator[None]:
    """TF32 off, so that the GPU's float32 arithmetic is comparable with the CPU's."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _losses(run: Path) -> list[float]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [entry["loss"] for entry in map(json.loads, lines) if "loss" in entry]


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_a_generator_trains_on_the_gpu_as_on_the_cpu_and_generates_the_same_images(name: str, tmp_path: Path):
    recipe, overrides = GENERATORS[name]
    runs = {}
    for device in ("cpu", "cuda"):
        runs[device] = tmp_path / f"trained-on-{device}"
        config = config_from_dict(recipe, [*overrides, f"train.device={device}"])
        result = train(config, runs[device], show_progress=False)
        assert math.isfinite(result.final_loss)
    # the same tasks and noise drawn on the CPU: the first step's loss is the same, the rest drift
    # apart only by float rounding (GANs amplify it, so only the first step is held to it)
    cpu, gpu = _losses(runs["cpu"]), _losses(runs["cuda"])
    assert len(cpu) == len(gpu) and cpu[0] == pytest.approx(gpu[0], rel=1e-3, abs=1e-4)
    shots = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0)).round()
    for run in runs.values():  # a run from either device generates alike on both
        images = {device: generate(load_generator(run, device), shots, 6, seed=2) for device in ("cpu", "cuda")}
        assert images["cuda"].device.type == "cpu" and images["cuda"].shape == (6, 1, 28, 28)
        gap = (images["cpu"] - images["cuda"]).abs()
        assert gap.mean() < 2e-3 and gap.max() < 5e-2, f"{name}: mean {gap.mean():.2e}, max {gap.max():.2e}"


def test_the_restorer_adapts_and_restores_alike_on_both_devices(restoration_run, tmp_path: Path):  # noqa: F811
    run = restoration_run / "run"
    noisy = np.clip(smooth_image(40, 44) + np.random.default_rng(0).normal(0, 0.1, (40, 44)), 0, 1).astype(np.float32)
    for steps in (0, 5):
        out = {device: restore_with_run(run, noisy, None, steps, seed=1, device=device) for device in ("cpu", "cuda")}
        assert out["cuda"].shape == noisy.shape
        assert np.abs(out["cpu"] - out["cuda"]).max() < 1e-3, steps
    assert main(["train", str(restoration_run / "r.yaml"), "--out", str(tmp_path / "gpu"), "--device", "cuda",
                 "--quiet"]) == 0  # fmt: skip
    Image.fromarray(np.uint8(noisy * 255)).save(tmp_path / "noisy.png")
    argv = ["restore", "--run", str(tmp_path / "gpu"), "--input", str(tmp_path / "noisy.png"), "--steps", "3"]
    for device in ("cpu", "cuda"):
        assert main([*argv, "--out", str(tmp_path / f"{device}.png"), "--device", device]) == 0
    read = lambda device: np.asarray(Image.open(tmp_path / f"{device}.png")).astype(int)  # noqa: E731
    assert np.abs(read("cpu") - read("cuda")).max() <= 1  # one grey level of rounding at most


def test_a_feature_space_trained_on_the_gpu_scores_a_run_alike_on_both_devices(tmp_path: Path):
    (tmp_path / "features.yaml").write_text(yaml.safe_dump(TINY_FEATURES))
    command = ["features", "train", str(tmp_path / "features.yaml"), "--out", str(tmp_path / "features")]
    assert main([*command, "--device", "cuda", "--quiet"]) == 0
    images = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    cpu, gpu = (load_feature_space(tmp_path / "features", device) for device in ("cpu", "cuda"))
    assert cpu.checksum == gpu.checksum
    np.testing.assert_allclose(cpu(images), gpu(images), rtol=1e-4, atol=1e-5)
    train(config_from_dict(TINY), tmp_path / "generator", show_progress=False)
    reports = {}
    for device in ("cpu", "cuda"):
        args = ["evaluate", "--run", str(tmp_path / "generator"), "--protocol", "fewshot", "--features",
                str(tmp_path / "features"), "--max-classes", "6", "--num", "8", "--bootstrap", "20"]  # fmt: skip
        out = tmp_path / f"scored-on-{device}"
        assert main([*args, "--out", str(out), "--device", device]) == 0
        reports[device] = json.loads((out / "report.json").read_text())["metrics"]
    assert reports["cpu"]["fid"]["value"] == pytest.approx(reports["cuda"]["fid"]["value"], rel=1e-2)
    fidelity = {device: report["class_fidelity"]["value"] for device, report in reports.items()}
    assert fidelity["cpu"] == pytest.approx(fidelity["cuda"], abs=0.05)
