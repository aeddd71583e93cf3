"""``metagen restore``: restore one image with a meta-learned restorer (adapting to the image) or a
peer model."""

from __future__ import annotations

import argparse

from metagen.cli.generate_cmd import add_family_argument, family_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("restore", help="restore an image: adapt a meta-learned restorer to it, or run a peer model")
    p.add_argument("--run", help="a restoration run directory (or checkpoint)")
    p.add_argument("--model", help="a peer model as KIND:PATH, e.g. dncnn25:dncnn_25_kair.pth")
    p.add_argument("--input", help="the degraded image")
    p.add_argument("--out", help="where to write the restored image (PNG); with --benchmark, the report folder")
    p.add_argument(
        "--degradation",
        help="what is wrong with the input: missing:... or holes:... (black pixels are unknown), "
        "sr:scale=S (the input is low-resolution; it is upscaled S times), or any noise spec",
    )
    p.add_argument("--steps", type=int, help="self-supervised adaptation steps (default: the recipe's; 0: none)")
    p.add_argument(
        "--sure-every",
        type=int,
        metavar="K",
        help="noisy images: adapt up to --steps steps and keep the step, of every K-th and the last, whose error "
        "Stein's unbiased risk estimate (from the noisy image alone) puts lowest; prints the step and the PSNR "
        "that estimate stands for",
    )
    add_family_argument(
        p,
        "replace the run's restorer options, e.g. noise_loss=renoise (Noisier2Noise), noise_loss=sure (SURE) or "
        "noise_loss=blind_spot; noise_estimator=weak_texture reads the noise level those adapt at from the "
        "image's least textured patches (in benchmarks/results it adapts better than the default wavelet one)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    bench = p.add_argument_group("benchmark (--benchmark): the run against peers on the restoration protocol")
    bench.add_argument("--benchmark", action="store_true", help="compare --run with peers on the test sets")
    bench.add_argument("--plain-run", help="the same network trained ordinarily, for comparison")
    bench.add_argument("--sr-run", help="a restorer meta-learned on x2 super-resolution, for the SR conditions")
    bench.add_argument("--sr-plain-run", help="the same trained ordinarily on x2 super-resolution")
    bench.add_argument("--conditions", choices=("all", "matched", "mismatched", "noise-range"), default="all")
    bench.add_argument("--ensemble-steps", nargs="*", type=int, default=[],
                       help="also score --run adapted this many steps and restoring by geometric self-ensemble (x8)")
    bench.add_argument("--sure-steps", nargs=2, type=int, metavar=("N", "K"),
                       help="also score --run adapted up to N steps, the step (of every K-th) chosen per image by SURE")
    bench.add_argument("--max-images", type=int, help="only the first N images of each set")
    bench.add_argument("--root", help="data root holding restoration/ (default: $METAGEN_DATA)")
    p.set_defaults(func=run)


def run_benchmark_command(args: argparse.Namespace) -> None:
    from pathlib import Path

    from metagen.environment import machine_info
    from metagen.errors import InputError
    from metagen.reports.restoration_benchmark import CONDITION_GROUPS, benchmark_markdown, run_benchmark
    from metagen.reports.writer import write_report

    if not args.run or not args.out:
        raise InputError("--benchmark needs --run DIR (the meta-learned restorer) and --out DIR (the report folder)")
    dncnn = None
    if args.model:
        kind, _, dncnn = args.model.partition(":")
        if kind != "dncnn25" or not dncnn:
            raise InputError(f"--model takes dncnn25:PATH here, got {args.model!r}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = run_benchmark(args.run, args.plain_run, dncnn, CONDITION_GROUPS[args.conditions], args.max_images, out,
                           args.device, args.seed, args.root, family_options(args), args.sr_run,
                           args.sr_plain_run, ensemble_steps=args.ensemble_steps,
                           sure=sure_option(args.sure_steps))  # fmt: skip
    machine = machine_info()
    summary = {"protocol": "restoration-benchmark", "conditions": args.conditions, "rows": result.rows,
               "runs": result.runs, "max_images": args.max_images, "seed": args.seed}  # fmt: skip
    print(f"report: {write_report(out, summary, benchmark_markdown(result, args.max_images, args.seed, machine))}")


def sure_option(values: list[int] | None) -> tuple[int, int] | None:
    """``--sure-steps N K`` as (steps, every), refusing what cannot be adapted."""
    if values is None:
        return None
    from metagen.errors import InputError

    steps, every = values
    if steps < 0 or every < 1:
        raise InputError(f"--sure-steps N K needs N at least 0 and K at least 1, got {steps} {every}")
    return steps, every


def run(args: argparse.Namespace) -> None:
    if args.benchmark:
        return run_benchmark_command(args)
    from metagen.errors import InputError

    if bool(args.run) == bool(args.model) or not args.input or not args.out:
        raise InputError("restore needs one of --run DIR or --model KIND:PATH, and --input IMG --out IMG")
    return restore_one(args)


def restore_one(args: argparse.Namespace) -> None:
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from metagen.data.images import channel_mode, open_image, to_array
    from metagen.errors import InputError
    from metagen.grid import save_png_atomic, to_uint8
    from metagen.restore import prepare_input, restore_choosing_step, restore_with_run
    from metagen.tasks.degradations import Downscale, parse_degradation

    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    image = open_image(path.read_bytes(), str(path))
    chw = to_array(image, channel_mode(image), None)
    pixels = chw[0] if chw.shape[0] == 1 else chw.transpose(1, 2, 0)
    degradation = parse_degradation(args.degradation) if args.degradation else None
    degraded, known = prepare_input(pixels, degradation)
    if args.run and args.sure_every is not None:
        if known is not None or isinstance(degradation, Downscale):
            raise InputError("--sure-every chooses the step on noisy images; inpainting and super-resolution have none")
        restored, choice = restore_choosing_step(
            args.run, degraded, args.steps, args.sure_every, args.seed, args.device, family_options(args)
        )
        print(f"chose step {choice.step} of {max(choice.risks)} (estimated PSNR {choice.estimated_psnr:.2f} dB)")
    elif args.run:
        scale = degradation.scale if isinstance(degradation, Downscale) else None
        restored = restore_with_run(
            args.run, degraded, known, args.steps, args.seed, args.device, scale, family_options(args)
        )
    else:
        from metagen.reports.restoration import load_peer

        if args.steps or args.family or args.sure_every is not None:
            raise InputError(
                "--steps, --sure-every and --family adapt a meta-learned run; a peer model (--model) runs as it is"
            )
        _, restorer = load_peer(args.model, args.device)
        restored = restorer(degraded)
    out = to_uint8(restored)
    save_png_atomic(Image.fromarray(out if out.ndim == 2 else np.ascontiguousarray(out)), args.out)
    print(f"restored image written to {args.out}")
