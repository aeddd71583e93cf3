"""The noise-estimation benchmark: on images with fine stripes, the table shows the weak-texture
estimate reading the added level where the wavelet ones read the stripes too; what it cannot score
is refused with no traceback."""

import json
import os
import subprocess
import sys

import numpy as np

from tests.conftest import REPO, write_image
from tests.fewshot.test_weak_texture import textured

SCRIPT = REPO / "benchmarks" / "noise_estimation.py"


def run(*arguments, data=None):
    env = {**os.environ, "METAGEN_DATA": str(data)} if data else os.environ
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, env=env)


def test_the_table_reads_the_added_level_per_estimator(tmp_path):
    for i in range(2):
        write_image(tmp_path / "restoration" / "Set12" / f"{i:02d}.png", np.uint8(textured(seed=i) * 255))
    done = run("--sets", "Set12", "--output-name", str(tmp_path / "table"), data=tmp_path)
    assert done.returncode == 0, done.stderr
    table = json.loads((tmp_path / "table.json").read_text())
    white = {(r["noise"], r["estimator"]): r for r in table["white"]}
    low = "gaussian:sigma=5"
    assert white[(low, "weak_texture (metagen)")]["mean_abs_error"] < 1.0  # of 5 levels
    for wavelet in ("haar (metagen)", "estimate_sigma (scikit-image)"):
        assert white[(low, wavelet)]["mean_read"] > 6.5  # the stripes read as noise
    row = white[("gaussian:sigma=50", "haar (metagen)")]
    assert row["images"] == 2 and abs(row["mean_read"] - 50) <= row["mean_abs_error"] + 1e-9
    assert {r["estimator"] for r in table["signal"]} == {"haar (metagen), fitted curve",
                                                         "weak_texture (metagen), fitted curve"}  # fmt: skip
    assert all(0.8 < r["variance_ratio"] < 1.25 for r in table["signal"])
    assert "| Set12 | gaussian:sigma=5 | weak_texture (metagen) |" in (tmp_path / "table.md").read_text()


def test_levels_read_on_crops_count_each_crop(tmp_path):
    for i in range(2):
        write_image(tmp_path / "restoration" / "Set12" / f"{i:02d}.png", np.uint8(textured(seed=i) * 255))
    done = run("--sets", "Set12", "--crop", "48", "--crops-per-image", "3", "--output-name", str(tmp_path / "t"),
               data=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = json.loads((tmp_path / "t.json").read_text())
    assert table["signal"] == [] and table["crop"] == 48
    assert all(r["images"] == 6 for r in table["white"])  # 3 crops of each of 2 images
    row = next(r for r in table["white"] if r["noise"] == "gaussian:sigma=50" and r["estimator"].startswith("haar"))
    assert abs(row["mean_read"] - 50) < 5
    text = (tmp_path / "t.md").read_text()
    assert "3 random 48x48 crops" in text and "fitted noise-level function" not in text


def test_what_cannot_be_scored_is_refused(tmp_path):
    write_image(tmp_path / "restoration" / "Set12" / "00.png", np.uint8(textured() * 255))
    for arguments, message in ((["--max-images", "0"], "--max-images must be at least 1"),
                               (["--sets", "Set99"], "Set99"), (["--crop", "4"], "--crop must be at least 8"),
                               (["--crop", "100"], "--crop 100 is larger than an image of 112x96")):  # fmt: skip
        done = run(*arguments, "--output-name", str(tmp_path / "x"), data=tmp_path)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
