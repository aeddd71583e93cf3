"""Assembling a run from its config: data parts, network, few-shot generator and meta-learner."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch

import metagen.nn  # noqa: F401  (registers the networks)
from metagen.data.dataset import ClassImageDataset, rotation_augmented
from metagen.data.registry import class_split, load_dataset
from metagen.data.splits import ClassSplit, apply_split
from metagen.errors import ConfigError, InputError
from metagen.fewshot.classifier import FewShotClassifier
from metagen.fewshot.gan import GANGenerator
from metagen.fewshot.prototypes import PrototypeClassifier
from metagen.fewshot.restorer import Restorer
from metagen.fewshot.set_gan import SetGANGenerator
from metagen.fewshot.set_vae import SetVAEGenerator
from metagen.fewshot.vae import VAEGenerator
from metagen.meta.inner import InnerLoop
from metagen.meta.learners import MetaLearner, make_learner
from metagen.meta.vectorised import check_supported as check_vmap_supported
from metagen.nn.classifier import Conv4Classifier
from metagen.nn.embedding import Conv4Embedding
from metagen.nn.gan import DCGAN
from metagen.nn.registry import NETWORKS, build_network
from metagen.nn.restoration import DnCNN
from metagen.nn.set_gan import SetGAN
from metagen.nn.set_vae import SetVAE
from metagen.nn.unet import UNet
from metagen.nn.vae import ConvVAE
from metagen.train.config import RunConfig

Family = (
    VAEGenerator | GANGenerator | SetVAEGenerator | SetGANGenerator | FewShotClassifier | PrototypeClassifier | Restorer
)
# Which few-shot family wraps each network: generators sample images, classifiers predict labels,
# embeddings classify by distance to class prototypes (and serve as evaluation feature spaces).
FAMILIES: dict[type, type] = {
    ConvVAE: VAEGenerator,
    DCGAN: GANGenerator,
    SetVAE: SetVAEGenerator,
    SetGAN: SetGANGenerator,
    Conv4Classifier: FewShotClassifier,
    Conv4Embedding: PrototypeClassifier,
    DnCNN: Restorer,
    UNet: Restorer,
}
# Families whose episodes are scored by query accuracy (validation during training, evaluation).
CLASSIFYING_FAMILIES = (FewShotClassifier, PrototypeClassifier)
# Amortised families and the episodic algorithm each is trained with (and only they).
EPISODIC_FAMILIES = {PrototypeClassifier: "protonet", SetVAEGenerator: "episodic", SetGANGenerator: "episodic"}


@dataclass
class Experiment:
    """Everything a meta-training run or an adaptation needs, built from one config."""

    config: RunConfig
    network_spec: dict[str, Any]
    family: Family
    learner: MetaLearner


@dataclass
class DataParts:
    split: ClassSplit
    train: ClassImageDataset
    val: ClassImageDataset | None


def load_data_parts(config: RunConfig) -> DataParts:
    """Load the data set, split its classes, and return the training (and validation) classes."""
    d = config.data
    ds = load_dataset(d.dataset, d.root, d.size, d.channels, **d.options)
    split = class_split(d.dataset, ds, d.split_seed)
    train = apply_split(ds, split, "train")
    if d.rotations:
        train = rotation_augmented(train)
    val = apply_split(ds, split, "val") if split.val else None
    return DataParts(split, train, val)


def network_spec_for(
    config: RunConfig, image_size: int | None, channels: int, train_classes: int | None = None
) -> dict[str, Any]:
    """The network's registry name and constructor options, with the data's size and channels,
    and ``num_classes``: the tasks' N for classifiers, the ``train_classes`` plus a new-class slot
    for class-conditional generators; only the options the network takes."""
    options = dict(config.model.options)
    network = NETWORKS.get(config.model.name)
    classifies = FAMILIES.get(network) in CLASSIFYING_FAMILIES  # type: ignore[arg-type]
    conditional = bool(config.model.family.get("conditional")) and train_classes is not None
    classes = config.meta.n_way if classifies else (train_classes + 1 if conditional else None)  # type: ignore[operator]
    implied: dict[str, Any] = {"image_size": image_size, "channels": channels, "num_classes": classes}
    takes = inspect.signature(network).parameters if network is not None else {}
    for key, value in implied.items():
        if key not in takes or value is None:
            continue
        if options.setdefault(key, value) != value:
            raise ConfigError(f"model.options.{key}={options[key]} does not match the data ({value})")
    return {"name": config.model.name, "options": options}


def family_options(family_cls: type, options: dict[str, Any]) -> dict[str, Any]:
    """Check the ``model.family`` options against the family's constructor (all but the model)."""
    valid = [p for p in inspect.signature(family_cls.__init__).parameters if p not in ("self", "model")]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(
            f"model.family: {family_cls.__name__} has no option {unknown[0]!r}; valid options: {', '.join(valid) or 'none'}"
        )
    return dict(options)


def build_experiment(config: RunConfig, network_spec: dict[str, Any]) -> Experiment:
    """Build the network (seeded by ``train.seed``), its generator wrapper and the meta-learner."""
    torch.manual_seed(config.train.seed)
    model = build_network(network_spec["name"], network_spec["options"])
    family_cls = FAMILIES.get(type(model))
    if family_cls is None:
        raise ConfigError(f"network {network_spec['name']!r} has no few-shot family metagen can meta-train")
    if family_cls in CLASSIFYING_FAMILIES and config.meta.n_way < 2:
        raise ConfigError(f"classifier {network_spec['name']!r} needs meta.n_way of 2 or more, got {config.meta.n_way}")
    if config.meta.algorithm == "pretrain" and family_cls not in (VAEGenerator, GANGenerator):
        raise ConfigError("meta.algorithm=pretrain (joint training, then fine-tuning) is a baseline for generators")
    if config.model.family.get("conditional") and config.meta.algorithm != "pretrain":
        raise ConfigError(
            "a class-conditional GAN is trained over the training classes with meta.algorithm=pretrain, "
            f"not {config.meta.algorithm!r}"
        )
    if family_cls is Restorer and config.meta.algorithm not in ("maml", "fomaml", "metasgd"):
        raise ConfigError(
            f"restorers are meta-trained with maml, fomaml or metasgd (a self-supervised inner loop and a "
            f"supervised outer loss), not {config.meta.algorithm!r}"
        )
    wanted = EPISODIC_FAMILIES.get(family_cls)
    if wanted != config.meta.algorithm and (wanted or config.meta.algorithm in EPISODIC_FAMILIES.values()):
        pairs = ", ".join(f"{a} with {f.__name__}" for f, a in EPISODIC_FAMILIES.items())
        raise ConfigError(
            f"the episodic algorithms go with their amortised families only ({pairs}); "
            f"got {config.meta.algorithm!r} with {network_spec['name']!r}"
        )
    model.to(config.train.device)
    try:
        family = family_cls(model, **family_options(family_cls, config.model.family))
    except TypeError as exc:
        raise ConfigError(f"model.family: bad options {config.model.family} ({exc})") from None
    m = config.meta
    inner = InnerLoop(m.inner_steps, m.inner_lr, m.inner_optimizer, m.grad_clip)
    episodic = isinstance(family, (PrototypeClassifier, SetVAEGenerator, SetGANGenerator))
    loss = family.episode_loss if episodic else family.task_loss  # type: ignore[union-attr]
    groups, schedule = family.param_groups(inner) if isinstance(family, GANGenerator) else (None, None)
    finetune = family.task_loss if isinstance(family, SetVAEGenerator) else None
    learner = make_learner(
        m.algorithm, model, loss, inner, m.outer_lr, m.outer_optimizer, m.grad_clip,
        groups=groups, schedule=schedule, finetune_loss=finetune, step_weights=m.step_weights,
    )  # fmt: skip
    learner.extra.to(config.train.device)
    if m.batching == "vmap":
        if type(family) is not FewShotClassifier:
            raise ConfigError(
                "meta.batching=vmap needs a deterministic task loss (classifiers); this family draws noise per task"
            )
        try:
            check_vmap_supported(inner)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        learner.batching = "vmap"
    if m.batching == "pooled":
        refusal = learner.pooling_refusal()
        if refusal is not None:
            raise ConfigError(f"meta.batching=pooled: {refusal}")
        learner.batching = "pooled"
    if m.batching == "threads":
        if hasattr(family, "diagnostics"):
            raise ConfigError("meta.batching=threads: this family records diagnostics per task; use meta.batching=loop")
        learner.use_threads(m.workers or torch.get_num_threads())
    return Experiment(config, network_spec, family, learner)


def check_device(device: str) -> torch.device:
    """The torch device for ``device``, refusing CUDA where none is available."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {device!r} asked for, but CUDA is not available here; use --device cpu")
    return torch.device(device)
