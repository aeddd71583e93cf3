"""A restoration network as a meta-learned restorer: adapted to a degraded image by self-supervised
steps on that image alone, meta-trained so that those steps help (MZSR, Soh et al. 2020, does the
same for super-resolution with MAML).

Task data contract (see ``metagen.tasks.restoration``): ``support_x`` and ``query_x`` are degraded
patches [B, C, P, P]; ``support_y`` is the bool mask of known pixels [B, 1, P, P] (self-supervised:
no clean image is used to adapt); ``query_y`` holds the clean patches [B, C, P, P] (float) for the
supervised outer loss. Super-resolution tasks carry self-supervised pairs instead: ``support_y`` the
low-resolution patches (float), ``support_x`` their coarser copies, so the supervised loss on them
is the rescaling loss of test-time adaptation.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from metagen.errors import ConfigError
from metagen.meta.inner import Params
from metagen.meta.learners import MetaLearner
from metagen.nn.self_ensemble import self_ensemble
from metagen.objectives.noise_level import NOISE_ESTIMATORS
from metagen.objectives.restoration import (
    blind_spot_loss,
    estimated_noise_std,
    refill_loss,
    renoise_loss,
    rescale_loss,
    supervised_loss,
)
from metagen.objectives.sure import monte_carlo_sure, sure_loss
from metagen.tasks.fill import fill_unknown
from metagen.tasks.task import Task

NOISE_LOSSES = ("blind_spot", "renoise", "sure")
NOISE_MODELS = ("white", "signal")
ADAPT_PRECISIONS = ("float32", "bfloat16")


class Restorer:
    """Options (``model.family`` in a recipe, or ``--family`` when restoring):
    noise_loss: the self-supervised loss on images with every pixel known: 'blind_spot' (masking,
        Noise2Void / Noise2Self), 'renoise' (Noisier2Noise, with the noise level estimated from
        the image) or 'sure' (Monte-Carlo SURE, Soltanayev and Chun 2018, at the same estimated
        level: the image at its own noise level, none added; ``metagen.objectives.sure``).
    mask_fraction: the share of pixels hidden by blind-spot masking and by the inpainting loss.
    renoise_alpha: Noisier2Noise's alpha, the scale of the added noise relative to the image's own.
    noise_model: the noise level re-noising and SURE assume: 'white', one estimated per image, or
        'signal', a level that varies with the intensity, fitted per image (Poisson, speckle; see
        ``metagen.objectives.noise_level``).
    noise_estimator: how those levels are read from the image: 'haar', the median absolute finest
        wavelet coefficient (Donoho and Johnstone 1994), or 'weak_texture', the patches with the
        least texture (Liu et al. 2013, with Chen et al. 2015's eigenvalue tail), which counts less
        texture as noise: the better level to adapt with at test time, but meta-training re-noising
        at it gave a worse network than at the wavelet level (benchmarks/restoration_noise_estimator.py).
    keep_known: on inpainting (some pixels unknown), give back the known pixels as observed and the
        network's output only where pixels were lost, the composite of inpainting networks (e.g.
        Yu et al. 2018, "Generative Image Inpainting with Contextual Attention"): the known pixels
        of a missing-pixel degradation are exact, so the network can only add error there. Set it
        false when the known pixels are noisy too.
    self_ensemble: restore the image as the mean of the network's outputs on its eight rotations
        and mirror images, each turned back (geometric self-ensemble, Timofte et al. 2016; see
        ``metagen.nn.self_ensemble``): eight times the cost of the final pass, none to adaptation.
    adapt_precision: 'float32', or 'bfloat16' to run the self-supervised steps' forward and backward
        passes in bfloat16 mixed precision (``torch.autocast``; weights, their updates and the loss
        stay float32; Micikevicius et al. 2018 for mixed-precision training): about twice as fast
        on a CPU with bfloat16 instructions (benchmarks/restoration_adaptation_speed.py). Not with
        the SURE loss, whose finite-difference divergence is far below bfloat16's resolution.

    ``sr_scale``: when set, the self-supervised loss is the super-resolution one (the input is a
    low-resolution image upscaled by that factor). Set it for the duration of one adaptation with
    :meth:`super_resolving`."""

    family = "restorer"
    kind = "restorer"

    def __init__(
        self,
        model: nn.Module,
        mask_fraction: float = 1 / 16,
        noise_loss: str = "blind_spot",
        renoise_alpha: float = 0.5,
        keep_known: bool = True,
        noise_model: str = "white",
        self_ensemble: bool = False,
        noise_estimator: str = "haar",
        adapt_precision: str = "float32",
    ):
        if noise_loss not in NOISE_LOSSES:
            raise ConfigError(f"model.family.noise_loss must be one of {NOISE_LOSSES}, got {noise_loss!r}")
        if not 0 < mask_fraction < 1:
            raise ConfigError(f"model.family.mask_fraction must lie in (0, 1), got {mask_fraction}")
        if not renoise_alpha > 0:
            raise ConfigError(f"model.family.renoise_alpha must be positive, got {renoise_alpha}")
        if noise_model not in NOISE_MODELS:
            raise ConfigError(f"model.family.noise_model must be one of {NOISE_MODELS}, got {noise_model!r}")
        if noise_estimator not in NOISE_ESTIMATORS:
            raise ConfigError(
                f"model.family.noise_estimator must be one of {NOISE_ESTIMATORS}, got {noise_estimator!r}"
            )
        if not isinstance(keep_known, bool):
            raise ConfigError(f"model.family.keep_known must be true or false, got {keep_known!r}")
        if not isinstance(self_ensemble, bool):
            raise ConfigError(f"model.family.self_ensemble must be true or false, got {self_ensemble!r}")
        self.model, self.mask_fraction = model, mask_fraction
        self.noise_loss, self.renoise_alpha, self.keep_known = noise_loss, renoise_alpha, keep_known
        if adapt_precision not in ADAPT_PRECISIONS:
            raise ConfigError(
                f"model.family.adapt_precision must be one of {ADAPT_PRECISIONS}, got {adapt_precision!r}"
            )
        if adapt_precision == "bfloat16" and noise_loss == "sure":
            raise ConfigError(
                "model.family.adapt_precision=bfloat16 cannot take the SURE loss: its divergence is a finite "
                "difference at 1/1000 of the image's range, below bfloat16's resolution (1/256)"
            )
        self.noise_model, self.self_ensemble, self.noise_estimator = noise_model, self_ensemble, noise_estimator
        self.adapt_precision = adapt_precision
        self.sr_scale: int | None = None
        self._noise_level: tuple[torch.Tensor, int, torch.Tensor] | None = None  # (batch, its version, level)
        self._channels_last = False

    @contextmanager
    def super_resolving(self, scale: int | None) -> Iterator[None]:
        previous, self.sr_scale = self.sr_scale, scale
        try:
            yield
        finally:
            self.sr_scale = previous

    @contextmanager
    def channels_last(self) -> Iterator[None]:
        """Hold the network's weights, and give it its inputs, in the channels-last layout for the
        duration (adapting to an image and restoring it); the weights go back to the default
        layout after, as safetensors checkpoints need it. PyTorch's CPU convolutions (oneDNN) are
        faster channels-last, on a whole image most (benchmarks/restoration_adaptation_speed.py);
        parameters adapted keep the layout."""
        self.model.to(memory_format=torch.channels_last)
        previous, self._channels_last = self._channels_last, True
        try:
            yield
        finally:
            self._channels_last = previous
            if not previous:
                self.model.to(memory_format=torch.contiguous_format)

    def network(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """The network under ``params`` on ``x`` [B, C, H, W] (channels-last inside
        :meth:`channels_last`)."""
        return functional_call(self.model, params, (in_channels_last(x) if self._channels_last else x,))

    def _network_in_bfloat16(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, torch.bfloat16):
            return self.network(params, x)

    def task_loss(self, params: Params, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Self-supervised loss when ``y`` is the known-pixel mask (bool): ``noise_loss`` where
        every pixel is known, hiding and refilling known pixels where some are not (inpainting),
        the rescaling loss while super-resolving; supervised MSE when ``y`` is the clean image (or,
        on a super-resolution task's support, the patches of which ``x`` holds coarser copies)."""

        restore = functools.partial(self.network, params)
        if y.dtype != torch.bool:
            return supervised_loss(restore(x), y)
        if self.adapt_precision == "bfloat16":  # the network's passes; the loss's own sums stay float32
            restore = functools.partial(self._network_in_bfloat16, params)
        if self.sr_scale:
            return rescale_loss(restore, x, self.sr_scale)
        if not bool(y.all()):
            return refill_loss(restore, x, y.to(x.dtype), gen, self.mask_fraction)
        if self.noise_loss == "renoise":
            return renoise_loss(restore, x, gen, self.renoise_alpha, noise_std=self.noise_std(x))
        if self.noise_loss == "sure":
            return sure_loss(restore, x, self.noise_std(x), gen)
        return blind_spot_loss(restore, x, y.to(x.dtype), gen, self.mask_fraction)

    def noise_std(self, noisy: torch.Tensor) -> torch.Tensor:
        """The noise's standard deviation in ``noisy`` [B, C, H, W] as re-noising and SURE take it:
        the family's noise model and estimator (``estimated_noise_std``). The inner loop steps on
        one batch many times; its level is estimated once (again if the batch changes in place),
        in float32 whatever precision the steps take."""
        cached = self._noise_level
        if cached is not None and cached[0] is noisy and cached[1] == noisy._version:
            return cached[2]
        with torch.autocast(noisy.device.type, enabled=False):
            level = estimated_noise_std(noisy, self.noise_model, self.noise_estimator)
        self._noise_level = (noisy, noisy._version, level)
        return level

    @torch.no_grad()
    def restore(self, params: Params, degraded: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
        """The network's restoration of ``degraded`` [B, C, H, W] under ``params``. ``known`` (bool
        [B, 1, H, W], False where a pixel was lost; None: all known) with ``keep_known`` set: the
        known pixels come back as they are in ``degraded``. With ``self_ensemble``, the mean over
        the eight symmetries of the square."""

        network = functools.partial(self.network, params)
        out = self_ensemble(network, degraded) if self.self_ensemble else network(degraded)
        if known is None or not self.keep_known or bool(known.all()):
            return out
        return torch.where(known.to(out.device), degraded, out)


def random_crops(
    image: torch.Tensor, known: torch.Tensor, size: int, count: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` random ``size`` crops (the whole image where it is smaller) of image [C, H, W] and
    its mask [1, H, W]: the batches of test-time adaptation."""
    h, w = image.shape[-2:]
    ch, cw = min(size, h), min(size, w)
    tops = torch.randint(0, h - ch + 1, (count,), generator=gen).tolist()
    lefts = torch.randint(0, w - cw + 1, (count,), generator=gen).tolist()
    crops = [image[:, t : t + ch, s : s + cw] for t, s in zip(tops, lefts)]
    masks = [known[:, t : t + ch, s : s + cw] for t, s in zip(tops, lefts)]
    return torch.stack(crops), torch.stack(masks)


def adapt_and_restore(
    learner: MetaLearner,
    family: Restorer,
    degraded: np.ndarray,
    known: np.ndarray | None,
    steps: int,
    seed: int = 0,
    crop: int = 64,
    batch: int = 8,
    sr_scale: int | None = None,
) -> np.ndarray:
    """Adapt to one degraded image (float [H, W] or [H, W, C]) with ``steps`` self-supervised steps
    on random crops of it, then restore the whole image. ``steps`` 0 is the meta-learned network as
    it is. ``known``: for inpainting, the known pixels (bool [H, W]); the unknown ones are filled by
    the spline of ``metagen.tasks.fill`` before the network sees them, as in training, and with the
    family's ``keep_known`` the known ones are given back as they are. ``sr_scale``: the image is a
    low-resolution one upscaled by this factor (adaptation uses the super-resolution loss, on crops
    whose sides are multiples of it)."""
    image, mask = _image_tensors(learner.model, degraded, known)
    gen = torch.Generator().manual_seed(seed)
    with family.channels_last():
        params = learner.params()
        if steps > 0:
            crops, masks = _adaptation_batch(image, mask, gen, crop, batch, sr_scale)
            with family.super_resolving(sr_scale):
                params = learner.adapt(crops, masks, gen, steps=steps)
        return _as_array(family.restore(params, image[None], mask[None])[0], degraded.ndim)


@dataclass(frozen=True)
class StepChoice:
    """The adaptation step chosen for one image and the estimated mean squared error (SURE, on
    [0, 1] intensities) at each step checked."""

    step: int
    risks: dict[int, float]

    @property
    def estimated_psnr(self) -> float:
        """The PSNR (dB) that the chosen step's estimated error stands for."""
        return float(10 * np.log10(1 / max(self.risks[self.step], 1e-10)))


def checked_steps(steps: int, every: int) -> list[int]:
    """The steps at which :func:`adapt_choosing_step` estimates the error: 0, every ``every``-th
    and the last."""
    if steps < 0 or every < 1:
        raise ValueError(f"steps must be 0 or more and every at least 1, got steps={steps}, every={every}")
    return sorted({*range(0, steps + 1, every), steps})


def adapt_choosing_step(
    learner: MetaLearner,
    family: Restorer,
    noisy: np.ndarray,
    steps: int,
    every: int,
    seed: int = 0,
    crop: int = 64,
    batch: int = 8,
) -> tuple[np.ndarray, StepChoice]:
    """Adapt to one noisy image (float [H, W] or [H, W, C], every pixel known) as
    :func:`adapt_and_restore` does for ``steps`` steps, estimate the restoration's mean squared
    error at the steps of :func:`checked_steps` by Monte-Carlo SURE on the whole image
    (``metagen.objectives.sure``; the family's noise model gives the levels, estimated from the
    image) and restore with the step whose estimate is lowest: how far to adapt, chosen per image
    without the clean image (SURE as the stopping rule of Metzler et al. 2018). The estimate takes
    the network's plain output (self-ensemble, when set, applies to the final restoration only).
    Choosing step k gives exactly what adapting k steps gives. Two extra passes per step checked."""
    image, _ = _image_tensors(learner.model, noisy, None)
    path = adaptation_path(learner, family, noisy, steps, seed, crop, batch)
    noise_std = family.noise_std(image[None])
    risks = {}
    for step in checked_steps(steps, every):
        network = functools.partial(family.network, path[step])
        probe = torch.Generator().manual_seed(seed)  # one probe for every step: their differences are what count
        with torch.no_grad(), family.channels_last():
            risks[step] = float(monte_carlo_sure(network, image[None], noise_std, probe)[0])
    chosen = min(risks, key=lambda s: (risks[s], s))
    return restore_with(family, path[chosen], noisy), StepChoice(chosen, risks)


def adaptation_path(
    learner: MetaLearner,
    family: Restorer,
    noisy: np.ndarray,
    steps: int,
    seed: int = 0,
    crop: int = 64,
    batch: int = 8,
) -> list[Params]:
    """The parameters after 0, 1, ..., ``steps`` self-supervised steps on the noisy image ``noisy``
    (float [H, W] or [H, W, C], every pixel known), adapted as :func:`adapt_and_restore` adapts:
    ``family.restore(path[k], ...)`` is what adapting k steps restores."""
    image, mask = _image_tensors(learner.model, noisy, None)
    if steps == 0:
        return [learner.params()]
    gen = torch.Generator().manual_seed(seed)
    crops, masks = _adaptation_batch(image, mask, gen, crop, batch, None)
    path: list[Params] = []
    with family.channels_last():
        learner.adapt(crops, masks, gen, steps=steps, trajectory=path)
    return path


def restore_with(family: Restorer, params: Params, noisy: np.ndarray) -> np.ndarray:
    """``noisy`` (float [H, W] or [H, W, C], every pixel known) restored by the family's network
    under ``params``, in the input's layout."""
    image, _ = _image_tensors(family.model, noisy, None)
    with family.channels_last():
        return _as_array(family.restore(params, image[None])[0], noisy.ndim)


def _image_tensors(
    model: nn.Module, degraded: np.ndarray, known: np.ndarray | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The image [C, H, W] on the learner's device, its unknown pixels filled by the spline of
    ``metagen.tasks.fill``, and its known-pixel mask [1, H, W] (all True when ``known`` is None)."""
    device = next(model.parameters()).device
    chw = degraded[None] if degraded.ndim == 2 else degraded.transpose(2, 0, 1)
    image = torch.tensor(np.ascontiguousarray(chw, dtype=np.float32)).to(device)
    mask = torch.ones((1, *image.shape[-2:]), dtype=torch.bool) if known is None else torch.from_numpy(known)[None]
    mask = mask.to(device)
    return fill_unknown(image[None], mask[None])[0], mask


def _adaptation_batch(
    image: torch.Tensor, mask: torch.Tensor, gen: torch.Generator, crop: int, batch: int, sr_scale: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``batch`` random crops (and masks) that test-time adaptation steps on."""
    side = crop - crop % sr_scale if sr_scale else crop
    crops, masks = random_crops(image, mask, side, batch, gen)
    # lost pixels filled again from each crop alone: the problem the refill loss solves with a few
    # more pixels hidden, so that its refills start next to their answer (same loss, fewer steps)
    crops = fill_unknown(crops, masks, start=crops)
    if sr_scale:
        h, w = crops.shape[-2:]
        keep = (..., slice(0, h - h % sr_scale), slice(0, w - w % sr_scale))
        crops, masks = crops[keep], masks[keep]
    return crops, masks


def in_channels_last(x: torch.Tensor) -> torch.Tensor:
    """A copy of ``x`` [B, C, H, W] with channels-last strides. With one channel (grey) the two
    layouts are the same memory, and ``contiguous(memory_format=...)`` keeps whichever strides the
    tensor has; the convolution chooses its layout from the strides, so they are set here."""
    return torch.empty_like(x, memory_format=torch.channels_last).copy_(x)


def _as_array(restored: torch.Tensor, ndim: int) -> np.ndarray:
    """A restored [C, H, W] tensor as the caller's layout: [H, W] for grey input, else [H, W, C]."""
    out = restored.cpu().numpy()
    return out[0] if ndim == 2 else out.transpose(1, 2, 0)


def restoration_psnr(learner: MetaLearner, family: Restorer, tasks: list[Task], steps: int) -> float:
    """Mean PSNR (dB, values clipped to [0, 1]) of the query patches restored after ``steps``
    self-supervised steps on each task's support patches."""
    device = next(learner.model.parameters()).device
    scores = []
    for i, task in enumerate(tasks):
        task = task.to(device)
        gen = torch.Generator().manual_seed(i)
        params = learner.adapt(task.support_x, task.support_y, gen, steps=steps) if steps else learner.params()
        restored = family.restore(params, task.query_x).clamp(0, 1)
        mse = ((restored - task.query_y) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
        scores.extend((10 * torch.log10(1 / mse)).tolist())
    return float(np.mean(scores))
