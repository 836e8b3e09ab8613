"""The ``tinysim`` command: the only room that parses arguments, prints and exits.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args) -> int``. Bad
input of any kind ends in one line on stderr (``tinysim: error: ...``) and exit code 2, never a traceback.
So does every error of the operating system (a full or read-only disk, a missing directory, ``--out``
naming a file, stdout on ``/dev/full``): ``tinysim: error: <path>: <reason>`` and exit code 2, the code of
bad input, because the run could not do what its arguments asked (``<stdout>`` names standard output).
Exit code 1 is left to a command that ran and reports a negative result; 130 is an interrupt.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from tinysim_gym.errors import TinySimError

COMMANDS = ("simulate", "bound", "compare", "train", "evaluate", "export", "demo", "sweep", "plot", "dataset",
            "suite", "build-kernels")


class UsageError(TinySimError):
    """Command-line arguments that do not parse."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Raise instead of printing the usage block."""
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> Parser:
    """The top-level parser with every available subcommand."""
    from tinysim_gym import __version__

    parser = Parser(prog="tinysim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMANDS:
        module_name = f"tinysim_gym.cli.{name.replace('-', '_')}"  # build-kernels lives in build_kernels.py
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # subcommand not built (yet)
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tinysim`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    stdout = sys.stdout
    sys.stdout = _NamedStream(stdout, STDOUT)  # type: ignore[assignment]
    try:
        args = build_parser().parse_args(argv)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at exit: a failing stdout (/dev/full) is one line, not a traceback
        return code
    except TinySimError as exc:
        print(f"tinysim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tinysim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _drop_stdout(stdout)
        return 0
    except OSError as exc:
        if exc.filename == STDOUT:
            _drop_stdout(stdout)
        print(f"tinysim: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    finally:
        sys.stdout = stdout


#: how an OS error of standard output names its "file"
STDOUT = "<stdout>"


def os_error_line(exc: OSError) -> str:
    """An OS error as ``<path>: <reason>`` (just the reason when it names no file)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None:
        return " ".join(reason.split())
    where = os.fsdecode(exc.filename)
    if exc.filename2 is not None:
        where += f" -> {os.fsdecode(exc.filename2)}"
    return " ".join(f"{where}: {reason}".split())


class _NamedStream:
    """A text stream whose OS errors name it: a write to a full ``/dev/full`` stdout says ``<stdout>``."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        """Write through, naming the stream in an OS error."""
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise self._named(exc) from None

    def flush(self) -> None:
        """Flush through, naming the stream in an OS error."""
        try:
            self._stream.flush()
        except OSError as exc:
            raise self._named(exc) from None

    def _named(self, exc: OSError) -> OSError:
        if exc.filename is not None or isinstance(exc, BrokenPipeError):
            return exc
        return OSError(exc.errno, exc.strerror or str(exc), self._name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _drop_stdout(stdout: TextIO) -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture): nothing to flush at exit
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
