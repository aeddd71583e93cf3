"""``metagen`` entry point. Exit codes: 0 success, 2 bad input or usage, 1 internal error."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import NoReturn, Sequence

import metagen
from metagen.errors import InputError, MetagenError


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"metagen: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def build_parser() -> Parser:
    from metagen.cli import data_cmd, demo_cmd, evaluate_cmd, features_cmd, generate_cmd, restore_cmd, train_cmd

    parser = Parser(prog="metagen", description="Meta-learning for few-shot image generation and restoration.")
    parser.add_argument("--version", action="version", version=f"metagen {metagen.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in (data_cmd, train_cmd, features_cmd, generate_cmd, restore_cmd, evaluate_cmd, demo_cmd):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may follow options (``train recipe.yaml --quiet meta.inner_steps=3``)
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = list(args.overrides) + extra
    elif extra:
        sys.stderr.write(f"metagen: error: unrecognized arguments: {' '.join(extra)} (see 'metagen --help')\n")
        return 2
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        args.func(args)
    except InputError as exc:
        sys.stderr.write(f"metagen: error: {exc}\n")
        return 2
    except MetagenError as exc:  # a run that failed on its own terms (e.g. diverged): not a bug
        sys.stderr.write(f"metagen: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("metagen: interrupted; a run continues from its last checkpoint with --resume\n")
        return 130
    except Exception as exc:  # an internal error: say so in one line, details on request
        if os.environ.get("METAGEN_DEBUG"):
            traceback.print_exc()
        sys.stderr.write(
            f"metagen: internal error: {type(exc).__name__}: {exc} (set METAGEN_DEBUG=1 for a traceback)\n"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
