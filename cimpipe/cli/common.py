"""What every ``cimpipe`` subcommand shares: the user error, rich tables on and off a terminal, argument
types and the technologies of a config file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable


class CliError(ValueError):
    """A user error on the command line (one sentence)."""


def make_console():
    """A rich console; off a terminal (pipes, files) it is wide and plain so tables stay one row per line."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    return Console(width=200, no_color=True, highlight=False, emoji=False)


def make_table(console):
    from rich import box
    from rich.table import Table

    return Table(box=box.HEAVY_HEAD) if console.is_terminal else Table(box=box.SIMPLE, show_edge=False, pad_edge=False)


def print_table(console, table, title: str | None = None, caption: str | None = None) -> None:
    """Print ``table``; off a terminal its title and caption become plain lines above and below it."""
    if console.is_terminal:
        table.title, table.caption = title, caption
        console.print(table)
        return
    if title:
        console.print(title)
    console.print(table)
    if caption:
        console.print(caption)


class DefaultsFormatter(argparse.HelpFormatter):
    """Help that states every option's default value (options without one say what they fall back to)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.option_strings and action.default not in (None, False, argparse.SUPPRESS)
                and "%(default)" not in text and "(default" not in text):
            text += " (default: %(default)s)"
        return text


def _checked(cast: Callable[[str], float], what: str, ok: Callable[[float], bool],
             must: str) -> Callable[[str], float]:
    """An argument type: ``text`` cast by ``cast`` (else "is not ``what``"), refused unless ``ok`` ("``must``")."""
    def parse(text: str):
        try:
            v = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"{text!r} {must}")
        return v

    return parse


positive_int = _checked(int, "an integer", lambda v: v >= 1, "must be at least 1")
positive_float = _checked(float, "a number", lambda v: v > 0, "must be positive")
nonneg_float = _checked(float, "a number", lambda v: v >= 0, "must not be negative")


def adc_bits_arg(text: str) -> int | tuple[int, ...]:
    """One positive integer, or a comma-separated list of them (one per layer)."""
    parts = [positive_int(t.strip()) for t in text.split(",")]
    return parts[0] if len(parts) == 1 else tuple(parts)


def technologies(config: str | None) -> dict:
    """The technologies of ``config`` (default ./config.yaml), resolved against the packaged set; the packaged
    set where no config file is found."""
    from cimpipe.config import read_config_file
    from cimpipe.hw.technology import builtin_technologies, load_technologies

    path = Path(config) if config else Path("config.yaml")
    if config and not path.is_file():
        raise CliError(f"config file {path} does not exist")
    if path.is_file():
        cfg = read_config_file(path) or {}
        if not isinstance(cfg, dict):
            raise CliError(f"config file {path} must hold a mapping of sections")
        if "technologies" in cfg:
            return load_technologies(cfg["technologies"])
        if config:
            raise CliError(f"config file {path} has no 'technologies' section")
    return builtin_technologies()


