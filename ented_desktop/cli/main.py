"""The ``ented`` command. Each subcommand lives in its own module with ``register(subparsers)`` and ``run(args)``."""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import sys

from ented_desktop import __version__
from ented_desktop.core.errors import UserError

# name -> module under ented_desktop.cli; imported lazily so `ented --help` stays fast.
SUBCOMMANDS: dict[str, str] = {
    "restore": "cmd_restore",
    "bench": "cmd_bench",
    "export-onnx": "cmd_export_onnx",
    "prepare-dataset": "cmd_prepare_dataset",
    "degrade": "cmd_degrade",
    "train": "cmd_train",
    "finetune": "cmd_finetune",
    "evaluate": "cmd_evaluate",
    "models": "cmd_models",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ented", description="ENTED: reference-based face restoration.")
    parser.add_argument("--version", action="version", version=f"ented {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(f"ented_desktop.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"ented_desktop.cli.{module_name}":
                raise
            continue
        module.register(sub, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        print(f"ented: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ented: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # A frozen build (build.spec) on Windows or macOS starts DataLoader workers by re-running this executable.
    multiprocessing.freeze_support()
    sys.exit(main())
