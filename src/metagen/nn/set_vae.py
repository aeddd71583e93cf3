"""A set-conditioned VAE in the manner of the Neural Statistician (Edwards and Storkey 2017,
"Towards a Neural Statistician"): a statistic network pools the features of a set of images (the
shots) into a Gaussian posterior over a context c; each image has its own latent z with a prior
p(z | c) and a posterior q(z | x, c); the decoder generates x from (z, c).

A plain module with no running statistics. ``forward`` computes everything the episode ELBO needs
from a context set and the images to explain, with the caller's noise, so the caller decides every
random number; ``generate`` samples new images of the set's class in one forward pass.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from metagen.nn.blocks import check_image_network, conv_gn_act, encoder_layers
from metagen.nn.registry import register_network


WARP_EPS = 1e-4  # a warped image is kept this far from 0 and 1 to take its logit


def warp_images(images: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``images`` [B, C, H, W] deformed by ``flow`` [B, 2, H, W]: the output pixel at p samples
    the input at p + flow(p) (x then y, in grid_sample's [-1, 1] units, pixel centres as
    ``align_corners=False`` places them), bilinearly, with the border value outside."""
    b, _, h, w = images.shape
    ys = (torch.arange(h, dtype=images.dtype, device=images.device) * 2 + 1) / h - 1
    xs = (torch.arange(w, dtype=images.dtype, device=images.device) * 2 + 1) / w - 1
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).expand(b, h, w, 2)
    return F.grid_sample(images, grid + flow.permute(0, 2, 3, 1), padding_mode="border", align_corners=False)


def _mlp(c_in: int, hidden: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(c_in, hidden), nn.SiLU(), nn.Linear(hidden, c_out))


def _gaussian(stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mu, logvar = stats.chunk(2, dim=-1)
    return mu, logvar.clamp(-10.0, 6.0)


@register_network("set_vae")
class SetVAE(nn.Module):
    """Args:
    image_size: 28, 32, 64 or 128. channels: 1 or 3. latent_dim: size of each image's z.
    context_dim: size of the set's context c. width: channels of the first convolution, doubled at
    each halving up to 4x. hidden: width of the fully connected layers.
    likelihood: 'bernoulli' (glyphs) or 'gaussian' (photos), as for ``conv_vae``.
    local_levels: how many of the encoder's resolutions, deepest first, pass the shots' fused maps to
    the decoder (0: the pooled context only, the original Neural Statistician). The last level is
    the full resolution (the first 3x3 block's map), so at most one more than the halvings: 0..3 at
    28 pixels, joined at 7x7, 14x14 and 28x28.
    warp: instead of drawing pixels, the decoder deforms the fused shots (with ``fusion: pick``, one
        shot per image) by a smooth displacement field that it predicts from (z, c) at its coarsest
        resolution. New images keep the shots' strokes sharp, and z carries the deformation from a
        shot to another drawing of its class, as in generators that learn a class's deformations
        (Antoniou et al. 2017, DAGAN; Hong et al. 2022, DeltaGAN). The displacement starts at zero:
        an untrained model copies its shots. The shots enter as pixels, so local_levels must be 0.
    max_shift: the largest displacement, as a share of the image side.
    flow_from_shot: the displacement field is predicted from (z, c) and the encoder's coarsest map
        of the shot it deforms, through a hidden convolution (as DAGAN's generator sees its source
        image), rather than from (z, c) alone: a deformation can follow the shot's own strokes.
    posterior_sees_shot: the latent posterior q(z | x, c, shot) also reads the features of the shot
        that x's image deforms (with ``warp``), so that z can encode the deformation from that shot
        to x, which it cannot tell from (x, c) alone when the shot is drawn at random. The prior
        p(z | c) is unchanged, so generation draws z as before. A conditional VAE's inference
        network sees its condition (Sohn et al. 2015). Measured on Omniglot
        (benchmarks/results/fewshot_generation_validated.md), it narrowed the spread of copying over
        seeds, but one seed of three still ignored the sampling temperature, as without it.
    """

    def __init__(
        self,
        image_size: int = 28,
        channels: int = 1,
        latent_dim: int = 32,
        context_dim: int = 64,
        width: int = 32,
        hidden: int = 256,
        likelihood: Literal["bernoulli", "gaussian"] = "bernoulli",
        local_levels: int = 0,
        warp: bool = False,
        max_shift: float = 0.15,
        flow_from_shot: bool = False,
        posterior_sees_shot: bool = False,
    ):
        super().__init__()
        if not 0 < max_shift <= 1:
            raise ValueError(f"max_shift must lie in (0, 1], got {max_shift}")
        if warp and local_levels:
            raise ValueError("a warping set VAE deforms the shots' pixels and merges no maps: local_levels must be 0")
        if flow_from_shot and not warp:
            raise ValueError("flow_from_shot shapes the displacement of a warping set VAE: it needs warp")
        if posterior_sees_shot and not warp:
            raise ValueError("posterior_sees_shot shows the posterior the shot a warping set VAE deforms: needs warp")
        check_image_network(channels, likelihood)
        enc, widths, side = encoder_layers(image_size, channels, width)
        steps = len(widths) - 1
        if not 0 <= local_levels <= steps + 1:
            raise ValueError(
                f"local_levels must lie in 0..{steps + 1} for {image_size}-pixel images, got {local_levels}"
            )
        flat = widths[-1] * side * side
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(flat, hidden), nn.SiLU())
        self.statistic = _mlp(hidden, hidden, hidden)  # applied per image, then mean-pooled over the set
        self.context_posterior = _mlp(hidden, hidden, 2 * context_dim)
        seen = (2 if posterior_sees_shot else 1) * hidden + context_dim  # x's features (and its shot's), c
        self.latent_posterior = _mlp(seen, hidden, 2 * latent_dim)
        self.latent_prior = _mlp(context_dim, hidden, 2 * latent_dim)
        self.from_latent = nn.Sequential(nn.Linear(latent_dim + context_dim, flat), nn.SiLU())
        if warp:  # the displacement field in place of the pixel decoder, zero at first: the shots as they are
            out = nn.Conv2d(widths[-1], 2, 3, 1, 1)
            nn.init.zeros_(out.weight)
            nn.init.zeros_(out.bias)
            self.flow = nn.Sequential(conv_gn_act(2 * widths[-1], widths[-1], 3, 1, 1), out) if flow_from_shot else out
        else:
            dec = [conv_gn_act(widths[i + 1], widths[i], 4, 2, 1, transpose=True) for i in reversed(range(steps))]
            self.decoder = nn.Sequential(*dec, nn.Conv2d(widths[0], channels, 3, 1, 1))
        # merge[i] joins the decoder's map before decoder[i] with the fused shot maps of its resolution
        self.merge = nn.ModuleList(conv_gn_act(2 * w, w, 3, 1, 1) for w in widths[::-1][:local_levels])
        self.n_conv = len(enc)
        self.image_size, self.channels, self.likelihood = image_size, channels, likelihood
        self.latent_dim, self.context_dim = latent_dim, context_dim
        self.base_side, self.base_width = side, widths[-1]
        self.warp, self.max_shift, self.flow_from_shot = warp, max_shift, flow_from_shot
        self.posterior_sees_shot = posterior_sees_shot

    @property
    def local_levels(self) -> int:
        return len(self.merge)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Images [B, C, H, W] in [0, 1] -> features [B, hidden]."""
        return self.encoder(x * 2.0 - 1.0)

    def features_and_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images -> features [B, hidden] and the encoder maps of the deepest ``local_levels``
        resolutions, deepest first (the decoder's order)."""
        h, maps = x * 2.0 - 1.0, []
        for layer in self.encoder[: self.n_conv]:
            h = layer(h)
            maps.append(h)
        return self.encoder[self.n_conv :](h), maps[::-1][: self.local_levels]

    @staticmethod
    def fuse(maps: list[torch.Tensor], weights: torch.Tensor | None, n: int) -> list[torch.Tensor]:
        """Shot maps [K, F, h, w] per level -> ``n`` convex combinations [n, F, h, w] with
        ``weights`` [n, K] (rows summing to 1); None: the shots' mean for all ``n``."""
        if weights is None:
            return [m.mean(dim=0, keepdim=True).expand(n, -1, -1, -1) for m in maps]
        return [torch.einsum("nk,kfhw->nfhw", weights, m) for m in maps]

    def context(self, set_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features of one set [K, hidden] (any K >= 1) -> the context posterior (mu, logvar) [context_dim]."""
        return _gaussian(self.context_posterior(self.statistic(set_features).mean(dim=0)))

    def shot_terms(self, maps: list[torch.Tensor], weights: torch.Tensor | None, n: int) -> list[torch.Tensor]:
        """What the shots add inside each merge, for ``n`` images mixing the shots' maps [K, F, h, w]
        with ``weights`` [n, K] (None: their mean): the shot half of the merge convolution applied to
        the fused maps. The convolution has no bias, so it is linear and commutes with the convex
        mix; it runs on the K shot maps, then the results are mixed, rather than on n fused maps."""
        halves = [F.conv2d(m, self.merge[i][0].weight[:, m.shape[1] :], padding=1) for i, m in enumerate(maps)]
        return self.fuse(halves, weights, n)

    def decode(
        self, z: torch.Tensor, c: torch.Tensor, local: list[torch.Tensor] = (), source: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Latents [B, latent_dim], a context [context_dim] and, with local levels, the shots' terms
        [B, F, h, w] per level (``shot_terms``) -> output logits [B, C, H, W]. Each merge is the
        convolution of the decoder's map and the fused shot maps, side by side, then GroupNorm and
        SiLU; the shots' half of that convolution comes in ``local``. With ``warp``, ``source``
        [B, C, H, W] holds the fused shot images to deform (see the class docstring)."""
        h = self.from_latent(torch.cat([z, c.expand(len(z), -1)], dim=1))
        h = h.view(-1, self.base_width, self.base_side, self.base_side)
        if self.warp:
            if source is None:
                raise ValueError("a warping SetVAE needs the fused shot images to decode (source)")
            if self.flow_from_shot:  # the coarsest encoder map of each image's own shot beside (z, c)'s map
                h = torch.cat([h, self.encoder[: self.n_conv](source * 2.0 - 1.0)], dim=1)
            return torch.logit(warp_images(source, self.displacement(h)).clamp(WARP_EPS, 1 - WARP_EPS))
        for i, layer in enumerate(self.decoder):
            if i < len(local):
                conv, norm, act = self.merge[i]
                h = act(norm(F.conv2d(h, conv.weight[:, : h.shape[1]], padding=1) + local[i]))
            h = layer(h)
        return h

    def displacement(self, h: torch.Tensor) -> torch.Tensor:
        """The decoder's coarsest map [B, F, s, s] (with ``flow_from_shot``, the shot's beside it: [B,
        2F, s, s]) -> a smooth displacement field [B, 2, H, W] (x, y in grid_sample's [-1, 1] units,
        at most ``max_shift`` of the image side), bilinear between the coarse cells."""
        coarse = 2 * self.max_shift * torch.tanh(self.flow(h))
        return F.interpolate(coarse, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)

    def posterior(
        self, image_features: torch.Tensor, cs: torch.Tensor, shot_features: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | x, c) as (mu, logvar) [B, latent_dim] from the images' features [B, hidden] and the
        context [B, context_dim]; with ``posterior_sees_shot``, also from the features [B, hidden] of
        the shot each image deforms (ignored otherwise)."""
        seen = [image_features, cs, shot_features] if self.posterior_sees_shot else [image_features, cs]
        return _gaussian(self.latent_posterior(torch.cat(seen, dim=1)))

    def fused_images(self, shots: torch.Tensor, weights: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """The shots [K, C, H, W] mixed for ``n`` images as their maps are (``fuse``): the images a
        warping decoder deforms; None without ``warp``."""
        return self.fuse([shots], weights, n)[0] if self.warp else None

    def forward(
        self,
        context_set: torch.Tensor,
        images: torch.Tensor,
        eps_c: torch.Tensor,
        eps_z: torch.Tensor,
        fusion: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """The terms of the ELBO of ``images`` [B, ...] given the context of ``context_set`` [K, ...]:
        output logits, the context posterior, and the latent posterior and prior; ``eps_c``
        [context_dim] and ``eps_z`` [B, latent_dim] are standard-normal noise; ``fusion`` [B, K]
        weighs the shots' local maps for each image (None: their mean)."""
        set_features, maps = self.features_and_maps(context_set)
        mu_c, logvar_c = self.context(set_features)
        c = mu_c + torch.exp(0.5 * logvar_c) * eps_c
        cs = c.expand(len(images), -1)
        source = self.fused_images(context_set, fusion, len(images))
        shot_features = self.features(source) if self.posterior_sees_shot else None
        mu_z, logvar_z = self.posterior(self.features(images), cs, shot_features)
        prior_mu, prior_logvar = _gaussian(self.latent_prior(cs))
        z = mu_z + torch.exp(0.5 * logvar_z) * eps_z
        return {
            "logits": self.decode(z, c, self.shot_terms(maps, fusion, len(images)), source),
            "mu_c": mu_c,
            "logvar_c": logvar_c,
            "mu_z": mu_z,
            "logvar_z": logvar_z,
            "prior_mu": prior_mu,
            "prior_logvar": prior_logvar,
        }

    def generate(
        self, shots: torch.Tensor, eps_z: torch.Tensor, temperature: float = 1.0, fusion: torch.Tensor | None = None
    ) -> torch.Tensor:
        """New images [n, C, H, W] in [0, 1] of the class of ``shots`` [K, ...] in one pass: the
        context's posterior mean, latents from its prior p(z | c) (std scaled by ``temperature``),
        the shots' local maps mixed by ``fusion`` [n, K] (None: their mean)."""
        set_features, maps = self.features_and_maps(shots)
        c, _ = self.context(set_features)
        prior_mu, prior_logvar = _gaussian(self.latent_prior(c[None]))
        z = prior_mu + temperature * torch.exp(0.5 * prior_logvar) * eps_z
        local, source = self.shot_terms(maps, fusion, len(z)), self.fused_images(shots, fusion, len(z))
        return torch.sigmoid(self.decode(z, c, local, source))

    def generate_near_shots(
        self, shots: torch.Tensor, eps_z: torch.Tensor, weights: torch.Tensor, temperature: float = 1.0
    ) -> torch.Tensor:
        """New images [n, C, H, W] in [0, 1] of the class of ``shots`` [K, ...] in one pass, with
        latents drawn near the shots' own: the context's posterior mean c, each shot's posterior
        q(z | shot, c), and for image i the convex mixture ``weights`` [n, K] of the shots' latent
        means plus ``eps_z`` [n, latent_dim] times ``temperature`` times the mixed posterior std;
        the local maps are mixed with the same weights."""
        set_features, maps = self.features_and_maps(shots)
        c, _ = self.context(set_features)
        # each shot's own posterior; where the posterior sees the shot deformed, that is the shot itself
        mu_z, logvar_z = self.posterior(set_features, c.expand(len(shots), -1), set_features)
        z = weights @ mu_z + temperature * (weights @ torch.exp(0.5 * logvar_z)) * eps_z
        local, source = self.shot_terms(maps, weights, len(z)), self.fused_images(shots, weights, len(z))
        return torch.sigmoid(self.decode(z, c, local, source))


FUSIONS = ("mix", "pick", "mean")


def random_fusion(n: int, k: int, gen: torch.Generator | None = None, mode: str = "mix") -> torch.Tensor | None:
    """``n`` convex weights over ``k`` shots [n, k]. 'mix': uniform on the simplex (Dirichlet(1):
    normalised exponential draws), as the fusion GANs draw their interpolation coefficients; 'pick':
    one shot at random per image (one-hot rows); 'mean': None, the shots' mean for every image."""
    if mode == "mix":
        e = -torch.log(torch.rand(n, k, generator=gen).clamp_min(1e-12))
        return e / e.sum(dim=1, keepdim=True)
    if mode == "pick":
        return torch.nn.functional.one_hot(torch.randint(0, k, (n,), generator=gen), k).float()
    if mode == "mean":
        return None
    raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {mode!r}")
