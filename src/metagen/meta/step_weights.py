"""The check of MAML's per-step outer-loss weights (``meta.step_weights``; MAML++, Antoniou et al.
2019), one for the run configuration (refused when the recipe is read) and the learners (refused
when one is built in code)."""

from __future__ import annotations

WEIGHTED_ALGORITHMS = ("maml", "fomaml", "metasgd")  # the learners with an inner loop and a query loss


def step_weights_problem(weights: list[float], inner_steps: int, algorithm: str | None = None) -> str | None:
    """Why ``weights`` cannot weigh the outer loss of ``inner_steps`` inner steps of ``algorithm``
    (None: they can): one weight for the start and one per step, 0 or more, not all 0."""
    if algorithm is not None and algorithm not in WEIGHTED_ALGORITHMS:
        return f"step weights weigh MAML's inner steps; {algorithm!r} has none"
    if len(weights) != inner_steps + 1:
        return f"step weights: one weight per inner step and one for the start ({inner_steps + 1}), got {len(weights)}"
    if any(w < 0 for w in weights) or not sum(weights) > 0:
        return f"step weights must be 0 or more and not all 0, got {weights}"
    return None
