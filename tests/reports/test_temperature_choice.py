"""The sampling temperature chosen on validation classes: the rule, and the protocol run on the
split's validation classes (never its test classes) of a tiny glyph run."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from metagen.cli.main import main
from metagen.data.glyphs import load_glyphs
from metagen.data.splits import ClassSplit, apply_split
from metagen.errors import InputError
from metagen.eval.features import pixel_space
from metagen.fewshot.adapt import load_generator
from metagen.reports.generation import evaluate_generation
from metagen.reports.temperature_choice import (
    CandidateScore,
    TemperatureChoice,
    choose_temperature,
    pick_temperature,
    score_temperature,
)
from tests.tiny import TINY


def test_rule_takes_the_most_faithful_candidate_that_does_not_copy():
    scores = [
        CandidateScore(1.0, 0.60, 0.90),  # most faithful, but copies
        CandidateScore(2.0, 0.92, 0.70),
        CandidateScore(3.0, 1.10, 0.55),
    ]
    assert pick_temperature(scores) == (2.0, True)
    assert pick_temperature(scores, floor=1.0) == (3.0, True)
    assert pick_temperature(scores, floor=0.5) == (1.0, True)
    # nothing reaches the floor: the candidate that copies least, marked as missing it
    assert pick_temperature(scores, floor=1.5) == (3.0, False)
    # equal fidelity: the one that copies less
    tied = [CandidateScore(1.0, 0.95, 0.7), CandidateScore(2.0, 1.05, 0.7)]
    assert pick_temperature(tied) == (2.0, True)
    with pytest.raises(InputError, match="no candidate"):
        pick_temperature([])


def test_choice_round_trips_through_json():
    choice = TemperatureChoice(2.5, True, 0.9, 10, (CandidateScore(2.5, 0.95, 0.3), CandidateScore(1.0, 0.5, 0.4)))
    assert TemperatureChoice.from_json(choice.to_json()) == choice


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("temperature")
    (folder / "vae.yaml").write_text(yaml.safe_dump(TINY))
    assert main(["train", str(folder / "vae.yaml"), "--out", str(folder / "vae"), "--quiet"]) == 0
    return folder / "vae"


def test_choice_is_made_on_the_validation_classes(tiny_run: Path):
    split = ClassSplit.from_json(load_generator(tiny_run).record["split"])
    assert split.val and not set(split.val) & set(split.test)
    features = pixel_space()
    choice = choose_temperature(tiny_run, features, "fewshot", 2, [2.0, 0.0, 0.5], num=6, downstream_tasks=5,
                                max_classes=6)  # fmt: skip
    assert [c.temperature for c in choice.candidates] == [0.0, 0.5, 2.0]
    assert choice.validation_classes == 6 < len(split.val)
    expected, reaches = pick_temperature(choice.candidates)
    assert (choice.temperature, choice.reaches_floor) == (expected, reaches)
    # each candidate's scores are the protocol's own on the validation classes at that temperature
    report = evaluate_generation(tiny_run, features, "fewshot", 2, num=6, bootstrap=0, downstream_tasks=5,
                                 max_classes=6, family={"temperature": 0.5}, part="val")  # fmt: skip
    assert report.summary["part"] == "val" and report.summary["test_classes_in_split"] == len(split.val)
    assert choice.candidates[1].memorisation_ratio == report.summary["metrics"]["memorisation_ratio"]["value"]
    # the choice skips the likelihood bound, which it does not read; the samples and scores are the same
    assert "nll_bound" in report.summary["metrics"]
    lean, classes = score_temperature(tiny_run, features, "fewshot", 2, 0.5, num=6, downstream_tasks=5, max_classes=6)
    assert lean == choice.candidates[1] and classes == 6
    # the latents' spread is what the temperature scales: at 0 every image of a class sits nearer its shots
    assert choice.candidates[0].memorisation_ratio < choice.candidates[2].memorisation_ratio
    assert np.isfinite([c.class_fidelity for c in choice.candidates]).all()


def test_bad_candidates_and_parts_are_refused(tiny_run: Path):
    with pytest.raises(InputError, match="candidate temperatures"):
        choose_temperature(tiny_run, pixel_space(), "fewshot", 2, [])
    with pytest.raises(InputError, match="candidate temperatures"):
        choose_temperature(tiny_run, pixel_space(), "fewshot", 2, [1.0, -1.0])
    with pytest.raises(InputError, match="candidate temperatures"):
        score_temperature(tiny_run, pixel_space(), "fewshot", 2, -0.5)
    with pytest.raises(InputError, match="part must be"):
        evaluate_generation(tiny_run, pixel_space(), "fewshot", 2, part="train")


def test_a_split_without_validation_classes_is_refused():
    """AT&T's committed split has no validation identities: asking for them says so."""
    glyphs = load_glyphs(size=28)
    split = ClassSplit(tuple(glyphs.class_names[:10]), (), tuple(glyphs.class_names[10:]), 0, "no validation part")
    with pytest.raises(InputError, match="the val part of the split of 'glyphs' is empty"):
        apply_split(glyphs, split, "val")
