"""Saving and restoring the full state of a meta-training run, so that ``--resume`` continues a
killed run to the very same weights as an uninterrupted one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from metagen.data.splits import ClassSplit
from metagen.errors import CheckpointError, InputError
from metagen.nn.restoration import DnCNN, load_kair_dncnn, published_spec
from metagen.train.checkpoint import (
    load_checkpoint,
    optimizer_from_checkpoint,
    optimizer_to_checkpoint,
    read_checkpoint_meta,
    rng_state_from_json,
    rng_state_to_json,
    save_checkpoint,
)
from metagen.train.config import RunConfig, config_from_dict
from metagen.train.experiment import Experiment

GENERATOR_KIND = "fewshot-generator"
CHECKPOINT_DIR = "checkpoints"
FINAL_STEM = "model"


def _prefixed(prefix: str, module: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def restore_module(module: nn.Module, tensors: dict[str, torch.Tensor], prefix: str, source: Path) -> None:
    """Load ``prefix.*`` tensors into ``module``, naming missing, unexpected or misshapen keys."""
    own = module.state_dict()
    given = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    missing = sorted(set(own) - set(given))
    unexpected = sorted(set(given) - set(own))
    shapes = [k for k in set(own) & set(given) if own[k].shape != given[k].shape]
    if missing or unexpected or shapes:
        detail = "; ".join(
            part
            for part in (
                f"missing {missing[:3]}" if missing else "",
                f"unexpected {unexpected[:3]}" if unexpected else "",
                f"shape mismatch {sorted(shapes)[:3]}" if shapes else "",
            )
            if part
        )
        raise CheckpointError(f"{source}: weights do not belong to this model ({detail})")
    module.load_state_dict(given)


def save_run_state(
    stem: Path,
    exp: Experiment,
    step: int,
    split: ClassSplit,
    np_rng: np.random.Generator,
    torch_gen: torch.Generator,
    stability: dict[str, Any] | None = None,
    training_seconds: float | None = None,
) -> Path:
    """Write a resumable checkpoint of the run at ``step`` (with the run's rollback record
    ``stability``, see ``metagen.train.stability``, and the training time spent so far over every
    session of the run, so that a resumed run keeps its time budget)."""
    tensors = {**_prefixed("model", exp.learner.model), **_prefixed("extra", exp.learner.extra)}
    record: dict[str, Any] = {
        "kind": exp.family.kind,
        "family": exp.family.family,
        "algorithm": exp.config.meta.algorithm,
        "network": exp.network_spec,
        "config": exp.config.to_dict(),
        "split": split.to_json(),
        "step": step,
        "rng": {"numpy": np_rng.bit_generator.state, "torch": rng_state_to_json(torch_gen.get_state())},
    }
    if stability is not None:
        record["stability"] = stability
    if training_seconds is not None:
        record["training_seconds"] = training_seconds
    if exp.learner.optimizer is not None:
        optim_tensors, record["optimizer"] = optimizer_to_checkpoint(exp.learner.optimizer)
        tensors.update(optim_tensors)
    return save_checkpoint(stem, tensors, record)


EMBEDDING_KIND = "feature-embedding"
RUN_KINDS = {
    GENERATOR_KIND: "a few-shot generator",
    "fewshot-classifier": "a few-shot classifier",
    EMBEDDING_KIND: "a feature embedding",
    "restorer": "a restorer",
}


def read_run_record(path: Path, kind: str | None = None) -> dict[str, Any]:
    """Verify that ``path`` is a meta-training checkpoint (of ``kind``, when given) and return its
    JSON record."""
    meta = read_checkpoint_meta(path)
    wanted = [kind] if kind else list(RUN_KINDS)
    if meta.get("kind") not in wanted:
        what = " or ".join(RUN_KINDS[k] for k in wanted)
        raise CheckpointError(f"{path}: holds a {meta.get('kind')!r} checkpoint, not {what}")
    return meta


def _load_model_weights(path: Path, exp: Experiment) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Check that ``path`` is a checkpoint of ``exp``'s kind and network, load its network weights
    into ``exp``'s model and return the checkpoint's tensors and record."""
    read_run_record(path, exp.family.kind)
    tensors, meta = load_checkpoint(path, map_location=exp.config.train.device)
    if meta["network"] != exp.network_spec:
        raise CheckpointError(f"{path}: saved for network {meta['network']}, not {exp.network_spec}")
    restore_module(exp.learner.model, tensors, "model", path)
    return tensors, meta


def restore_run_state(
    path: Path, exp: Experiment, np_rng: np.random.Generator | None = None, torch_gen: torch.Generator | None = None
) -> int:
    """Load a checkpoint into ``exp`` (and the RNGs when given); returns its step."""
    tensors, meta = _load_model_weights(path, exp)
    restore_module(exp.learner.extra, tensors, "extra", path)
    if "optimizer" in meta:
        optimizer_from_checkpoint(exp.learner.optimizer or exp.learner.build_optimizer(), tensors, meta["optimizer"])
    if np_rng is not None:
        np_rng.bit_generator.state = meta["rng"]["numpy"]
    if torch_gen is not None:
        torch_gen.set_state(rng_state_from_json(meta["rng"]["torch"]))
    return int(meta["step"])


def initialise_from(source: str, exp: Experiment) -> None:
    """Load starting network weights into ``exp``'s model, and nothing else (not the learner's
    extra parameters, the optimizer or the random state): the starting point of a new run
    (``train.init_from``). ``source`` is another run (its folder or a checkpoint), which must hold
    the same kind of model and the same network (name and options), or published weights as
    ``KIND:PATH`` (``metagen.nn.restoration.published_spec``), which must match the network's
    architecture: meta-transfer from a published model, as MZSR (Soh et al. 2020) meta-trains from
    a bicubic super-resolver trained at scale."""
    published = published_spec(source)
    if published:
        _load_published_weights(*published, exp)
    else:
        _load_model_weights(find_checkpoint(source), exp)


def _load_published_weights(kind: str, path: str, exp: Experiment) -> None:
    published, model = load_kair_dncnn(path), exp.learner.model
    shape = (published.channels, published.depth, published.width)
    if not isinstance(model, DnCNN) or (model.channels, model.depth, model.width) != shape:
        raise CheckpointError(
            f"{kind}:{path}: published weights of a dncnn network with channels, depth and width {shape}; "
            f"this run's network is {exp.network_spec}"
        )
    model.load_state_dict(published.state_dict())


def checkpoint_steps(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, json path) of every complete checkpoint in the run, oldest first."""
    found = []
    for p in (run_dir / CHECKPOINT_DIR).glob("step-*.json"):
        try:
            found.append((int(p.stem.split("-")[1]), p))
        except (IndexError, ValueError):
            continue
    return sorted(found)


def find_checkpoint(run: str | Path) -> Path:
    """The checkpoint to load for ``run``: a checkpoint file itself, the run's final model, or its
    newest intermediate checkpoint."""
    run = Path(run)
    if not run.exists():
        raise InputError(f"run not found: {run}")
    if run.is_file():
        return run.with_suffix(".json")
    if (run / f"{FINAL_STEM}.json").is_file():
        return run / f"{FINAL_STEM}.json"
    steps = checkpoint_steps(run)
    if not steps:
        raise InputError(f"{run}: no checkpoint found (expected {FINAL_STEM}.json or {CHECKPOINT_DIR}/step-*.json)")
    return steps[-1][1]


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints; remove older ones and orphan weights files."""
    complete = checkpoint_steps(run_dir)
    for _, p in complete[:-keep]:
        p.unlink(missing_ok=True)
        p.with_suffix(".safetensors").unlink(missing_ok=True)
    for w in (run_dir / CHECKPOINT_DIR).glob("step-*.safetensors"):
        if not w.with_suffix(".json").exists():
            w.unlink(missing_ok=True)


def config_of(path: Path) -> RunConfig:
    """The run config stored in a checkpoint."""
    return config_from_dict(read_run_record(path)["config"])
