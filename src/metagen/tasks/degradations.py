"""Image degradations as seeded, parameterised objects: the tasks of meta-learned restoration.

Each degradation maps a clean image (float32 [H, W] or [H, W, C], values in [0, 1]) and a numpy
random generator to a ``Degraded`` image; the same generator state gives the same result. Each
describes itself as a spec string (``gaussian:sigma=25``) that ``parse_degradation`` reads back,
so a config can name one.

Noise levels follow the restoration literature's 0..255 scale (sigma 25 means std 25/255).
Super-resolution follows the bicubic protocol: the low-resolution image is the clean one downscaled
by bicubic interpolation with antialiasing (MATLAB ``imresize``-like), and the restorer's input is
the low-resolution image upscaled back by bicubic interpolation (as in VDSR, Kim et al. 2016).
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from metagen.errors import ConfigError


@dataclass(frozen=True)
class Degraded:
    """``image``: the restorer's input, same shape as the clean image. ``known``: for inpainting, the
    pixels that survived (bool [H, W]); None when every pixel carries (noisy) information.
    ``low_res``: for super-resolution, the low-resolution image before upscaling."""

    image: np.ndarray
    known: np.ndarray | None = None
    low_res: np.ndarray | None = None


DEGRADATIONS: dict[str, type["Degradation"]] = {}


class Degradation(ABC):
    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            DEGRADATIONS[cls.name] = cls

    @abstractmethod
    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> Degraded:
        """Degrade ``clean`` with random numbers from ``rng``."""

    def instance(self, rng: np.random.Generator) -> "Degradation":
        """This degradation at a level fixed for one task: a blind one (a level range) draws its
        level here; a fixed one is itself."""
        return self

    def spec(self) -> str:
        params = ",".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))  # type: ignore[arg-type]
        return f"{self.name}:{params}" if params else self.name


def draw_level(rng: np.random.Generator, low: float, high: float) -> float:
    """A degradation's level: drawn uniformly from [low, high] where ``high`` > ``low`` (a blind
    degradation), else ``low`` (a fixed one, with no random number drawn)."""
    return float(rng.uniform(low, high)) if high > low else low


def _as_float(clean: np.ndarray) -> np.ndarray:
    arr = np.asarray(clean)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    return arr.astype(np.float32)


@dataclass(frozen=True)
class GaussianNoise(Degradation):
    """Additive white Gaussian noise of std ``sigma``/255, not clipped. ``sigma_max`` > 0 makes it
    blind: each application draws sigma uniformly from [sigma, sigma_max]."""

    name: ClassVar[str] = "gaussian"
    sigma: float = 25.0
    sigma_max: float = 0.0

    def level(self, rng: np.random.Generator) -> float:
        return draw_level(rng, self.sigma, self.sigma_max)

    def instance(self, rng: np.random.Generator) -> "GaussianNoise":
        return GaussianNoise(self.level(rng)) if self.sigma_max > self.sigma else self

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> Degraded:
        x = _as_float(clean)
        return Degraded((x + rng.normal(0.0, self.level(rng) / 255.0, x.shape)).astype(np.float32))


@dataclass(frozen=True)
class PoissonNoise(Degradation):
    """Shot noise: photon counts with mean ``peak`` * x, rescaled by ``peak`` (lower peak, more noise)."""

    name: ClassVar[str] = "poisson"
    peak: float = 30.0

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> Degraded:
        x = _as_float(clean)
        return Degraded((rng.poisson(np.clip(x, 0, None) * self.peak) / self.peak).astype(np.float32))


@dataclass(frozen=True)
class SpeckleNoise(Degradation):
    """Multiplicative noise: x + x * n with n Gaussian of std ``std``."""

    name: ClassVar[str] = "speckle"
    std: float = 0.3

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> Degraded:
        x = _as_float(clean)
        return Degraded((x + x * rng.normal(0.0, self.std, x.shape)).astype(np.float32))


@dataclass(frozen=True)
class SaltAndPepper(Degradation):
    """A fraction ``amount`` of pixels set to 0 or 1 (half each)."""

    name: ClassVar[str] = "saltpepper"
    amount: float = 0.1

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> Degraded:
        x = _as_float(clean).copy()
        hit = rng.random(x.shape[:2]) < self.amount
        values = (rng.random(int(hit.sum())) < 0.5).astype(np.float32)
        x[hit] = values[:, None] if x.ndim == 3 else values
        return Degraded(x)


@dataclass(frozen=True)
class MissingPixels(Degradation):
    """A random fraction ``fraction`` of pixels lost (set to 0); ``known`` marks the others.
    ``fraction_max`` > ``fraction`` makes the fraction random: each application (or each task, see
    :meth:`instance`) draws it uniformly from [fraction, fraction_max]."""

    name: ClassVar[str] = "missing"
    fraction: float = 0.5
    fraction_max: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.fraction < 1 or self.fraction_max >= 1:
            raise ValueError(f"fractions must lie in [0, 1), got {self.fraction} and {self.fraction_max}")

    def level(self, rng: np.random.Generator) -> float:
        return draw_level(rng, self.fraction, self.fraction_max)

    def instance(self, rng: np.random.Generator) -> "MissingPixels":
        return MissingPixels(self.level(rng)) if self.fraction_max > self.fraction else self

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> Degraded:
        x = _as_float(clean)
        known = rng.random(x.shape[:2]) >= self.level(rng)
        return Degraded(x * (known[..., None] if x.ndim == 3 else known), known)


@dataclass(frozen=True)
class RectangularHoles(Degradation):
    """``count`` rectangles, each side ``size`` times the image's, placed at random and set to 0."""

    name: ClassVar[str] = "holes"
    count: int = 4
    size: float = 0.15

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> Degraded:
        x = _as_float(clean)
        h, w = x.shape[:2]
        known = np.ones((h, w), dtype=bool)
        hh, ww = max(1, round(self.size * h)), max(1, round(self.size * w))
        for _ in range(int(self.count)):
            top, left = rng.integers(0, h - hh + 1), rng.integers(0, w - ww + 1)
            known[top : top + hh, left : left + ww] = False
        return Degraded(x * (known[..., None] if x.ndim == 3 else known), known)


def bicubic_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic resize of a float image (antialiased when shrinking), per channel, in float32."""
    channels = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[2])]
    out = [
        np.asarray(Image.fromarray(c.astype(np.float32), mode="F").resize((width, height), Image.BICUBIC))
        for c in channels
    ]
    return out[0] if image.ndim == 2 else np.stack(out, axis=-1)


@dataclass(frozen=True)
class Downscale(Degradation):
    """Super-resolution input: bicubic downscaling by ``scale`` (the image is first cropped to a
    multiple of it), then bicubic upscaling back to the cropped size. ``blur`` > 0 first blurs the
    image by a Gaussian of that standard deviation (high-resolution pixels): the blur kernels of
    the super-resolution literature beyond the bicubic one (MZSR, Soh et al. 2020, meta-trains over
    Gaussian kernels of random widths). ``blur_max`` > ``blur`` makes the width random, drawn
    uniformly from [blur, blur_max] per application (or per task, see :meth:`instance`)."""

    name: ClassVar[str] = "sr"
    scale: int = 2
    blur: float = 0.0
    blur_max: float = 0.0

    def __post_init__(self) -> None:
        if self.scale < 1 or self.blur < 0 or self.blur_max < 0:
            raise ValueError(f"the scale must be at least 1 and blur widths non-negative, got {self}")

    def level(self, rng: np.random.Generator) -> float:
        return draw_level(rng, self.blur, self.blur_max)

    def instance(self, rng: np.random.Generator) -> "Downscale":
        return Downscale(self.scale, self.level(rng)) if self.blur_max > self.blur else self

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> Degraded:
        x = crop_to_multiple(_as_float(clean), self.scale)
        width = self.level(rng)
        if width > 0:
            x = gaussian_filter(x, sigma=(width, width, 0)[: x.ndim], mode="reflect").astype(np.float32)
        h, w = x.shape[:2]
        low = bicubic_resize(x, h // self.scale, w // self.scale)
        return Degraded(bicubic_resize(low, h, w), low_res=low)


def crop_to_multiple(image: np.ndarray, scale: int) -> np.ndarray:
    """``image`` cropped (bottom and right) to a height and width divisible by ``scale``."""
    h, w = image.shape[0] - image.shape[0] % scale, image.shape[1] - image.shape[1] % scale
    return image[:h, :w]


@dataclass(frozen=True)
class JPEGCompression(Degradation):
    """JPEG encoding at ``quality`` (1..95) and decoding back."""

    name: ClassVar[str] = "jpeg"
    quality: int = 20

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> Degraded:
        x = np.uint8((np.clip(_as_float(clean), 0, 1) * 255).round())
        buffer = io.BytesIO()
        Image.fromarray(x).save(buffer, format="JPEG", quality=int(self.quality))
        return Degraded(np.asarray(Image.open(buffer), dtype=np.float32) / 255.0)


def parse_degradation(spec: str) -> Degradation:
    """``name`` or ``name:key=value,key=value`` (e.g. ``gaussian:sigma=50``, ``sr:scale=4``)."""
    name, _, rest = spec.strip().partition(":")
    if name not in DEGRADATIONS:
        raise ConfigError(f"unknown degradation {name!r}; choose one of: {', '.join(sorted(DEGRADATIONS))}")
    cls = DEGRADATIONS[name]
    types = {f.name: f.type for f in fields(cls)}  # type: ignore[arg-type]
    kwargs = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or key not in types:
            raise ConfigError(f"degradation {name}: bad parameter {item!r}; parameters: {', '.join(types) or 'none'}")
        try:
            kwargs[key] = int(value) if types[key] in ("int", int) else float(value)
        except ValueError:
            raise ConfigError(f"degradation {name}: {key}={value!r} is not a number") from None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"degradation {spec!r}: {exc}") from None
