"""The ``pfa`` command line: a thin shell over the subcommands in ``forensics.commands``.

It builds the parser from the registered commands, sets up logging, dispatches, and turns
errors into exit codes. Exit codes (DESIGN.md): 0 no residual data; 1 residual or sensitive
data; 2 usage or input error (one clear line, never a traceback). 3 is reserved for an internal
error, reported in one line with a hint to rerun with ``--debug``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from forensics import __version__
from forensics.commands.base import Command, load_commands
from forensics.commands.options import add_logging_options
from forensics.errors import InputError

log = logging.getLogger("forensics")

EXIT_INPUT_ERROR = 2
EXIT_INTERNAL_ERROR = 3

DESCRIPTION = """\
printer-forensics: show what documents and secrets linger on a printer's or copier's drive.

Reads raw/dd, split raw (.001/.002…, .aa/.ab…) and E01 images read-only; walks MBR/GPT
partitions and file systems (allocated and deleted files, slack, free space, gaps); finds
sensitive data with YARA rules confirmed by validators; writes report.json.
"""

EPILOG = """\
exit codes: 0 no residual data (wiped or encrypted); 1 residual or sensitive data;
            2 usage or input error.
examples:
  pfa info printer.E01
  pfa scan printer.dd -o out/
  pfa scan disk.001 -o out/ --rules my_rules/
  pfa scan printer.dd -o out/ --reveal
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pfa",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pfa {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="log debug messages and show tracebacks of internal errors",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for cls in load_commands():
        command = cls()
        child = sub.add_parser(
            cls.name,
            help=cls.help,
            description=cls.description,
            epilog=cls.epilog,
            # Commands with an epilog lay out their examples themselves.
            formatter_class=(
                argparse.RawDescriptionHelpFormatter if cls.epilog else argparse.HelpFormatter
            ),
        )
        command.add_arguments(child)
        add_logging_options(child)
        child.set_defaults(handler=command)
    return parser


_QUIET_LIBRARIES = ("pypdf", "PIL", "fontTools")


def configure_logging(debug: bool, verbose: int = 0, log_file: Path | None = None) -> None:
    """stderr gets warnings, or info with -v, debug with -vv or --debug; --log FILE gets it all."""
    stderr_level = (
        logging.DEBUG
        if debug or verbose >= 2
        else (logging.INFO if verbose == 1 else logging.WARNING)
    )
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pfa: %(levelname)s: %(message)s"))
    handler.setLevel(stderr_level)
    handlers = [handler]
    if log_file is not None:
        try:
            file_handler: logging.Handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the log to {log_file}: {exc.strerror}") from None
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        file_handler.setLevel(logging.DEBUG)
        handlers.append(file_handler)
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(logging.DEBUG if log_file is not None else stderr_level)
    # Parsing libraries warn about every odd file they meet; on a printer drive those are
    # evidence, reported by the parsers as notes, not noise for the terminal (the log file,
    # which is for the record, keeps them).
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET)
        if stderr_level != logging.DEBUG:
            handler.addFilter(_below_error_from(name))


def _below_error_from(name: str) -> logging.Filter:
    """A filter dropping ``name``'s records below ERROR (what quietened libraries may say)."""

    class _Filter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not (
                (record.name == name or record.name.startswith(name + "."))
                and record.levelno < logging.ERROR
            )

    return _Filter()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    # What is loaded by now (modules, plug-ins, their tables) lives as long as the process:
    # frozen, the cyclic collector no longer walks it at every full collection, nor touches
    # the pages forked workers share (1 GiB --no-pages: consolidation 0.57 -> 0.45-0.50 s).
    gc.freeze()
    console = Console()
    try:
        configure_logging(args.debug, args.verbose, args.log)
        log.debug("pfa %s: %s", __version__, argv)
        handler: Command = args.handler
        return handler.run(args, console, argv)
    except InputError as exc:
        print(f"pfa: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt as exc:
        # A scan says what it left behind (commands.case.ScanInterrupted).
        print(f"pfa: interrupted{': ' + str(exc) if str(exc) else ''}", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        log.debug("internal error", exc_info=True)
        print(
            f"pfa: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL_ERROR
    finally:
        for done in logging.getLogger().handlers:
            done.flush()


if __name__ == "__main__":
    sys.exit(main())
