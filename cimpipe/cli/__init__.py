"""The ``cimpipe`` command. Each subcommand is one ``add_<name>`` parser builder and one ``_run_<name>``, in the
module of its kind: ``evaluate``, ``results`` (show, compare, techs, space, plot) and ``neurosim``; ``common``
holds what they share."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

from cimpipe.cli.common import CliError
from cimpipe.cli.evaluate import add_evaluate
from cimpipe.cli.neurosim import add_neurosim
from cimpipe.cli.results import add_compare, add_plot, add_show, add_space, add_techs

__all__ = ["CliError", "build_parser", "main"]

SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    add_evaluate, add_show, add_compare, add_techs, add_space, add_plot, add_neurosim)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cimpipe", description="CIM network/accelerator co-design")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ValueError as e:  # every user error of the package is a ValueError subclass
        print(f"cimpipe: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`cimpipe show f | head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as e:
        print(f"cimpipe: error: cannot use {e.filename}: {e.strerror}" if e.filename else f"cimpipe: error: {e}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())


