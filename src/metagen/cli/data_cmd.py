"""``metagen data info`` and ``metagen data download``."""

from __future__ import annotations

import argparse
import json

from metagen.data.registry import DATASETS, load_dataset


def add_parser(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="inspect and fetch data sets")
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", parser_class=type(data))
    info = dsub.add_parser("info", help="counts of a data set (classes, images, image size)")
    info.add_argument(
        "dataset", choices=sorted(DATASETS), metavar="DATASET", help=f"one of: {', '.join(sorted(DATASETS))}"
    )
    info.add_argument("--root", help="folder or zip of the data (default: $METAGEN_DATA)")
    info.add_argument("--size", type=int, help="resize images to SIZE x SIZE")
    info.add_argument("--channels", type=int, choices=(1, 3), help="convert to 1 (grey) or 3 (RGB) channels")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=run_info)
    dl = dsub.add_parser("download", help="fetch Omniglot's official zips (checksums verified)")
    dl.add_argument("dataset", choices=("omniglot",))
    dl.add_argument("--to", required=True, help="folder to write the zips into")
    dl.add_argument("--base-url", help="mirror to fetch from instead of GitHub")
    dl.set_defaults(func=run_download)
    data.set_defaults(func=lambda args: data.error("choose a subcommand: info or download"))


def run_info(args: argparse.Namespace) -> None:
    info = load_dataset(args.dataset, args.root, args.size, args.channels).info()
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")


def run_download(args: argparse.Namespace) -> None:
    from metagen.data.download import download_omniglot

    for path in download_omniglot(args.to, args.base_url):
        print(path)
