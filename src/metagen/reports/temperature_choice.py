"""A sampling temperature chosen on the split's validation classes, never on its test classes.

A generator that samples latents around its shots (the warped-shots set VAE of Edwards and Storkey
2017's family, the Reptile VAE's shot sampler) trades copying its shots for straying from their
class as the temperature (the latents' std scale) rises. The protocols of DESIGN.md count a
memorisation ratio below 0.9 as copying. The choice made here is the candidate with the highest
class fidelity among those whose memorisation ratio on the validation classes reaches that floor;
where none does, the one that copies least. Reading the same trade-off off the test classes would
flatter the table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from metagen.errors import InputError
from metagen.eval.features import FeatureSpace
from metagen.reports.generation import evaluate_generation

NO_COPYING = 0.9  # the protocols' memorisation-ratio floor


@dataclass(frozen=True)
class CandidateScore:
    """One candidate temperature's scores on the validation classes."""

    temperature: float
    memorisation_ratio: float
    class_fidelity: float


@dataclass(frozen=True)
class TemperatureChoice:
    """The chosen temperature, whether it reached the floor, and every candidate's scores."""

    temperature: float
    reaches_floor: bool
    floor: float
    validation_classes: int
    candidates: tuple[CandidateScore, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TemperatureChoice:
        candidates = tuple(CandidateScore(**c) for c in data["candidates"])
        return cls(data["temperature"], data["reaches_floor"], data["floor"], data["validation_classes"], candidates)


def pick_temperature(scores: Sequence[CandidateScore], floor: float = NO_COPYING) -> tuple[float, bool]:
    """The rule: among the candidates whose memorisation ratio reaches ``floor``, the highest class
    fidelity (ties: the one that copies less); if none reaches it, the least copying candidate.
    Returns the temperature and whether it reaches the floor."""
    if not scores:
        raise InputError("no candidate temperatures to choose from")
    clear = [s for s in scores if s.memorisation_ratio >= floor]
    if clear:
        best = max(clear, key=lambda s: (s.class_fidelity, s.memorisation_ratio))
        return best.temperature, True
    return max(scores, key=lambda s: s.memorisation_ratio).temperature, False


def score_temperature(
    run: str | Path,
    features: FeatureSpace,
    protocol: str,
    shots: int,
    temperature: float,
    seed: int = 0,
    device: str = "cpu",
    num: int = 20,
    downstream_tasks: int = 50,
    max_classes: int | None = None,
) -> tuple[CandidateScore, int]:
    """One candidate: ``protocol`` at K = ``shots`` on the validation classes of ``run``'s split (the
    first ``max_classes`` of them, where given), sampled at ``temperature``; returns its scores and
    the number of classes they cover. The likelihood bound, which the choice does not read (nor
    does the temperature change it), is not computed."""
    if temperature < 0:
        raise InputError(f"candidate temperatures must be numbers >= 0, not {temperature}")
    report = evaluate_generation(run, features, protocol, shots, num=num, seed=seed, device=device, bootstrap=0,
                                 downstream_tasks=downstream_tasks, max_classes=max_classes,
                                 family={"temperature": temperature}, part="val", likelihood=False)  # fmt: skip
    metrics = report.summary["metrics"]
    score = CandidateScore(temperature, float(metrics["memorisation_ratio"]["value"]),
                           float(metrics["class_fidelity"]["value"]))  # fmt: skip
    return score, int(report.summary["test_classes"])


def choose_temperature(
    run: str | Path,
    features: FeatureSpace,
    protocol: str,
    shots: int,
    candidates: Sequence[float],
    seed: int = 0,
    floor: float = NO_COPYING,
    device: str = "cpu",
    num: int = 20,
    downstream_tasks: int = 50,
    max_classes: int | None = None,
    score: Callable[..., tuple[CandidateScore, int]] = score_temperature,
) -> TemperatureChoice:
    """Score each candidate temperature on the validation classes (:func:`score_temperature`, or
    ``score`` with the same signature: a cached one, say) and pick one by :func:`pick_temperature`.
    Needs a split with validation classes (an error says so otherwise) and a sampler with a
    ``temperature`` option."""
    if not candidates or any(t < 0 for t in candidates):
        raise InputError(f"candidate temperatures must be a non-empty list of numbers >= 0, not {list(candidates)}")
    scored = [score(run, features, protocol, shots, t, seed=seed, device=device, num=num,
                    downstream_tasks=downstream_tasks, max_classes=max_classes)
              for t in sorted(set(candidates))]  # fmt: skip
    scores = tuple(s for s, _ in scored)
    temperature, reaches = pick_temperature(scores, floor)
    return TemperatureChoice(temperature, reaches, floor, scored[0][1], scores)
