"""The `classicfy` command line: one module per command, each with `add_parser` and `run`.

Heavy libraries are imported inside the `run` functions, so `classicfy --help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any

from classicfy import __version__
from classicfy.cli import (
    corpus,
    crossval,
    demo,
    embed,
    evaluate,
    export,
    features,
    predict,
    serve,
    tag,
    train,
    transcribe,
)
from classicfy.cli.options import add_logging_options
from classicfy.errors import ClassicfyError

COMMANDS = (features, train, evaluate, crossval, predict, serve, transcribe, export, tag, embed, demo, corpus)


class _Parser(argparse.ArgumentParser):
    """Every command, and each subcommand, accepts -v and -q after its name as well as before it."""

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("parser_class", _Parser)
        return super().add_subparsers(**kwargs)

    def __init__(self, *args: Any, top: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        add_logging_options(self, top=top)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="classicfy",
        description="Train, evaluate and use deep classifiers of classical-music recordings.",
        top=True,
    )
    parser.add_argument("--version", action="version", version=f"classicfy {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that it unwinds as from Ctrl-C: workers ended, nothing half-written."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]  # what a launcher passes on (train --nproc)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(format="%(levelname)s: %(message)s", level=level)
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may take signals
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        code = int(args.handler(args))
        sys.stdout.flush()  # a reader that went away shows here, not in a traceback at exit
        return code
    except ClassicfyError as error:
        print(f"classicfy: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as error:  # the file system said no: one line naming the file, not a traceback
        logging.debug("the file system refused", exc_info=True)
        print(f"classicfy: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("classicfy: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("classicfy: terminated", file=sys.stderr)
        return 143
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
