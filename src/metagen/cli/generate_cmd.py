"""``metagen generate --run DIR --shots IMG [IMG ...] --num N --out FILE.png``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="adapt a trained generator to a few shots and generate new images")
    p.add_argument("--run", required=True, help="run directory (or checkpoint file) of a trained generator")
    p.add_argument(
        "--shots", nargs="+", required=True, metavar="IMG", help="images of the new class (any size or format)"
    )
    p.add_argument("--num", type=int, default=16, help="how many images to generate (default 16)")
    p.add_argument(
        "--out", required=True, help="PNG grid to write: the shots in the first row, then the generated images"
    )
    p.add_argument("--out-dir", help="also write each generated image as a PNG in this folder")
    p.add_argument("--seed", type=int, default=0, help="same seed, same images")
    p.add_argument("--steps", type=int, help="adaptation steps (default: the recipe's meta.adapt_steps)")
    p.add_argument("--lr", type=float, help="adaptation learning rate (default: the recipe's meta.inner_lr)")
    add_family_argument(p)
    p.add_argument("--per-row", type=int, default=8, help="generated images per grid row")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    p.set_defaults(func=run)


def add_family_argument(
    p: argparse.ArgumentParser,
    help: str = "replace the recipe's model.family sampling options, e.g. sampler=shots temperature=0.5",
) -> None:
    """``--family KEY=VALUE ...``: use a trained model another way (see ``family_options``)."""
    p.add_argument("--family", nargs="+", default=[], metavar="KEY=VALUE", help=help)


def family_options(args: argparse.Namespace) -> dict:
    """The ``--family`` options as a dict of typed values."""
    from metagen.train.config import parse_override

    return dict(parse_override(text) for text in args.family)


def run(args: argparse.Namespace) -> None:
    from metagen.errors import InputError
    from metagen.fewshot.adapt import generate, load_generator, read_shots
    from metagen.grid import grid_image, save_png_atomic, to_uint8

    if args.per_row < 1:
        raise InputError(f"--per-row must be at least 1, got {args.per_row}")
    if not args.out.lower().endswith(".png"):
        raise InputError(f"--out must name a .png file, got {args.out}")
    loaded = load_generator(args.run, args.device, family_options(args))
    shots = read_shots(args.shots, loaded.image_size, loaded.channels)
    images = generate(loaded, shots, args.num, seed=args.seed, steps=args.steps, lr=args.lr)
    rows = [shots] + [images[i : i + args.per_row] for i in range(0, len(images), args.per_row)]
    save_png_atomic(grid_image(rows, scale=2), args.out)
    if args.out_dir:
        from PIL import Image

        folder = Path(args.out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(to_uint8(images)):
            arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
            save_png_atomic(Image.fromarray(arr), folder / f"generated_{i:04d}.png")
    print(f"wrote {args.out} ({len(shots)} shots, {len(images)} generated)")
