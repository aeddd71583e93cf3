"""Run configurations: dataclasses loaded from YAML, with ``key=value`` overrides.

Every key is checked: an unknown key, a value of the wrong type or a value outside a field's
choices is a ``ConfigError`` that names the key and what is allowed. Configs hold only plain data
(numbers, strings, lists, dicts), never live objects.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from metagen.errors import ConfigError
from metagen.meta.step_weights import step_weights_problem


@dataclass
class DataConfig:
    """Which data set, how its images are prepared, and how its classes are split."""

    dataset: str = "glyphs"
    root: str | None = None
    size: int | None = None
    channels: int | None = None
    split_seed: int = 0
    rotations: bool = False
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelConfig:
    """A registered network (see ``metagen.nn.registry``), its constructor arguments, and the
    options of the few-shot family that wraps it (losses, sampling: see ``metagen.fewshot``)."""

    name: str = "conv_vae"
    options: dict[str, Any] = field(default_factory=dict)
    family: dict[str, Any] = field(default_factory=dict)


@dataclass
class MetaConfig:
    """The meta-learning algorithm, its inner loop (training and adaptation) and its outer loop."""

    algorithm: Literal["reptile", "fomaml", "maml", "metasgd", "protonet", "episodic", "pretrain"] = "reptile"
    n_way: int = 1
    k_shot: int = 5
    q_query: int = 5
    meta_batch: int = 4
    inner_steps: int = 5
    adapt_steps: int = 10
    inner_lr: float = 1e-3
    inner_optimizer: Literal["sgd", "adam"] = "adam"
    outer_lr: float = 1e-3
    outer_optimizer: Literal["adam", "sgd"] = "adam"
    grad_clip: float | None = None
    batching: Literal["loop", "vmap", "threads", "pooled"] = "loop"
    workers: int = 0  # batching=threads: worker threads (0: torch.get_num_threads(), one per core)
    # MAML's outer loss at every inner step 0..inner_steps, weighted (None: the last step alone); see
    # metagen.meta.learners.MAML
    step_weights: list[float] | None = None


@dataclass
class TrainConfig:
    """Length of the run, seeding, device, how often to log, checkpoint and draw samples, and how
    a divergence is handled: up to ``max_rollbacks`` returns to the last good checkpoint, each
    multiplying the learning rates by ``rollback_lr_factor``; ``divergence_patience`` steps of a
    discriminator winning outright count as a divergence (0: never). ``init_from`` starts the
    network from the weights of another run of the same network (its folder or checkpoint), as
    meta-transfer learning does (Soh et al. 2020, "Meta-Transfer Learning for Zero-Shot
    Super-Resolution"): ordinary training first, meta-learning from there; or, as ``dncnn25:PATH``,
    from the published DnCNN weights (``metagen.train.state.initialise_from``). ``lr_schedule``: the
    outer learning rate constant, or 'cosine', decayed to zero over the run (its steps or its time
    budget, whichever ends it; ``metagen.train.schedule``). ``precision``: 'float32', or 'bfloat16'
    to run each training step's forward and backward passes (inner loops and outer loss) in bfloat16
    mixed precision (``torch.autocast``; weights, gradients and optimizer states stay float32;
    Micikevicius et al. 2018, "Mixed Precision Training"), for more steps in the same time on
    hardware with bfloat16 arithmetic (benchmarks/restoration_speed.py)."""

    steps: int = 1000
    time_budget_s: float | None = None
    lr_schedule: Literal["constant", "cosine"] = "constant"
    precision: Literal["float32", "bfloat16"] = "float32"
    init_from: str | None = None
    seed: int = 0
    device: str = "cpu"
    log_every: int = 10
    checkpoint_every: int = 100
    sample_every: int = 250
    preview_tasks: int = 50
    keep_checkpoints: int = 2
    max_rollbacks: int = 3
    rollback_lr_factor: float = 0.5
    divergence_patience: int = 200


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    meta: MetaConfig = field(default_factory=MetaConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> "RunConfig":
        """Check value ranges that types alone cannot express."""
        positive = {
            "meta.n_way": self.meta.n_way,
            "meta.k_shot": self.meta.k_shot,
            "meta.meta_batch": self.meta.meta_batch,
            "train.log_every": self.train.log_every,
            "train.checkpoint_every": self.train.checkpoint_every,
            "train.sample_every": self.train.sample_every,
            "train.preview_tasks": self.train.preview_tasks,
            "train.keep_checkpoints": self.train.keep_checkpoints,
        }
        for key, value in positive.items():
            if value < 1:
                raise ConfigError(f"{key} must be at least 1, got {value}")
        nonneg = {
            "train.steps": self.train.steps,
            "meta.q_query": self.meta.q_query,
            "meta.inner_steps": self.meta.inner_steps,
            "meta.adapt_steps": self.meta.adapt_steps,
            "meta.workers": self.meta.workers,
            "train.max_rollbacks": self.train.max_rollbacks,
            "train.divergence_patience": self.train.divergence_patience,
        }
        for key, value in nonneg.items():
            if value < 0:
                raise ConfigError(f"{key} must be 0 or more, got {value}")
        for key, value in {"meta.inner_lr": self.meta.inner_lr, "meta.outer_lr": self.meta.outer_lr}.items():
            if not value > 0:
                raise ConfigError(f"{key} must be positive, got {value}")
        if not 0 < self.train.rollback_lr_factor < 1:
            raise ConfigError(f"train.rollback_lr_factor must be between 0 and 1, got {self.train.rollback_lr_factor}")
        self._validate_step_weights()
        if self.train.time_budget_s is not None and not self.train.time_budget_s > 0:
            raise ConfigError(f"train.time_budget_s must be positive, got {self.train.time_budget_s}")
        if self.data.channels not in (None, 1, 3):
            raise ConfigError(f"data.channels must be 1 or 3, got {self.data.channels}")
        if not (self.train.device == "cpu" or self.train.device.startswith("cuda")):
            raise ConfigError(f"train.device must be 'cpu' or 'cuda[:N]', got {self.train.device!r}")
        return self

    def _validate_step_weights(self) -> None:
        if self.meta.step_weights is None:
            return
        problem = step_weights_problem(self.meta.step_weights, self.meta.inner_steps, self.meta.algorithm)
        if problem is not None:
            raise ConfigError(f"meta.step_weights: {problem}")


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted for floats."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        given = [a for a in args if a is not type(None)]
        if len(given) == 1:  # an optional field: the field's own message, not the union's
            return _coerce(key, value, given[0])
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(key, value, arg)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: {value!r} is not one of: {', '.join(_type_name(a) for a in args)}")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{key}: {value!r} is not a valid choice; choose one of: {', '.join(map(str, choices))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_coerce(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported field type {tp}")


def _build(cls: type, raw: Any, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(f"unknown config key {where}{unknown[0]}; valid keys here: {', '.join(fields)}")
    values = {}
    for name, value in raw.items():
        key = f"{prefix}.{name}" if prefix else name
        tp = hints[name]
        values[name] = _build(tp, value, key) if dataclasses.is_dataclass(tp) else _coerce(key, value, tp)
    return cls(**values)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted}: {part} is not a section")
        node = child
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``'meta.inner_steps=3'`` -> ``('meta.inner_steps', 3)``; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value (for example meta.inner_steps=3)")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} has no key")
    try:
        return key, yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: cannot read value ({exc})") from None


def config_from_dict(raw: dict[str, Any], overrides: list[str] = ()) -> RunConfig:
    """Build a validated ``RunConfig`` from nested plain data plus ``key=value`` overrides."""
    tree = json.loads(json.dumps(raw or {}))  # deep copy of plain data
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(tree, key, value)
    return _build(RunConfig, tree, "").validate()


def load_config(path: str | Path, overrides: list[str] = ()) -> RunConfig:
    """Read a YAML recipe and apply overrides."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})") from None
    try:
        return config_from_dict(raw, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
