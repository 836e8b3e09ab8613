"""The ``tinysim`` command: the only room that parses arguments, prints and exits.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args) -> int``. Bad
input of any kind ends in one line on stderr (``tinysim: error: ...``) and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tinysim_gym.errors import TinySimError

COMMANDS = ("simulate", "bound", "compare", "train", "evaluate", "demo", "sweep", "plot")


class UsageError(TinySimError):
    """Command-line arguments that do not parse."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Raise instead of printing the usage block."""
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> Parser:
    """The top-level parser with every available subcommand."""
    parser = Parser(prog="tinysim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"tinysim_gym.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tinysim_gym.cli.{name}":
                continue  # subcommand not built (yet)
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tinysim`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except TinySimError as exc:
        print(f"tinysim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tinysim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
