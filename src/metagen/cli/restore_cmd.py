"""``metagen restore``: restore one image with a meta-learned restorer (adapting to the image) or a
peer model."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("restore", help="restore an image: adapt a meta-learned restorer to it, or run a peer model")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="a restoration run directory (or checkpoint)")
    source.add_argument("--model", help="a peer model as KIND:PATH, e.g. dncnn25:dncnn_25_kair.pth")
    p.add_argument("--input", required=True, help="the degraded image")
    p.add_argument("--out", required=True, help="where to write the restored image (PNG)")
    p.add_argument(
        "--degradation",
        help="what is wrong with the input: missing:... or holes:... (black pixels are unknown), "
        "sr:scale=S (the input is low-resolution; it is upscaled S times), or any noise spec",
    )
    p.add_argument("--steps", type=int, help="self-supervised adaptation steps (default: the recipe's; 0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from metagen.data.images import channel_mode, open_image, to_array
    from metagen.errors import InputError
    from metagen.eval.restoration import to_uint8
    from metagen.grid import save_png_atomic
    from metagen.restore import prepare_input, restore_with_run
    from metagen.tasks.degradations import Downscale, parse_degradation

    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    image = open_image(path.read_bytes(), str(path))
    chw = to_array(image, channel_mode(image), None)
    pixels = chw[0] if chw.shape[0] == 1 else chw.transpose(1, 2, 0)
    degradation = parse_degradation(args.degradation) if args.degradation else None
    degraded, known = prepare_input(pixels, degradation)
    if args.run:
        scale = degradation.scale if isinstance(degradation, Downscale) else None
        restored = restore_with_run(args.run, degraded, known, args.steps, args.seed, args.device, scale)
    else:
        from metagen.reports.restoration import load_peer

        if args.steps:
            raise InputError("--steps adapts a meta-learned run; a peer model (--model) runs as it is")
        _, restorer = load_peer(args.model, args.device)
        restored = restorer(degraded)
    out = to_uint8(restored)
    save_png_atomic(Image.fromarray(out if out.ndim == 2 else np.ascontiguousarray(out)), args.out)
    print(f"restored image written to {args.out}")
