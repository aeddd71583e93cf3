"""The few-shot generation protocol end to end on tiny runs: report contents, refusals."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from metagen.cli.main import main
from metagen.data.glyphs import load_glyphs
from metagen.errors import InputError
from metagen.eval.features import load_feature_space
from metagen.reports.generation import draw_shots
from tests.tiny import TINY, TINY_FEATURES


def _train(folder: Path, name: str, recipe: dict, command: list[str]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main([*command, str(path), "--out", str(folder / name), "--quiet"]) == 0
    return folder / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("protocol")
    generator = _train(folder, "generator", TINY, ["train"])
    features = _train(folder, "features", TINY_FEATURES, ["features", "train"])
    return generator, features


def test_protocol_report(runs, tmp_path, capsys):
    generator, features = runs
    out = tmp_path / "report"
    args = ["evaluate", "--run", str(generator), "--protocol", "fewshot", "--features", str(features)]
    assert main([*args, "--out", str(out), "--max-classes", "6", "--num", "8", "--bootstrap", "20"]) == 0
    assert "FID" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    m, copies = report["metrics"], report["baselines"]["copy_the_shots"]
    assert m["counts"] == {"classes": 6, "generated": 48, "reference": 6 * 11, "shots": 5}
    assert report["feature_space"]["checksum"] == load_feature_space(features).checksum
    for name in ("class_fidelity", "memorisation_ratio", "diversity"):
        low, high = m[name]["ci95"]
        assert low <= m[name]["value"] <= high
    assert 0 <= m["precision"]["value"] <= 1 and m["kid"]["subset_size"] == 48
    assert copies["memorisation_ratio"]["value"] < 0.5 < m["memorisation_ratio"]["value"]  # copying is flagged
    assert report["software"]["torch"] and report["machine"]["cores"]
    for name in ("report.md", "metrics.png", "samples.png", "nearest_shot.png"):
        assert (out / name).stat().st_size > 0
    assert report["feature_space"]["checksum"] in (out / "report.md").read_text()
    # the same seed gives the same numbers
    assert main([*args, "--out", str(tmp_path / "again"), "--max-classes", "6", "--num", "8", "--bootstrap", "20"]) == 0
    assert json.loads((tmp_path / "again" / "report.json").read_text())["metrics"] == m


def test_protocol_with_family_options(runs, tmp_path, capsys):
    """--family samples the same weights another way; the report says which."""
    generator, features = runs
    args = ["evaluate", "--run", str(generator), "--protocol", "fewshot", "--features", str(features),
            "--max-classes", "4", "--num", "6", "--bootstrap", "0"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--family", "temperature=0"]) == 0
    a, b = (json.loads((tmp_path / x / "report.json").read_text()) for x in "ab")
    assert b["family_options"]["temperature"] == 0 and a["family_options"].get("temperature") != 0
    assert a["metrics"]["diversity"]["value"] != b["metrics"]["diversity"]["value"]
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "c"), "--family", "bogus=1"]) == 2
    assert "has no option 'bogus'" in capsys.readouterr().err


def test_protocol_at_a_temperature_chosen_on_validation(runs, tmp_path, capsys):
    """--choose-temperature picks among its candidates on the validation classes, then runs the
    protocol on the test classes at the one it picked; the report records the choice."""
    generator, features = runs
    args = ["evaluate", "--run", str(generator), "--protocol", "fewshot", "--features", str(features),
            "--max-classes", "4", "--num", "6", "--bootstrap", "0"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "a"), "--choose-temperature", "0", "1.5"]) == 0
    assert "chosen on 4 validation classes" in capsys.readouterr().out
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    choice = report["temperature_choice"]
    assert [c["temperature"] for c in choice["candidates"]] == [0.0, 1.5]
    assert report["family_options"]["temperature"] == choice["temperature"] and report["part"] == "test"
    assert f"Sampling temperature {choice['temperature']:g}, chosen among 0, 1.5 on 4 validation classes" in (
        tmp_path / "a" / "report.md"
    ).read_text()
    assert main([*args, "--out", str(tmp_path / "b"), "--choose-temperature", "1", "--family", "temperature=2"]) == 2
    assert "not both" in capsys.readouterr().err


def test_protocol_refusals(runs, tmp_path, capsys):
    generator, features = runs
    base = ["evaluate", "--run", str(generator), "--out", str(tmp_path / "r")]
    assert main([*base, "--protocol", "omniglot-fewshot", "--features", str(features)]) == 2
    assert "defined on omniglot" in capsys.readouterr().err
    assert main([*base, "--protocol", "fewshot"]) == 2
    assert "--features" in capsys.readouterr().err
    assert main([*base, "--protocol", "fewshot", "--features", "pixels", "--inception-weights", "x.pth"]) == 2
    assert "one of" in capsys.readouterr().err
    assert main([*base, "--protocol", "fewshot", "--features", str(generator)]) == 2  # not an embedding
    assert "not a feature embedding" in capsys.readouterr().err
    # an embedding trained on another split has seen the run's test classes
    leaky = _train(tmp_path, "leaky", {**TINY_FEATURES, "data": {**TINY_FEATURES["data"], "split_seed": 7}},
                   ["features", "train"])  # fmt: skip
    assert main([*base, "--protocol", "fewshot", "--features", str(leaky)]) == 2
    assert "was trained on" in capsys.readouterr().err


def test_features_train_refuses_a_meta_learning_recipe(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(TINY))
    assert main(["features", "train", str(recipe), "--out", str(tmp_path / "x")]) == 2
    assert "protonet" in capsys.readouterr().err


def test_draw_shots_is_seeded_and_disjoint():
    test = load_glyphs(size=28)
    first, again = draw_shots(test, 5, 3), draw_shots(test, 5, 3)
    assert all(np.array_equal(a, b) for a, b in zip(first.shots, again.shots))
    for c in (0, 100):
        shots, ref = set(first.shots[c]), set(first.reference[c])
        assert len(shots) == 5 and not shots & ref and shots | ref == set(test.indices_of(c))
    with pytest.raises(InputError, match="at least 17"):
        draw_shots(test, 15, 0)
