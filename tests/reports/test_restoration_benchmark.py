"""The restoration benchmark's machinery on a tiny image set: conditions, scoring, peers."""

import numpy as np
import pytest

from metagen.reports.classical import CLASSICAL
from metagen.reports.restoration_benchmark import INPUT_FILL, Condition, degrade, input_fill, per_channel, run_condition
from metagen.reports.restoration_targets import target_lines
from tests.conftest import write_image


@pytest.fixture
def tiny_sets(tmp_path):
    yy, xx = np.mgrid[0:40, 0:44]
    grey = np.uint8(128 + 90 * np.sin(xx / 5) * np.cos(yy / 7))
    for i in range(2):
        write_image(tmp_path / "Set12" / f"{i:02d}.png", np.roll(grey, 3 * i, axis=1))
    write_image(tmp_path / "Set5" / "HR" / "a.png", np.stack([grey, grey // 2, 255 - grey], axis=-1))
    return tmp_path


def test_conditions_score_every_applicable_method(tiny_sets):
    methods = {"identity": lambda x, known: x, **CLASSICAL}
    rows = run_condition(Condition("Set12", "gaussian:sigma=25", True), methods, tiny_sets, None)
    by_name = {r["method"]: r for r in rows}
    assert "biharmonic inpainting (skimage)" not in by_name  # not a denoiser
    assert by_name["identity"]["images"] == 2 and by_name["identity"]["psnr"] == pytest.approx(20.5, abs=0.6)
    assert by_name["non-local means (skimage)"]["psnr"] > by_name["identity"]["psnr"] + 3
    holes = {
        r["method"]: r for r in run_condition(Condition("Set12", "missing:fraction=0.5", False), methods, tiny_sets, 1)
    }
    assert set(holes) == {"identity", "biharmonic inpainting (skimage)"}
    assert holes["biharmonic inpainting (skimage)"]["psnr"] > holes["identity"]["psnr"] + 10


def test_super_resolution_runs_on_the_y_channel(tiny_sets):
    reference, degraded = degrade(Condition("Set5", "sr:scale=2", False), np.zeros((41, 44, 3), np.uint8) + 50, 0, 0)
    assert reference.shape == degraded.image.shape == (40, 44) and reference.dtype == np.uint8
    outputs = {}
    rows = run_condition(
        Condition("Set5", "sr:scale=2", False), {"bicubic": lambda x, k: x}, tiny_sets, None, 0, outputs
    )
    assert rows[0]["psnr"] > 25 and set(outputs) == {"bicubic", "input", "clean"}


def test_per_channel_runs_a_grey_method_on_colour():
    calls = []

    def grey(x, known):
        calls.append(x.shape)
        return x * 0.5

    out = per_channel(grey)(np.ones((4, 5, 3), np.float32), None)
    assert calls == [(4, 5)] * 3 and out.shape == (4, 5, 3) and np.all(out == 0.5)


def test_input_fill_peer_fills_only_inpainting_inputs():
    x = np.random.default_rng(0).random((6, 7, 3)).astype(np.float32)
    known = np.random.default_rng(1).random((6, 7)) > 0.4
    assert input_fill(x, None) is None
    out = input_fill(x * known[..., None], known)
    assert out.shape == x.shape and np.array_equal(out[known], x[known]) and (out[~known] > 0).all()
    assert input_fill(x[..., 0] * known, known).shape == (6, 7)


def test_targets_say_met_or_missed_and_by_how_much():
    def row(set_name, degradation, method, psnr, matched=False, seconds=1.0):
        return {"set": set_name, "degradation": degradation, "method": method, "psnr": psnr, "matched": matched,
                "seconds_per_image": seconds}  # fmt: skip

    ours = "metagen meta-learned, 10 steps"
    rows = [
        row("BSD68", "gaussian:sigma=25", ours, 28.0, True, 2.0),
        row("BSD68", "gaussian:sigma=25", "DnCNN-25 (published weights)", 29.0, True),
        row("Set12", "missing:fraction=0.5", ours, 31.0),
        row("Set12", "missing:fraction=0.5", "same net, ordinary training, 10 steps", 35.0),
        row("Set12", "missing:fraction=0.5", "metagen meta-learned, with biases, 10 steps", 34.0),  # a control
        row("Set12", "missing:fraction=0.5", INPUT_FILL, 28.0),
        row("Set12", "missing:fraction=0.5", "biharmonic inpainting (skimage)", 30.5),
        row("Set5", "sr:scale=2", ours, 34.0),
        row("Set5", "sr:scale=2", "degraded input (bicubic for SR)", 33.0),
        row("Set5", "sr:scale=2", "total variation (skimage)", 32.0),
        row("Set5", "sr:scale=2", "metagen meta-learned on x2 SR, 10 steps", 35.5),
        row("Set5", "sr:scale=2", "same net, ordinary training on x2 SR, 10 steps", 36.0),
    ]
    lines = target_lines(rows)
    assert "28.00 dB, missed by 1.23 dB" in lines[0]
    assert "against biharmonic inpainting (skimage) 30.50 dB, met (+0.50 dB)" in lines[1]  # ours are not peers
    assert "against degraded input" not in lines[2] and "total variation (skimage) 32.00 dB, met (+2.00 dB)" in lines[2]
    assert lines[3].endswith("(33.00 dB here), metagen meta-learned, 10 steps: 34.00 dB, missed by 1.00 dB")
    assert lines[4].endswith("(33.00 dB here), metagen meta-learned on x2 SR, 10 steps: 35.50 dB, met (+0.50 dB)")
    assert lines[5].endswith("2.00 s (mean over the BSD68 conditions), met") and len(lines) == 6


def test_noise_range_group_spans_trained_and_unseen_levels():
    from metagen.reports.restoration_benchmark import CONDITION_GROUPS

    group = CONDITION_GROUPS["noise-range"]
    assert {(c.set_name, c.degradation, c.matched) for c in group} == {
        (s, f"gaussian:sigma={g}", g <= 55) for s in ("Set12", "BSD68") for g in (25, 50, 60, 75)
    }


def test_noise_estimate_recovers_the_true_sigma():
    from metagen.reports.opencv_peers import noise_sigma

    yy, xx = np.mgrid[0:160, 0:170]
    smooth = 0.5 + 0.3 * np.sin(xx / 9) * np.cos(yy / 11)
    rng = np.random.default_rng(0)
    for sigma in (5, 25, 50):
        assert 255 * noise_sigma(smooth + rng.normal(0, sigma / 255, smooth.shape)) == pytest.approx(sigma, rel=0.05)


def test_opencv_peers_denoise_and_inpaint(tiny_sets):
    pytest.importorskip("cv2")  # the opencv extra (part of dev)
    from metagen.reports.opencv_peers import OPENCV

    noise = {r["method"]: r for r in run_condition(Condition("Set12", "gaussian:sigma=25", True),
                                                   {"identity": lambda x, k: x, **OPENCV}, tiny_sets, None)}  # fmt: skip
    assert set(noise) == {"identity", "fast non-local means (OpenCV)"}
    assert noise["fast non-local means (OpenCV)"]["psnr"] > noise["identity"]["psnr"] + 3
    holes = {r["method"]: r for r in run_condition(Condition("Set12", "missing:fraction=0.5", False),
                                                   {"identity": lambda x, k: x, **OPENCV}, tiny_sets, None)}  # fmt: skip
    for name in ("Telea inpainting (OpenCV)", "Navier-Stokes inpainting (OpenCV)"):
        assert holes[name]["psnr"] > holes["identity"]["psnr"] + 10
    rgb = np.random.default_rng(0).random((20, 24, 3)).astype(np.float32)
    assert OPENCV["fast non-local means (OpenCV)"](rgb, None).shape == rgb.shape
    known = np.ones((20, 24), bool)
    known[5:9, 6:12] = False
    out = OPENCV["Telea inpainting (OpenCV)"](rgb * known[..., None], known)
    assert out.shape == rgb.shape and np.abs(out[known] - rgb[known]).max() <= 0.5 / 255 + 1e-6


def test_targets_check_the_self_ensembled_rows_beside_the_adapted_model():
    def row(method, psnr, set_name="Set12", degradation="gaussian:sigma=75", seconds=1.0):
        return {"set": set_name, "degradation": degradation, "method": method, "psnr": psnr, "matched": False,
                "seconds_per_image": seconds}  # fmt: skip

    rows = [
        row("metagen meta-learned, 10 steps", 23.0),
        row("metagen meta-learned, 10 steps, x8 self-ensemble", 23.5),  # ours: not a peer
        row("total variation (skimage)", 23.3),
        row("metagen meta-learned, 10 steps", 24.0, "BSD68", seconds=2.0),
        row("metagen meta-learned, 10 steps, x8 self-ensemble", 24.1, "BSD68", seconds=4.0),
        row("total variation (skimage)", 23.0, "BSD68"),
    ]
    lines = target_lines(rows)
    assert lines[0].endswith("adapted model beats DnCNN-25 and every classical peer: 23.00 dB against total "
                             "variation (skimage) 23.30 dB, missed by 0.30 dB")  # fmt: skip
    assert "adapted model (x8 self-ensemble) beats" in lines[1] and lines[1].endswith("23.30 dB, met (+0.20 dB)")
    assert lines[-2].endswith("adapted model: 2.00 s (mean over the BSD68 conditions), met")
    assert lines[-1].endswith("adapted model (x8 self-ensemble): 4.00 s (mean over the BSD68 conditions), missed")
    assert len(lines) == 6
