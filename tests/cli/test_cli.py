"""The command line end to end on tiny settings, its exit codes and its one-line errors."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from metagen.cli.main import main
from tests.conftest import write_image
from tests.tiny import TINY


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    recipe = folder / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    assert main(["train", str(recipe), "--out", str(folder / "run"), "--quiet"]) == 0
    return folder / "run"


@pytest.fixture
def shots(tmp_path: Path) -> list[str]:
    rng = np.random.default_rng(0)
    paths = [
        write_image(tmp_path / "a.png", rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)),
        write_image(tmp_path / "b.jpg", rng.integers(0, 256, (28, 28), dtype=np.uint8)),
        write_image(tmp_path / "c.bmp", rng.integers(0, 256, (90, 90), dtype=np.uint8)),
    ]
    return [str(p) for p in paths]


def run_cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_version_via_console_script():
    out = subprocess.run(["metagen", "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("metagen ")


def test_data_info_json(capsys):
    code, out, _ = run_cli(["data", "info", "glyphs", "--json"], capsys)
    info = json.loads(out)
    assert code == 0 and info["classes"] >= 300 and info["image_size"] == [28, 28]


def test_generate_writes_grid_and_is_seeded(trained_run: Path, shots, tmp_path: Path, capsys):
    args = ["generate", "--run", str(trained_run), "--shots", *shots, "--num", "10", "--per-row", "5"]
    assert run_cli(args + ["--out", str(tmp_path / "g1.png"), "--out-dir", str(tmp_path / "each")], capsys)[0] == 0
    assert run_cli(args + ["--out", str(tmp_path / "g2.png")], capsys)[0] == 0
    grid = np.asarray(Image.open(tmp_path / "g1.png"))
    # first row: 3 shots; then 2 rows of 5; cells 28 px + 2 px padding, drawn at scale 2
    assert grid.shape == (2 * (3 * 30 + 2), 2 * (5 * 30 + 2))
    assert np.array_equal(grid, np.asarray(Image.open(tmp_path / "g2.png")))
    assert len(list((tmp_path / "each").glob("*.png"))) == 10
    assert run_cli(args + ["--out", str(tmp_path / "g3.png"), "--seed", "1"], capsys)[0] == 0
    assert not np.array_equal(grid, np.asarray(Image.open(tmp_path / "g3.png")))


def test_generate_family_options_replace_the_recipes_sampling(trained_run, shots, tmp_path, capsys):
    args = ["generate", "--run", str(trained_run), "--shots", *shots, "--num", "6", "--seed", "3"]
    assert run_cli(args + ["--out", str(tmp_path / "a.png")], capsys)[0] == 0
    assert run_cli(args + ["--out", str(tmp_path / "b.png"), "--family", "temperature=0"], capsys)[0] == 0
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png")))
    for option, message in (("bogus=1", "has no option 'bogus'"), ("temperature", "must look like key=value")):
        code, _, err = run_cli(args + ["--out", str(tmp_path / "c.png"), "--family", option], capsys)
        assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "content, message",
    [(None, "image not found"), (b"", "empty file"), (b"text", "not an image"), ("truncated", "corrupt or truncated")],
)
def test_generate_bad_shots_exit_2_with_one_line(trained_run, shots, tmp_path, capsys, content, message):
    bad = tmp_path / "bad.png"
    if content == "truncated":
        content = Path(shots[0]).read_bytes()[:300]  # a real PNG, cut short
    if content is not None:
        bad.write_bytes(content)
    shots[1] = str(bad)
    code, _, err = run_cli(
        ["generate", "--run", str(trained_run), "--shots", *shots, "--out", str(tmp_path / "o.png")], capsys
    )
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_generate_refuses_tampered_and_foreign_checkpoints(trained_run, shots, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01
    weights.write_bytes(bytes(data))
    code, _, err = run_cli(
        ["generate", "--run", str(copy), "--shots", *shots, "--out", str(tmp_path / "o.png")], capsys
    )
    assert code == 2 and "sha256 does not match" in err

    import torch

    from metagen.train.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "foreign" / "model", {"w": torch.zeros(2)}, {"kind": "classifier"})
    code, _, err = run_cli(
        ["generate", "--run", str(tmp_path / "foreign"), "--shots", *shots, "--out", str(tmp_path / "o.png")], capsys
    )
    assert code == 2 and "not a few-shot generator" in err

    other = json.loads(json.dumps(TINY))
    other["model"]["options"]["width"] = 4
    from metagen.train.config import config_from_dict
    from metagen.train.experiment import build_experiment, network_spec_for
    from metagen.train.state import restore_run_state

    exp = build_experiment(config_from_dict(other), network_spec_for(config_from_dict(other), 28, 1))
    exp.network_spec = json.loads((trained_run / "model.json").read_text())["network"]
    with pytest.raises(Exception, match="do not belong to this model|saved for network"):
        restore_run_state(trained_run / "model.json", exp)


def test_usage_errors_exit_2(tmp_path, capsys):
    code, _, err = run_cli(["train", str(tmp_path / "none.yaml")], capsys)
    assert code == 2 and "config file not found" in err
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--shots", "x.png"])
    assert exc.value.code == 2
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    code, _, err = run_cli(["train", str(recipe), "meta.algorithm=nope", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "choose one of: reptile, fomaml, maml, metasgd" in err


def test_overrides_may_follow_options(tmp_path, capsys):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    code, _, _ = run_cli(["train", str(recipe), "--out", str(tmp_path / "r"), "--quiet", "train.steps=1"], capsys)
    assert code == 0 and json.loads((tmp_path / "r" / "model.json").read_text())["step"] == 1
    code, _, err = run_cli(["train", str(recipe), "--bogus"], capsys)
    assert code == 2 and "unrecognized arguments: --bogus" in err


def test_train_refuses_to_overwrite_then_resumes(trained_run, tmp_path, capsys):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    code, _, err = run_cli(["train", str(recipe), "--out", str(trained_run), "--quiet"], capsys)
    assert code == 2 and "pass --resume" in err
    assert run_cli(["train", str(recipe), "--out", str(trained_run), "--quiet", "--resume"], capsys)[0] == 0


def test_demo_tiny(tmp_path, capsys):
    code, out, _ = run_cli(
        [
            "demo",
            "--out",
            str(tmp_path / "demo"),
            "--quiet",
            "--steps",
            "2",
            "--num",
            "3",
            "model.options.width=8",
            "meta.meta_batch=1",
            "meta.adapt_steps=1",
            "train.checkpoint_every=1",
        ],
        capsys,
    )
    assert code == 0 and "class fidelity" in out
    summary = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert summary["train_steps"] == 2 and summary["held_out"]["held_out_classes"] > 50
    assert (tmp_path / "demo" / "demo_grid.png").is_file()


def test_internal_error_exit_1(monkeypatch, capsys):
    import metagen.cli.data_cmd as data_cmd

    def boom(args):
        raise RuntimeError("kaput")

    monkeypatch.setattr(data_cmd, "run_info", boom)
    code, _, err = run_cli(["data", "info", "glyphs"], capsys)
    assert code == 1 and "internal error: RuntimeError: kaput" in err


def test_evaluate_generator_run(trained_run, capsys):
    assert main(["evaluate", "--run", str(trained_run), "--num", "2", "--k-shot", "3"]) == 0
    out = capsys.readouterr().out
    assert "pixel-space class fidelity" in out and "3 shots" in out
