"""The few-shot generation benchmark's machinery on tiny glyph runs: training every method under a
budget, the protocol at each K, cached evaluations, tables and the target statement."""

import dataclasses
from pathlib import Path

import pytest
import yaml

import metagen.reports.generation_benchmark as bench
from metagen.eval.features import pixel_space
from metagen.train.config import load_config
from tests.fewshot.test_gan import TINY_GAN
from tests.tiny import TINY


def _recipes(tmp_path: Path) -> list[bench.Method]:
    (tmp_path / "vae.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "gan.yaml").write_text(yaml.safe_dump(TINY_GAN))
    return [
        bench.Method("VAE, Reptile", str(tmp_path / "vae.yaml")),
        bench.Method("GAN, pretrain + fine-tune", str(tmp_path / "gan.yaml"), ("meta.algorithm=pretrain",),
                     meta_learned=False),
        bench.Method("GAN, scratch", str(tmp_path / "gan.yaml"), ("train.steps=0",), 3, meta_learned=False),
        bench.Method("VAE, Reptile, 4 steps", str(tmp_path / "vae.yaml"), adapt_steps=4, run_of="VAE, Reptile"),
        bench.Method("VAE, Reptile, mean latents", str(tmp_path / "vae.yaml"), run_of="VAE, Reptile",
                     family=(("temperature", 0.0),)),
        bench.Method("VAE, Reptile, temperature chosen on validation", str(tmp_path / "vae.yaml"),
                     run_of="VAE, Reptile", temperatures=(0.0, 1.0)),
    ]  # fmt: skip


def test_benchmark_trains_scores_caches_and_tabulates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    methods = _recipes(tmp_path)
    kwargs = dict(features=pixel_space(), protocol="fewshot", shots=[2], seeds=[0], budget_s=2.0,
                  out=tmp_path / "runs", figures=tmp_path / "figures", max_classes=4, bootstrap=10,
                  downstream_tasks=20)  # fmt: skip
    results = bench.run_generation_benchmark(methods, **kwargs)
    assert [r.method.name for r in results] == [m.name for m in methods]
    scratch = results[2]
    assert scratch.steps == 0 and scratch.by_shots[2]["adapt_steps"] == 3
    assert results[0].steps >= 1 and results[0].by_shots[2]["test_classes"] == 4
    assert {p.name for p in (tmp_path / "figures").iterdir()} == {f"{bench.slug(m.name)}.png" for m in methods}
    more_steps = results[3]  # the same weights as "VAE, Reptile", adapted with 4 steps: trained once
    assert (more_steps.steps, more_steps.train_seconds) == (results[0].steps, results[0].train_seconds)
    assert more_steps.by_shots[2]["adapt_steps"] == 4 and more_steps.by_shots[2]["run"] == results[0].by_shots[2]["run"]
    assert {p.name for p in (tmp_path / "runs").iterdir()} == {f"{bench.slug(m.name)}-seed0" for m in methods[:3]}
    sampler = results[4]  # the same weights again, sampled with another family option
    assert sampler.by_shots[2]["run"] == results[0].by_shots[2]["run"]
    assert sampler.by_shots[2]["family_options"]["temperature"] == 0.0
    assert results[0].by_shots[2]["family_options"] == {}
    assert sampler.by_shots[2]["metrics"]["fid"] != results[0].by_shots[2]["metrics"]["fid"]
    # the temperature chosen on (4 of) the validation classes, then the test classes scored at it
    choice = results[5].by_shots[2]["temperature_choice"]
    assert choice["validation_classes"] == 4 and [c["temperature"] for c in choice["candidates"]] == [0.0, 1.0]
    assert results[5].by_shots[2]["family_options"]["temperature"] == choice["temperature"] in (0.0, 1.0)
    if choice["temperature"] == 0.0:  # the very evaluation of the "mean latents" row
        assert results[5].by_shots[2]["metrics"] == sampler.by_shots[2]["metrics"]
    evaluations = tmp_path / "runs" / "vae-reptile-seed0" / "evaluations"
    assert len(list(evaluations.glob("fewshot-*.json"))) == 3 + (choice["temperature"] != 0.0)  # (+ its own)
    assert len(list(evaluations.glob("val-*.json"))) == 2  # one per candidate
    # a row served by another row's evaluation shows that evaluation's sample grid
    figure = (tmp_path / "figures" / f"{bench.slug(methods[5].name)}.png").read_bytes()
    kept = (tmp_path / "runs" / "vae-reptile-seed0" / "evaluations").glob("*.png")
    assert [p.stem for p in kept if p.read_bytes() == figure][0].endswith(f"-temperature{choice['temperature']}")
    if choice["temperature"] == 0.0:
        assert figure == (tmp_path / "figures" / f"{bench.slug(methods[4].name)}.png").read_bytes()

    evaluate = bench.evaluate_generation

    def refuse(*args, **kwargs):
        raise AssertionError("a cached evaluation was recomputed")

    scoring = bench.score_temperature
    monkeypatch.setattr(bench, "evaluate_generation", refuse)
    monkeypatch.setattr(bench, "score_temperature", refuse)
    again = bench.run_generation_benchmark(methods, **kwargs)
    assert again[0].by_shots == results[0].by_shots and again[5].by_shots == results[5].by_shots

    # more candidates: only the new one is scored on validation
    scored = []
    monkeypatch.setattr(bench, "score_temperature", lambda *a, **kw: scored.append(a[4]) or scoring(*a, **kw))
    monkeypatch.setattr(bench, "evaluate_generation", evaluate)
    wider = dataclasses.replace(methods[5], temperatures=(0.0, 1.0, 3.0))
    widened = bench.run_generation_benchmark([wider], **kwargs)[0].by_shots[2]["temperature_choice"]
    assert scored == [3.0] and widened["candidates"][:2] == choice["candidates"]

    rows = bench.aggregate(results, 2)
    copies = bench.aggregate(results[:1], 2, baseline="copy_the_shots")
    assert copies[0]["method"] == "copy the shots (baseline)" and copies[0]["memorisation_ratio"]["value"] < 0.2
    lines = bench.table_lines(rows + copies)
    assert len(lines) == 2 + len(methods) + 1 and lines[-1].endswith("| – | – |")
    for row in rows:
        for key, _, _ in bench.METRICS:
            if key == "nll_bound" and "GAN" in row["method"]:  # no likelihood: an empty cell
                assert row[key]["value"] is None and " – | " in lines[2 + rows.index(row)]
                continue
            assert row[key]["per_seed"] and isinstance(row[key]["value"], float)
    assert rows[0]["nll_bound"]["value"] > 0  # nats per image, an upper bound on -log p
    verdict = bench.target_check(rows)
    assert verdict[0].startswith("Best meta-learned method by class fidelity: **VAE, Reptile")
    assert len(verdict) == 1 + 5 + 1  # one line per other method, then memorisation and downstream
    assert rows[5]["chosen_temperatures"] == [choice["temperature"]] and "chosen_temperatures" not in rows[0]
    notes = bench.temperature_choice_lines(results, 2, "characters")
    assert len(notes) == 2 and notes[0].startswith("Temperatures chosen on 4 validation characters")
    picked = f"seed 0: temperature {choice['temperature']:g} (validation memorisation"
    assert notes[1].startswith(f"- VAE, Reptile, temperature chosen on validation, {picked}")
    # every candidate's validation scores, in the notes and in the JSON row
    assert rows[5]["temperature_choices"] == [choice]
    first = choice["candidates"][0]
    assert (f"at each: 0: {first['memorisation_ratio']:.2f} / {first['class_fidelity']:.2f}, 1: ") in notes[1]


def test_metric_values_and_spread_over_seeds():
    summary = {"fid": {"value": 3.0, "ci95": None}, "kid": {"value": 0.5, "std": 0.1},
               "class_fidelity": {"value": 0.8, "ci95": [0.7, 0.9]},
               "downstream": {"gain": 0.02, "gain_interval95": 0.01}}  # fmt: skip
    assert bench.metric_value(summary, "fid") == (3.0, None)
    assert bench.metric_value(summary, "kid") == (0.5, 0.1)
    assert bench.metric_value(summary, "class_fidelity") == pytest.approx((0.8, 0.1))
    assert bench.metric_value(summary, "downstream") == pytest.approx((2.0, 1.0))


def test_seed_interval_is_the_student_t_interval():
    # three seeds: t(0.975, 2) = 4.303 (standard tables); std (ddof 1) of 1, 2, 3 is 1
    assert bench.seed_interval95([1.0, 2.0, 3.0]) == pytest.approx(4.3027 / 3**0.5, rel=1e-4)
    # it shrinks with more seeds at the same spread, and is zero when every seed agrees
    assert bench.seed_interval95([1.0, 2.0, 3.0] * 2) < bench.seed_interval95([1.0, 2.0, 3.0])
    assert bench.seed_interval95([0.5, 0.5, 0.5]) == 0.0


def test_benchmark_methods_point_at_recipes_that_exist():
    from tests.conftest import REPO

    methods = bench.omniglot_methods(REPO / "configs") + bench.face_methods(REPO / "configs", "celeba")
    methods += bench.face_methods(REPO / "configs", "att")
    assert all(Path(m.recipe).is_file() for m in methods)
    omniglot = bench.omniglot_methods(REPO / "configs")
    assert len({bench.slug(m.name) for m in omniglot}) == len(omniglot) == 35
    faces = [bench.face_methods(REPO / "configs", dataset) for dataset in ("celeba", "att")]
    for listed in (omniglot, *faces):
        by_name = {m.name: m for m in listed}
        # a method evaluating another's run trains it, if it comes first, exactly as that method would
        assert all((m.recipe, m.overrides) == (by_name[m.run_of].recipe, by_name[m.run_of].overrides)
                   for m in listed if m.run_of)  # fmt: skip
        hot = by_name["Set-VAE (warped shots), temperature 3, no steps"]
        assert hot.run_of == "Set-VAE (warped shots), no steps" and dict(hot.family) == {"temperature": 3.0}
        seen = by_name["Set-VAE (warped shots, flow sees its shot), temperature 2, no steps"]
        assert seen.run_of == bench.SET_VAE_WARP_SEEN and bench.FLOW_SEES_SHOT in by_name[seen.run_of].overrides
    # a temperature chosen on validation where the split has validation classes: not on AT&T
    chosen = [m for m in omniglot + faces[0] if m.temperatures]
    base = [bench.REPTILE_VAE, bench.SET_VAE_WARP, bench.SET_VAE_WARP_SEEN, bench.SET_VAE_WARP_POSTERIOR,
            bench.SET_VAE_WARP_PRIOR, bench.SET_VAE_WARP_ALIGNED]
    assert [m.run_of for m in chosen] == [*base, bench.SET_VAE_WARP_ALIGNED_FAR, bench.SET_VAE_WARP_ALIGNED_QUERIES,
                                          *base]
    assert chosen[0].name == "VAE, Reptile, temperature chosen on validation"
    assert chosen[1].name == "Set-VAE (warped shots), temperature chosen on validation, no steps"
    # the runs trained with blurred alignment still copied at 4 on validation: their grid goes on to 6
    aligned = (bench.SET_VAE_WARP_ALIGNED, bench.SET_VAE_WARP_ALIGNED_FAR, bench.SET_VAE_WARP_ALIGNED_QUERIES)
    assert all((max(m.temperatures) == 6.0) == (m.run_of in aligned) for m in chosen)
    assert all(m.run_of and not m.family and 3.0 in m.temperatures for m in chosen)
    assert chosen[0].temperatures[0] == 0.5  # the Reptile VAE's default sampling temperature
    assert not any(m.temperatures for m in faces[1])


def test_the_aligned_recipe_trains_what_the_benchmark_measured():
    """configs/omniglot_set_vae_aligned.yaml is the warp recipe with the benchmark's overrides."""
    from tests.conftest import REPO

    method = {m.name: m for m in bench.omniglot_methods(REPO / "configs")}[bench.SET_VAE_WARP_ALIGNED]
    recipe = load_config(REPO / "configs" / "omniglot_set_vae_aligned.yaml")
    assert recipe.to_dict() == load_config(method.recipe, list(method.overrides)).to_dict()
    assert recipe.model.family["alignment_blur"] == [1, 2] and recipe.model.options["posterior_sees_shot"]


def _face_row(name: str, fidelity: float, spread: float | None, memorisation: float, meta: bool = True) -> dict:
    return {"method": name, "meta_learned": meta, "test_classes": 10,
            "class_fidelity": {"value": fidelity, "spread": spread},
            "memorisation_ratio": {"value": memorisation, "spread": None}}  # fmt: skip


def test_faces_target_needs_fidelity_well_above_chance_and_no_copying():
    rows = [
        _face_row("sharp", 0.5, 0.1, 1.1),  # 5x chance, interval from 0.4: met
        _face_row("copier", 0.8, 0.05, 0.3),  # high fidelity from near-copies: missed
        _face_row("vague", 0.35, 0.3, 1.2),  # 3.5x chance but the interval reaches chance: missed
        _face_row("scratch", 0.9, 0.05, 1.0, meta=False),  # not meta-learned: not judged
    ]
    lines = bench.faces_target_check(rows)
    assert "chance (0.1" in lines[0] and len(lines) == 1 + 3 + 1
    assert "well above chance), memorisation 1.100 (no copying)" in lines[1]
    assert "closer to the shots" in lines[2] and "not well above" in lines[3]
    assert lines[-1] == "- target met by sharp"
    assert bench.faces_target_check(rows[1:])[-1] == "- target missed by every meta-learned method"


def test_choice_notes_name_the_grid_only_where_every_method_shares_it():
    def result(name: str, grid: tuple[float, ...]) -> bench.MethodResult:
        candidates = [{"temperature": t, "memorisation_ratio": t / 4, "class_fidelity": 1 - t / 8} for t in grid]
        choice = {"temperature": grid[-1], "reaches_floor": False, "floor": 0.9, "validation_classes": 3,
                  "candidates": candidates}  # fmt: skip
        return bench.MethodResult(bench.Method(name, "r.yaml"), 0, 1.0, 1, {1: {"temperature_choice": choice}})

    same = bench.temperature_choice_lines([result("a", (1.0, 2.0)), result("b", (1.0, 2.0))], 1)
    assert "among 1, 2: the highest class fidelity" in same[0] and len(same) == 3
    mixed = bench.temperature_choice_lines([result("a", (1.0, 2.0)), result("b", (1.0, 2.0, 3.0))], 1)
    assert "among each method's candidates (listed below): the highest" in mixed[0]
    assert mixed[2].startswith("- b, seed 0: temperature 3 (validation memorisation 0.750")
    assert mixed[2].endswith("at each: 1: 0.25 / 0.88, 2: 0.50 / 0.75, 3: 0.75 / 0.62)")
    assert bench.temperature_choice_lines([result("a", (1.0,))], 5) == []
