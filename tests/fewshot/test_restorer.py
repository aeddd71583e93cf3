"""Meta-learned restoration: the self-supervised loss, the task contract, adaptation, the CLI."""

import contextlib
import json

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import save_file

from metagen.cli.main import main
from metagen.errors import ConfigError
from metagen.eval.image_quality import psnr
from metagen.fewshot.restorer import ADAPT_PRECISIONS, Restorer, adapt_and_restore
from metagen.meta import InnerLoop, make_learner
from metagen.nn.restoration import DnCNN
from metagen.nn.unet import UNet
from metagen.objectives.restoration import (
    blind_spot_loss,
    estimate_noise_sigma,
    random_neighbours,
    refill_loss,
    renoise_loss,
    rescale_loss,
)
from metagen.tasks.degradations import parse_degradation
from metagen.tasks.fill import fill_unknown
from metagen.tasks.restoration import RestorationSampler
from tests.conftest import write_image


def smooth_image(h=48, w=56, seed=0):
    yy, xx = np.mgrid[0:h, 0:w]
    phase = np.random.default_rng(seed).uniform(0, 6)
    return (0.5 + 0.35 * np.sin(xx / 7 + phase) * np.cos(yy / 9)).astype(np.float32)


def test_random_neighbours_come_from_the_neighbourhood():
    x = torch.arange(2 * 7 * 9, dtype=torch.float32).reshape(1, 2, 7, 9)
    picked = random_neighbours(x, torch.Generator().manual_seed(0))
    padded = np.pad(x[0].numpy(), ((0, 0), (2, 2), (2, 2)), mode="reflect")
    for i in range(7):
        for j in range(9):
            window = padded[0, i : i + 5, j : j + 5].copy()
            window[2, 2] = np.nan  # never the pixel itself
            assert picked[0, 0, i, j].item() in window
            # both channels take the same neighbour
            assert picked[0, 1, i, j].item() - picked[0, 0, i, j].item() == 63.0


def test_blind_spot_loss_scores_only_hidden_known_pixels():
    x = torch.rand(2, 1, 16, 16)
    known = torch.ones(2, 1, 16, 16)
    gen = torch.Generator().manual_seed(0)
    # a restorer that outputs the true degraded image scores 0 whatever is hidden
    assert blind_spot_loss(lambda inp: x, x, known, gen, fraction=0.25).item() == 0.0
    # copying the (masked) input is penalised: the hidden pixels hold a neighbour's value
    assert blind_spot_loss(lambda inp: inp, x, known, gen, fraction=0.25).item() > 0.01
    # unknown pixels are never scored
    assert blind_spot_loss(lambda inp: inp * 0, x, torch.zeros_like(known), gen).item() == 0.0


def test_refill_loss_hides_known_pixels_and_fills_them_again():
    x = torch.rand(2, 1, 16, 16)
    known = (torch.rand(2, 1, 16, 16) > 0.3).float()
    gen = torch.Generator().manual_seed(0)
    assert refill_loss(lambda inp: x, x, known, gen, fraction=0.25).item() == 0.0
    seen = []
    loss = refill_loss(lambda inp: seen.append(inp) or inp, x, known, torch.Generator().manual_seed(1), 0.25)
    hidden = (known > 0) & (seen[0] != x)  # the pixels the restorer saw refilled
    assert loss.item() > 0.01 and hidden.sum() > 0.15 * known.sum() and not hidden[known == 0].any()
    expected = ((seen[0] - x) ** 2)[hidden].sum() / hidden.sum()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert refill_loss(lambda inp: inp * 0, x, torch.zeros_like(known), gen).item() == 0.0



def test_refilling_crops_filled_on_their_own_is_the_same_loss_in_fewer_steps(monkeypatch):
    """Adaptation fills each crop's lost pixels from the crop alone before the refill loss runs:
    its refills then start next to their answer. The loss is the same, to the solver's tolerance."""
    import metagen.tasks.fill as fill

    image = torch.from_numpy(smooth_image(120, 120, 4))[None]
    known = torch.ones(1, 120, 120, dtype=torch.bool)
    known[:, 30:75, 40:90] = False  # a hole
    whole = fill_unknown(image[None], known[None])[0]
    crops = torch.stack([whole[:, 20:84, 30:94], whole[:, 40:104, 50:114]])
    masks = torch.stack([known[:, 20:84, 30:94], known[:, 40:104, 50:114]])
    net = UNet(1, 4, 1).eval()
    calls = []
    operator = fill._spline_energy_operator
    monkeypatch.setattr(fill, "_spline_energy_operator", lambda u, t: calls.append(1) or operator(u, t))

    def loss_and_steps(inputs):
        calls.clear()
        with torch.no_grad():
            loss = refill_loss(net, inputs, masks.float(), torch.Generator().manual_seed(5))
        return loss.item(), len(calls)

    from_whole, own = loss_and_steps(crops), fill_unknown(crops, masks, start=crops)
    from_own = loss_and_steps(own)
    assert from_own[0] == pytest.approx(from_whole[0], rel=1e-3)
    assert from_own[1] < 0.6 * from_whole[1]

def test_inpainting_tasks_are_filled_and_adapt_by_refilling():
    images = [np.uint8(smooth_image(60, 60, s) * 255) for s in range(2)]
    sampler = RestorationSampler(images, [parse_degradation("missing:fraction=0.3,fraction_max=0.4")], 24, 3, 2)
    task = sampler.sample(np.random.default_rng(0))
    assert task.meta["degradation"].startswith("missing:fraction=0.3") and not task.support_y.all()
    assert task.support_x.min() > 0.1  # the lost pixels were filled, not left black
    family = Restorer(UNet(1, 4, 1))
    params = dict(family.model.named_parameters())
    loss = family.task_loss(params, task.support_x, task.support_y, torch.Generator().manual_seed(3))
    restore = lambda inp: family.model(inp)  # noqa: E731
    mask = task.support_y.float()
    assert loss.item() == refill_loss(restore, task.support_x, mask, torch.Generator().manual_seed(3)).item()
    # the restorer fills the user's image the same way before the network sees it
    torch.nn.init.zeros_(family.model.out.weight), torch.nn.init.zeros_(family.model.out.bias)  # identity net
    learner = make_learner("fomaml", family.model, family.task_loss, InnerLoop(1, 1e-3, "adam"), 1e-3)
    image = smooth_image(30, 34)
    known = np.random.default_rng(0).random(image.shape) > 0.5
    out = adapt_and_restore(learner, family, image * known, known, steps=0)
    filled = fill_unknown(torch.from_numpy(image * known)[None, None], torch.from_numpy(known)[None, None])
    assert np.allclose(out, filled[0, 0].numpy(), atol=1e-6) and np.array_equal(out[known], image[known])


def test_a_meta_batch_filled_together_is_the_tasks_filled_one_by_one():
    images = [np.uint8(smooth_image(60, 60, s) * 255) for s in range(3)]
    specs = ["missing:fraction=0.1,fraction_max=0.5", "gaussian:sigma=0,sigma_max=55", "sr:scale=2"]
    sampler = RestorationSampler(images, [parse_degradation(s) for s in specs], 24, 3, 2)
    batch = sampler.sample_batch(np.random.default_rng(7), 6)
    rng = np.random.default_rng(7)
    alone = [sampler.sample(rng) for _ in range(6)]  # the same draws from the same RNG, filled alone
    assert [t.meta for t in batch] == [t.meta for t in alone]
    assert {t.meta["degradation"].split(":")[0] for t in batch} == {"missing", "gaussian", "sr"}
    for together, single in zip(batch, alone):
        assert torch.equal(together.query_y, single.query_y) and together.support_y.dtype == single.support_y.dtype
        for name in ("support_x", "support_y", "query_x"):  # the fill's solver stops at a shared residual
            assert torch.allclose(getattr(together, name).float(), getattr(single, name).float(), atol=1e-4)
    holes = next(t for t in batch if t.meta["degradation"].startswith("missing"))
    assert not holes.support_y.all() and holes.support_x.min() > 0.05  # filled, not left black


def test_task_contract_and_family_dispatch():
    images = [np.uint8(smooth_image(60, 60, s) * 255) for s in range(3)]
    sampler = RestorationSampler(images, [parse_degradation("gaussian:sigma=0,sigma_max=55")], 24, 3, 2)
    task = sampler.sample(np.random.default_rng(0))
    assert task.support_x.shape == (3, 1, 24, 24) and task.support_y.dtype == torch.bool
    assert task.query_x.shape == task.query_y.shape == (2, 1, 24, 24) and task.query_y.dtype == torch.float32
    noise = (task.query_x - task.query_y).std().item() * 255
    assert task.meta["degradation"].startswith("gaussian:sigma=") and noise == pytest.approx(
        float(task.meta["degradation"].split("=")[1].split(",")[0]), rel=0.25, abs=2
    )
    again = sampler.sample(np.random.default_rng(0))
    assert torch.equal(task.support_x, again.support_x)
    family = Restorer(UNet(1, 4, 1))
    params = dict(family.model.named_parameters())
    gen = torch.Generator().manual_seed(0)
    assert family.task_loss(params, task.query_x, task.query_y, gen).item() == pytest.approx(
        torch.mean((family.model(task.query_x) - task.query_y) ** 2).item()
    )
    assert family.task_loss(params, task.support_x, task.support_y, gen).item() > 0


def test_noise_level_estimate_matches_scikit_image():
    from skimage.restoration import estimate_sigma  # an independent implementation (Daubechies-2 wavelet)

    for sigma in (0.02, 0.1, 0.2):
        rng = np.random.default_rng(int(sigma * 100))
        images = [smooth_image(128, 128, s) + rng.normal(0, sigma, (128, 128)).astype(np.float32) for s in range(3)]
        ours = estimate_noise_sigma(torch.from_numpy(np.stack(images))[:, None]).flatten().numpy()
        assert ours == pytest.approx([estimate_sigma(im) for im in images], rel=0.08)  # different coefficients
        assert ours == pytest.approx([sigma] * 3, rel=0.08)


def test_renoise_loss_is_the_supervised_loss_plus_a_constant():
    # Noisier2Noise: E[(r(z) - (y - m / alpha))^2] = E[(r(z) - x)^2] + sigma^2 (1 + 1 / alpha^2) for any
    # restorer r of z = y + alpha m alone; checked by Monte Carlo with a fixed blur as r
    clean = torch.from_numpy(np.stack([smooth_image(64, 64, s) for s in range(8)]))[:, None]
    blur = lambda z: torch.nn.functional.avg_pool2d(z, 3, 1, 1, count_include_pad=False)  # noqa: E731
    gen = torch.Generator().manual_seed(0)
    for alpha in (0.5, 1.0):
        ss, supervised, constants = [], [], []
        for _ in range(40):
            noisy = clean + 0.1 * torch.randn(clean.shape, generator=gen)
            sigma = estimate_noise_sigma(noisy)
            state = gen.get_state()
            ss.append(renoise_loss(blur, noisy, gen, alpha).item())
            gen.set_state(state)  # the same extra noise, to score r(z) against the clean image
            z = noisy + alpha * sigma * torch.randn(clean.shape, generator=gen)
            supervised.append(torch.mean((blur(z) - clean) ** 2).item())
            constants.append(torch.mean(sigma**2).item() * (1 + 1 / alpha**2))
        assert np.mean(ss) == pytest.approx(np.mean(supervised) + np.mean(constants), rel=0.02)


def test_noise_loss_option_chooses_the_self_supervised_loss():
    clean = torch.from_numpy(np.stack([smooth_image(32, 32, s) for s in range(2)]))[:, None]
    noisy, known = clean + 0.1 * torch.randn(clean.shape), torch.ones(2, 1, 32, 32, dtype=torch.bool)
    for noise_loss, reference in (("blind_spot", blind_spot_loss), ("renoise", renoise_loss)):
        family = Restorer(UNet(1, 4, 1), noise_loss=noise_loss)
        params = dict(family.model.named_parameters())
        expected = (
            blind_spot_loss(family.model, noisy, known.float(), torch.Generator().manual_seed(3), family.mask_fraction)
            if reference is blind_spot_loss
            else renoise_loss(family.model, noisy, torch.Generator().manual_seed(3), family.renoise_alpha)
        )
        got = family.task_loss(params, noisy, known, torch.Generator().manual_seed(3))
        assert got.item() == pytest.approx(expected.item())
    for bad in ({"noise_loss": "noise2noise"}, {"mask_fraction": 0.0}, {"renoise_alpha": -1.0}, {"keep_known": "yes"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            Restorer(UNet(1, 4, 1), **bad)


def test_inpainting_gives_back_the_known_pixels_and_the_network_elsewhere():
    torch.manual_seed(0)
    clean = smooth_image(32, 40)
    degraded = parse_degradation("missing:fraction=0.5").apply(clean, np.random.default_rng(2))
    model = UNet(1, 4, 1)
    for keep_known in (True, False):
        family = Restorer(model, keep_known=keep_known)
        learner = make_learner("fomaml", model, family.task_loss, InnerLoop(1, 1e-3, "adam"), 1e-3)
        out = adapt_and_restore(learner, family, degraded.image, degraded.known, steps=0)
        known = degraded.known
        filled = fill_unknown(torch.from_numpy(degraded.image)[None, None], torch.from_numpy(known)[None, None])
        with torch.no_grad():
            network = model(filled)[0, 0].numpy()
        assert np.allclose(out[~known], network[~known], atol=1e-6)
        if keep_known:
            assert np.array_equal(out[known], degraded.image[known])  # exact: the observed values
        else:
            assert np.allclose(out[known], network[known], atol=1e-6)
            assert not np.allclose(out[known], degraded.image[known], atol=1e-3)
    # with every pixel known (denoising) the output is the network's alone
    noisy = parse_degradation("gaussian:sigma=25").apply(clean, np.random.default_rng(3)).image
    family = Restorer(model)
    learner = make_learner("fomaml", model, family.task_loss, InnerLoop(1, 1e-3, "adam"), 1e-3)
    with torch.no_grad():
        network = model(torch.from_numpy(noisy)[None, None])[0, 0].numpy()
    assert np.allclose(adapt_and_restore(learner, family, noisy, None, steps=0), network, atol=1e-6)


@pytest.mark.parametrize("noise_loss", ["blind_spot", "renoise"])
def test_self_supervised_adaptation_denoises_without_a_clean_image(noise_loss):
    torch.manual_seed(0)
    clean = smooth_image()
    noisy = parse_degradation("gaussian:sigma=30").apply(clean, np.random.default_rng(1)).image
    family = Restorer(UNet(1, 8, 1), mask_fraction=0.1, noise_loss=noise_loss)
    learner = make_learner("fomaml", family.model, family.task_loss, InnerLoop(60, 3e-3, "adam"), 1e-3)
    before = adapt_and_restore(learner, family, noisy, None, steps=0)
    after = adapt_and_restore(learner, family, noisy, None, steps=60, crop=32, batch=8)
    as_u8 = lambda a: np.uint8(np.clip(a, 0, 1) * 255 + 0.5)  # noqa: E731
    base = psnr(as_u8(noisy), as_u8(clean))
    assert psnr(as_u8(before), as_u8(clean)) < base + 1.0  # an untrained network is about the identity
    assert psnr(as_u8(after), as_u8(clean)) > base + 2.0


@pytest.fixture(scope="module")
def restoration_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("restore")
    for i in range(3):
        write_image(folder / "Train400" / f"test_{i:03d}.png", np.uint8(smooth_image(40, 40, i) * 255))
    recipe = {
        "data": {"dataset": "Train400", "root": str(folder), "options": {"degradations": ["gaussian:sigma=25"], "patch": 16}},
        "model": {"name": "unet", "options": {"width": 4, "levels": 1}},
        "meta": {"algorithm": "fomaml", "n_way": 1, "k_shot": 2, "q_query": 2, "meta_batch": 2, "inner_steps": 1, "adapt_steps": 2},
        "train": {"steps": 3, "seed": 0, "log_every": 1, "checkpoint_every": 1, "sample_every": 3, "preview_tasks": 2},
    }  # fmt: skip
    (folder / "r.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["train", str(folder / "r.yaml"), "--out", str(folder / "run"), "--quiet"]) == 0
    return folder


def test_restore_cli(restoration_run, tmp_path, capsys):
    run = restoration_run / "run"
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("train_tasks_psnr" in entry for entry in logged)

    def restore(image: str, out: str, *extra: str) -> int:
        return main(
            ["restore", "--run", str(run), "--input", str(tmp_path / image), "--out", str(tmp_path / out), *extra]
        )

    noisy = np.uint8(np.clip(smooth_image(30, 34) + np.random.default_rng(0).normal(0, 0.1, (30, 34)), 0, 1) * 255)
    write_image(tmp_path / "noisy.png", noisy)
    for steps in ("0", "3"):
        assert restore("noisy.png", f"out{steps}.png", "--steps", steps) == 0
        assert np.asarray(Image.open(tmp_path / f"out{steps}.png")).shape == (30, 34)
    # adapting by re-noising instead of the recipe's blind-spot masking changes the result; 0 steps do not
    assert restore("noisy.png", "renoise3.png", "--steps", "3", "--family", "noise_loss=renoise") == 0
    assert restore("noisy.png", "renoise0.png", "--steps", "0", "--family", "noise_loss=renoise") == 0
    read = lambda name: np.asarray(Image.open(tmp_path / name)).astype(int)  # noqa: E731
    assert np.array_equal(read("renoise0.png"), read("out0.png"))
    assert not np.array_equal(read("renoise3.png"), read("out3.png"))
    assert restore("noisy.png", "z.png", "--family", "noise_loss=noise2noise") == 2
    assert "noise_loss must be one of" in capsys.readouterr().err
    # on speckle, re-noising at a level that follows the intensity adapts differently from one level
    ramp = np.linspace(0.1, 0.9, 34, dtype=np.float32)[None].repeat(30, 0)
    speckled = ramp * (1 + np.random.default_rng(2).normal(0, 0.3, ramp.shape))
    write_image(tmp_path / "speckled.png", np.uint8(np.clip(speckled, 0, 1) * 255))
    for model in ("white", "signal"):
        renoise = ["--steps", "3", "--family", "noise_loss=renoise", f"noise_model={model}"]
        assert restore("speckled.png", f"{model}.png", *renoise) == 0
    assert not np.array_equal(read("signal.png"), read("white.png"))
    assert restore("noisy.png", "z.png", "--family", "noise_loss=renoise", "noise_model=pink") == 2
    assert "noise_model must be one of" in capsys.readouterr().err
    # SURE chooses the step: the output is that of adapting the chosen number of steps
    capsys.readouterr()
    assert restore("noisy.png", "sure.png", "--steps", "3", "--sure-every", "1", "--family", "noise_loss=renoise") == 0
    chosen = int(capsys.readouterr().out.split("chose step ")[1].split()[0])
    assert restore("noisy.png", "fixed.png", "--steps", str(chosen), "--family", "noise_loss=renoise") == 0
    assert np.array_equal(read("sure.png"), read("fixed.png"))
    assert restore("noisy.png", "z.png", "--steps", "3", "--sure-every", "0") == 2
    assert "at least 1" in capsys.readouterr().err
    peer = ["restore", "--model", "dncnn25:absent.pth", "--input", str(tmp_path / "noisy.png"), "--out", "p.png"]
    assert main([*peer, "--family", "noise_loss=renoise"]) == 2
    assert "--family adapt a meta-learned run" in capsys.readouterr().err
    assert main([*peer, "--sure-every", "2"]) == 2
    assert "--sure-every and --family adapt a meta-learned run" in capsys.readouterr().err
    # inpainting: black pixels are lost; the known ones come back as they are unless keep_known=false
    holes = noisy.copy()
    holes[np.random.default_rng(1).random(holes.shape) < 0.3] = 0
    write_image(tmp_path / "holes.png", holes)
    assert restore("holes.png", "kept.png", "--degradation", "missing", "--steps", "2") == 0
    assert restore("holes.png", "z.png", "--degradation", "missing", "--sure-every", "1") == 2
    assert "inpainting and super-resolution have none" in capsys.readouterr().err
    assert restore("holes.png", "free.png", "--degradation", "missing", "--family", "keep_known=false") == 0
    known = holes > 0
    assert np.array_equal(read("kept.png")[known], holes[known].astype(int))
    assert not np.array_equal(read("free.png")[known], holes[known].astype(int))
    write_image(tmp_path / "low.png", noisy[:15, :17])
    assert restore("low.png", "sr.png", "--degradation", "sr:scale=2") == 0
    assert np.asarray(Image.open(tmp_path / "sr.png")).shape == (30, 34)
    write_image(tmp_path / "rgb.png", np.zeros((20, 20, 3), np.uint8) + 100)
    assert restore("rgb.png", "x.png") == 2
    assert "1-channel" in capsys.readouterr().err
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert restore("bad.png", "y.png") == 2
    assert "corrupt" in capsys.readouterr().err


def test_restoration_protocol_on_a_run(restoration_run, tmp_path, capsys):
    write_image(tmp_path / "Set12" / "01.png", np.uint8(smooth_image(32, 36) * 255))
    args = ["evaluate", "--protocol", "restoration", "--run", str(restoration_run / "run"), "--root", str(tmp_path)]
    assert main([*args, "--sets", "Set12", "--steps", "2", "--out", str(tmp_path / "report")]) == 0
    assert "Set12: PSNR" in capsys.readouterr().out
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["results"][0]["images"] == 1 and "2 adaptation steps" in report["model"]


def test_restore_benchmark_cli(restoration_run, tmp_path, capsys):
    yy, xx = np.mgrid[0:32, 0:36]
    write_image(tmp_path / "Set12" / "01.png", np.uint8(128 + 90 * np.sin(xx / 5) * np.cos(yy / 7)))
    run = str(restoration_run / "run")
    out = str(tmp_path / "b")
    args = ["restore", "--benchmark", "--run", run, "--plain-run", run, "--root", str(tmp_path), "--out", out]
    assert main([*args, "--conditions", "matched", "--max-images", "1"]) == 2  # BSD68 is not in this root
    assert "BSD68" in capsys.readouterr().err
    (tmp_path / "BSD68").mkdir()
    write_image(tmp_path / "BSD68" / "a.png", np.uint8(128 + 60 * np.cos(xx / 4)))
    write_image(tmp_path / "CBSD68" / "a.png", np.stack([np.uint8(128 + 60 * np.cos(xx / 4))] * 3, axis=-1))
    assert main([*args, "--conditions", "matched", "--max-images", "1", "--ensemble-steps", "1"]) == 0
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    methods = {r["method"] for r in report["rows"]}
    assert "metagen meta-learned, 10 steps" in methods and "same net, ordinary training, 0 steps" in methods
    assert "metagen meta-learned, 1 steps, x8 self-ensemble" in methods
    assert "non-local means (skimage)" in methods and (tmp_path / "b" / "restoration_Set12.png").is_file()
    assert main(["restore", "--benchmark", "--run", run]) == 2


def test_benchmark_adapts_both_runs_the_meta_learned_way(restoration_run, tmp_path):
    from metagen.reports.restoration_benchmark import Condition, run_benchmark

    yy, xx = np.mgrid[0:32, 0:36]
    write_image(tmp_path / "Set12" / "01.png", np.uint8(128 + 90 * np.sin(xx / 5) * np.cos(yy / 7)))
    run = restoration_run / "run"
    condition = [Condition("Set12", "gaussian:sigma=25", True)]
    psnrs = {}
    for loss in ("blind_spot", "renoise"):
        result = run_benchmark(run, run, None, condition, 1, tmp_path, root=tmp_path, family={"noise_loss": loss})
        assert {info["adaptation"]["noise_loss"] for info in result.runs.values()} == {loss}
        psnrs[loss] = {r["method"]: r["psnr"] for r in result.rows}
        # the same run as both: adapted the same way, the same numbers
        assert psnrs[loss]["metagen meta-learned, 10 steps"] == psnrs[loss]["same net, ordinary training, 10 steps"]
    assert psnrs["renoise"]["metagen meta-learned, 0 steps"] == psnrs["blind_spot"]["metagen meta-learned, 0 steps"]
    assert psnrs["renoise"]["metagen meta-learned, 10 steps"] != psnrs["blind_spot"]["metagen meta-learned, 10 steps"]


def test_benchmark_without_peers_scores_only_the_networks_and_the_input(restoration_run, tmp_path):
    from metagen.reports.restoration_benchmark import INPUT, Condition, run_benchmark

    yy, xx = np.mgrid[0:32, 0:36]
    write_image(tmp_path / "Set12" / "01.png", np.uint8(128 + 90 * np.sin(xx / 5) * np.cos(yy / 7)))
    run = restoration_run / "run"
    condition = [Condition("Set12", "poisson:peak=30", False)]
    with_peers = run_benchmark(run, run, None, condition, 1, tmp_path, root=tmp_path)
    alone = run_benchmark(run, run, None, condition, 1, tmp_path, root=tmp_path, peers=False)
    networks = {f"metagen meta-learned, {n} steps" for n in (0, 1, 5, 10)}
    networks |= {f"same net, ordinary training, {n} steps" for n in (0, 10)}
    assert {r["method"] for r in alone.rows} == networks | {INPUT}
    assert "total variation (skimage)" in {r["method"] for r in with_peers.rows}
    # the networks' rows are the same either way
    scores = {r["method"]: r["psnr"] for r in with_peers.rows}
    assert all(scores[r["method"]] == r["psnr"] for r in alone.rows)


def test_benchmark_adds_self_ensembled_rows_for_the_meta_learned_run(restoration_run, tmp_path, capsys):
    from metagen.nn.self_ensemble import self_ensemble
    from metagen.reports.restoration_benchmark import Condition, benchmark_markdown, run_benchmark

    yy, xx = np.mgrid[0:32, 0:36]
    write_image(tmp_path / "Set12" / "01.png", np.uint8(128 + 90 * np.sin(xx / 5) * np.cos(yy / 7)))
    run = restoration_run / "run"
    condition = [Condition("Set12", "gaussian:sigma=60", False)]
    result = run_benchmark(run, run, None, condition, 1, tmp_path, root=tmp_path, ensemble_steps=(0,))
    psnrs = {r["method"]: r["psnr"] for r in result.rows}
    assert [m for m in psnrs if "self-ensemble" in m] == ["metagen meta-learned, 0 steps, x8 self-ensemble"]
    assert psnrs["metagen meta-learned, 0 steps, x8 self-ensemble"] != psnrs["metagen meta-learned, 0 steps"]
    text = "\n".join(benchmark_markdown(result, 1, 0, {"cpu": "test", "cores": 1}))
    assert "Rows ending 'x8 self-ensemble'" in text and "adapted model (x8 self-ensemble) beats" not in text
    # the command line restores by self-ensemble with --family self_ensemble=true
    noisy = np.uint8(np.clip(smooth_image(20, 26) + np.random.default_rng(0).normal(0, 0.2, (20, 26)), 0, 1) * 255)
    write_image(tmp_path / "noisy.png", noisy)
    args = ["restore", "--run", str(run), "--input", str(tmp_path / "noisy.png"), "--steps", "0"]
    assert main([*args, "--out", str(tmp_path / "x8.png"), "--family", "self_ensemble=true"]) == 0
    from metagen.fewshot.adapt import load_run

    model = load_run(run, "cpu", "restorer").experiment.learner.model
    with torch.no_grad():
        expected = self_ensemble(model, torch.from_numpy(noisy.astype(np.float32) / 255)[None, None])[0, 0].numpy()
    got = np.asarray(Image.open(tmp_path / "x8.png")).astype(int)
    assert np.abs(got - np.round(np.clip(expected, 0, 1) * 255)).max() <= 1


def test_benchmark_adds_the_super_resolution_runs_on_super_resolution_only(restoration_run, tmp_path):
    from metagen.reports.restoration_benchmark import Condition, benchmark_markdown, run_benchmark

    yy, xx = np.mgrid[0:32, 0:36]
    grey = np.uint8(128 + 90 * np.sin(xx / 5) * np.cos(yy / 7))
    write_image(tmp_path / "Set12" / "01.png", grey)
    write_image(tmp_path / "Set5" / "HR" / "a.png", np.stack([grey, grey // 2, 255 - grey], axis=-1))
    run = restoration_run / "run"
    conditions = [Condition("Set12", "gaussian:sigma=25", True), Condition("Set5", "sr:scale=2", False)]
    result = run_benchmark(run, None, None, conditions, 1, tmp_path, root=tmp_path, sr_run=run, sr_plain_run=run)
    by_set = {name: {r["method"]: r["psnr"] for r in result.rows if r["set"] == name} for name in ("Set12", "Set5")}
    assert not any("on x2 SR" in method for method in by_set["Set12"])
    for steps in (0, 10):  # the same run adapts to a low-resolution image the same way under any label
        ours = by_set["Set5"][f"metagen meta-learned, {steps} steps"]
        assert by_set["Set5"][f"metagen meta-learned on x2 SR, {steps} steps"] == ours
        assert by_set["Set5"][f"same net, ordinary training on x2 SR, {steps} steps"] == ours
    text = "\n".join(benchmark_markdown(result, 1, 0, {"cpu": "test", "cores": 1}))
    assert "The rows 'on x2 SR' are the same network trained on gaussian:sigma=25 instead" in text


def test_restorers_refuse_reptile(restoration_run, capsys):
    recipe = yaml.safe_load((restoration_run / "r.yaml").read_text())
    recipe["meta"]["algorithm"] = "reptile"
    (restoration_run / "reptile.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["train", str(restoration_run / "reptile.yaml"), "--out", str(restoration_run / "x"), "--quiet"]) == 2
    assert "maml, fomaml or metasgd" in capsys.readouterr().err


def test_super_resolution_adaptation_uses_the_rescaling_loss():
    x = torch.rand(2, 1, 16, 16)
    loss = rescale_loss(lambda inp: inp, x, 2)
    coarse = torch.nn.functional.interpolate(x, size=(8, 8), mode="bicubic", antialias=True, align_corners=False)
    son = torch.nn.functional.interpolate(coarse, size=(16, 16), mode="bicubic", align_corners=False)
    assert loss.item() == pytest.approx(torch.mean((son - x) ** 2).item())
    family = Restorer(UNet(1, 4, 1))
    learner = make_learner("fomaml", family.model, family.task_loss, InnerLoop(2, 1e-3, "adam"), 1e-3)
    seen = []
    original = family.task_loss

    def spy(params, x, y, gen):
        seen.append(family.sr_scale)
        return original(params, x, y, gen)

    learner.task_loss = spy
    out = adapt_and_restore(learner, family, np.random.rand(21, 30).astype(np.float32), None, 2, crop=15, sr_scale=2)
    assert out.shape == (21, 30) and seen == [2, 2] and family.sr_scale is None


def test_super_resolution_tasks_adapt_by_the_test_time_rescaling_loss():
    """MZSR's training tasks: the support is (coarser copy, low-resolution patch) pairs, so the inner
    loop's loss on them is exactly the rescaling loss that adapts to an image at test time; the
    query is (low-resolution input, high-resolution original)."""
    images = [np.uint8(smooth_image(60, 60, s) * 255) for s in range(2)]
    sampler = RestorationSampler(images, [parse_degradation("sr:scale=2")], 24, 3, 2)
    task = sampler.sample(np.random.default_rng(0))
    assert task.support_y.dtype == torch.float32 and task.support_x.shape == task.support_y.shape == (3, 1, 24, 24)
    # the query's input is the bicubic round trip of its original, independent of the task code
    original = task.query_y[0, 0].numpy()
    low = np.asarray(Image.fromarray(original, mode="F").resize((12, 12), Image.BICUBIC))
    round_trip = np.asarray(Image.fromarray(low, mode="F").resize((24, 24), Image.BICUBIC))
    assert np.allclose(task.query_x[0, 0].numpy(), round_trip, atol=1e-5)
    family = Restorer(UNet(1, 4, 1))
    params = dict(family.model.named_parameters())
    gen = torch.Generator().manual_seed(0)
    on_support = family.task_loss(params, task.support_x, task.support_y, gen)
    with family.super_resolving(2):  # what adapt_and_restore computes on crops of an upscaled image
        at_test_time = family.task_loss(params, task.support_y, torch.ones(3, 1, 24, 24, dtype=torch.bool), gen)
    assert on_support.item() == pytest.approx(at_test_time.item(), rel=1e-6)
    with pytest.raises(ConfigError, match="not a multiple of the scale of sr:scale=4"):
        RestorationSampler(images, [parse_degradation("sr:scale=4")], 30, 3, 2)


def test_bad_restoration_inputs_are_clear(restoration_run, capsys):
    from metagen.errors import InputError

    images = [np.uint8(smooth_image(20, 20) * 255)]
    with pytest.raises(InputError, match="at least one image"):
        RestorationSampler([], [parse_degradation("gaussian")], 8, 1, 1)
    with pytest.raises(InputError, match="at least one degradation"):
        RestorationSampler(images, [], 8, 1, 1)
    with pytest.raises(InputError, match="larger than an image"):
        RestorationSampler(images, [parse_degradation("gaussian")], 32, 1, 1)
    recipe = yaml.safe_load((restoration_run / "r.yaml").read_text())
    for key, value, message in [
        ("options", {"degradations": ["gaussian"], "size": 3}, "not a restoration option"),
        ("options", {"degradations": "gaussian"}, "non-empty list"),
        ("dataset", "omniglot", "image set"),
    ]:
        bad = {**recipe, "data": {**recipe["data"], key: value}}
        (restoration_run / "bad.yaml").write_text(yaml.safe_dump(bad))
        assert main(["train", str(restoration_run / "bad.yaml"), "--out", str(restoration_run / "bad"), "--quiet"]) == 2
        assert message in capsys.readouterr().err


def test_ordinary_restoration_training_pools_the_meta_batch_as_the_loop_does():
    """The restoration recipe trained ordinarily (meta.inner_steps=0) with meta.batching=pooled makes
    the loop's outer step in one pass over the meta-batch; with an inner loop it is refused."""
    from metagen.train.config import load_config
    from metagen.train.experiment import build_experiment, network_spec_for
    from tests.conftest import REPO

    recipe = REPO / "configs/restoration/denoise_unet_fomaml.yaml"
    images = [np.uint8(smooth_image(60, 60, s) * 255) for s in range(3)]
    specs = ["gaussian:sigma=0,sigma_max=55", "missing:fraction=0.1,fraction_max=0.4"]
    sampler = RestorationSampler(images, [parse_degradation(s) for s in specs], 24, 3, 4)
    tasks = sampler.sample_batch(np.random.default_rng(0), 4)
    stepped = []
    for batching in ("loop", "pooled"):
        config = load_config(recipe, ["meta.inner_steps=0", f"meta.batching={batching}", "model.options.width=8"])
        torch.manual_seed(0)
        learner = build_experiment(config, network_spec_for(config, None, 1)).learner
        loss = learner.outer_step(tasks, [torch.Generator().manual_seed(i) for i in range(4)])["loss"]
        stepped.append((loss, [p.grad.clone() for p in learner.model.parameters()]))  # the averaged meta-gradient
    assert stepped[0][0] == pytest.approx(stepped[1][0], rel=1e-5)
    for a, b in zip(stepped[0][1], stepped[1][1]):
        assert a.abs().max() > 0
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)
    with pytest.raises(ConfigError, match="meta.batching=pooled: MAML pools its tasks only without an inner loop"):
        config = load_config(recipe, ["meta.batching=pooled"])
        build_experiment(config, network_spec_for(config, None, 1))


def test_benchmark_adds_sure_chosen_rows_on_noise_and_checks_their_targets(restoration_run, tmp_path, capsys):
    from metagen.reports.restoration_benchmark import Condition, benchmark_markdown, run_benchmark

    yy, xx = np.mgrid[0:32, 0:36]
    write_image(tmp_path / "Set12" / "01.png", np.uint8(128 + 90 * np.sin(xx / 5) * np.cos(yy / 7)))
    run = restoration_run / "run"
    conditions = [Condition("Set12", "gaussian:sigma=60", False), Condition("Set12", "missing:fraction=0.5", False)]
    result = run_benchmark(run, None, None, conditions, 1, tmp_path, root=tmp_path, ensemble_steps=(0, 1), sure=(1, 1))
    psnrs = {r["method"]: r["psnr"] for r in result.rows if r["degradation"] == "gaussian:sigma=60"}
    label, x8 = "metagen meta-learned, up to 1 steps chosen by SURE", ", x8 self-ensemble"
    assert {m for r in result.rows for m in [r["method"]] if "chosen by SURE" in m} == {label, label + x8}
    assert all("chosen by SURE" not in r["method"] for r in result.rows if r["degradation"].startswith("missing"))
    # the step chosen restores as adapting that many steps does: the 0- or the 1-step row's numbers
    assert psnrs[label] in {psnrs["metagen meta-learned, 0 steps"], psnrs["metagen meta-learned, 1 steps"]}
    ensembled = {psnrs[f"metagen meta-learned, {steps} steps{x8}"] for steps in (0, 1)}
    assert psnrs[label + x8] in ensembled
    text = "\n".join(benchmark_markdown(result, 1, 0, {"cpu": "test", "cores": 1}))
    assert "adapted model (steps chosen by SURE) beats" in text
    assert "adapted model (steps chosen by SURE, x8 self-ensemble) beats" in text
    assert "under 3 s, adapted model (steps chosen by SURE" not in text  # the time target is for 10 steps
    out = str(tmp_path / "b")
    args = ["restore", "--benchmark", "--run", str(run), "--root", str(tmp_path), "--out", out, "--max-images", "1"]
    assert main([*args, "--conditions", "noise-range", "--sure-steps", "2", "0"]) == 2
    assert "K at least 1" in capsys.readouterr().err


def test_steps_benchmark_compares_another_adaptation_loss_in_the_same_run(restoration_run, tmp_path, monkeypatch):
    import argparse
    import importlib
    import sys

    from metagen.data.image_sets import load_image_set
    from metagen.fewshot.adapt import load_run
    from metagen.reports.restoration_benchmark import Condition, degrade, score
    from tests.conftest import REPO

    yy, xx = np.mgrid[0:32, 0:36]
    write_image(tmp_path / "restoration" / "Set12" / "01.png", np.uint8(128 + 90 * np.sin(xx / 5) * np.cos(yy / 7)))
    monkeypatch.setenv("METAGEN_DATA", str(tmp_path))
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    script = importlib.import_module("restoration_steps")
    condition = Condition("Set12", "gaussian:sigma=25", False)
    run = str(restoration_run / "run")
    args = argparse.Namespace(run=run, steps=[0, 2], conditions=[condition], max_images=1, family=["noise_loss=renoise"],
                              compare=[["noise_loss=sure"], ["noise_estimator=weak_texture"]], sure_every=None,
                              peers=False, device="cpu", seed=0)  # fmt: skip
    options = {"noise_loss": "renoise"}
    compared = script.compared_options(args, options)
    assert compared == {"noise_loss=sure": {"noise_loss": "sure"},
                        "noise_estimator=weak_texture": {"noise_loss": "renoise", "noise_estimator": "weak_texture"}}
    psnrs = {row["method"]: row["psnr"] for row in script.score(args, options, compared)}
    x8 = ", x8 self-ensemble"
    variants = ["0 steps", "2 steps", "2 steps, noise_loss=sure", "2 steps, noise_estimator=weak_texture"]
    assert set(psnrs) == {*variants, *(v + x8 for v in variants)}
    # the compared rows adapt with SURE: what the run adapted by SURE restores, scored alike
    loaded = load_run(run, "cpu", "restorer", compared["noise_loss=sure"])
    clean = load_image_set("Set12", tmp_path / "restoration")[0].pixels
    reference, degraded = degrade(condition, clean, 0, 0)
    restored = adapt_and_restore(loaded.experiment.learner, loaded.experiment.family, degraded.image, None, 2)
    assert psnrs["2 steps, noise_loss=sure"] == pytest.approx(score(restored, reference, condition)[0])
    assert psnrs["2 steps, noise_loss=sure"] != psnrs["2 steps"]
    sys.modules.pop("restoration_steps", None)


def _conv_output_layouts(model: DnCNN) -> list[tuple[bool, torch.dtype]]:
    """(channels-last, dtype) of the first convolution's output at each call, recorded by a hook."""
    seen: list[tuple[bool, torch.dtype]] = []
    model.body[0].register_forward_hook(
        lambda module, args, out: seen.append((out.is_contiguous(memory_format=torch.channels_last), out.dtype))
    )
    return seen


def test_adaptation_holds_the_weights_channels_last_and_gives_them_back(monkeypatch, tmp_path):
    torch.manual_seed(0)
    noisy = parse_degradation("gaussian:sigma=25").apply(smooth_image(40, 48), np.random.default_rng(1)).image
    family = Restorer(DnCNN(1, 4, 8), noise_loss="renoise")
    learner = make_learner("fomaml", family.model, family.task_loss, InnerLoop(3, 1e-2, "sgd"), 1e-3)
    seen = _conv_output_layouts(family.model)
    out = adapt_and_restore(learner, family, noisy, None, steps=3, crop=16, batch=4)
    assert seen == [(True, torch.float32)] * 4  # three steps and the whole image, all channels-last
    assert all(p.is_contiguous() for p in family.model.parameters())  # given back: checkpoints can be written
    save_file(family.model.state_dict(), tmp_path / "w.safetensors")
    # the layout changes the speed, not the answer: the same adaptation with the weights left as they are
    monkeypatch.setattr(Restorer, "channels_last", lambda self: contextlib.nullcontext())
    assert np.allclose(adapt_and_restore(learner, family, noisy, None, steps=3, crop=16, batch=4), out, atol=1e-5)


def test_the_layout_is_given_back_when_adaptation_fails():
    model = DnCNN(1, 3, 4)
    family = Restorer(model)
    with pytest.raises(RuntimeError, match="stop"), family.channels_last():
        assert model.body[2].weight.is_contiguous(memory_format=torch.channels_last)
        raise RuntimeError("stop")
    assert all(p.is_contiguous() for p in model.parameters())


def test_bfloat16_adaptation_steps_in_bfloat16_and_lands_near_float32():
    torch.manual_seed(0)
    noisy = parse_degradation("gaussian:sigma=25").apply(smooth_image(40, 48), np.random.default_rng(1)).image
    model = DnCNN(1, 4, 8)
    outputs, adapted = {}, {}
    for precision in ADAPT_PRECISIONS:
        family = Restorer(model, noise_loss="renoise", adapt_precision=precision)
        learner = make_learner("fomaml", model, family.task_loss, InnerLoop(3, 1e-1, "sgd"), 1e-3)
        seen = _conv_output_layouts(model) if precision == "bfloat16" else []
        outputs[precision] = adapt_and_restore(learner, family, noisy, None, steps=3, crop=16, batch=4)
        if seen:  # the steps in bfloat16, the restoration in float32
            assert [dtype for _, dtype in seen] == [torch.bfloat16] * 3 + [torch.float32]
        crops, masks = torch.from_numpy(noisy)[None, None, :16, :16], torch.ones(1, 1, 16, 16, dtype=torch.bool)
        adapted[precision] = learner.adapt(crops, masks, torch.Generator().manual_seed(0), steps=3)
    for name, weight in adapted["float32"].items():
        assert weight.dtype == adapted["bfloat16"][name].dtype == torch.float32  # weights and updates stay float32
    start = dict(model.named_parameters())
    moved = torch.cat([(adapted["float32"][k] - start[k]).detach().flatten() for k in start]).norm()
    apart = torch.cat([(adapted["float32"][k] - adapted["bfloat16"][k]).flatten() for k in start]).norm()
    assert 0 < apart < 0.05 * moved  # bfloat16's rounding of the same update, not another update
    assert np.abs(outputs["float32"] - outputs["bfloat16"]).max() < 2e-3
    for bad, match in (({"adapt_precision": "float16"}, "adapt_precision"), ({"noise_loss": "sure", "adapt_precision": "bfloat16"}, "SURE")):  # fmt: skip
        with pytest.raises(ConfigError, match=match):
            Restorer(model, **bad)
