"""Running a parsed subcommand: errors become one line of stderr and an exit code."""

import errno
import os
import sys
import traceback
from pathlib import Path

from ._errors import (
    EXIT_CAMPAIGN,
    EXIT_DEPENDENCY,
    EXIT_INPUT,
    EXIT_UNEXPECTED,
    CLIError,
    one_line,
)
from ._lab import cmd_extend, cmd_start, cmd_tell
from ._parser import build_parser
from ._report import cmd_report
from ._simulate import cmd_demo, cmd_simulate
from ._status import cmd_status

COMMANDS = {
    "demo": cmd_demo,
    "simulate": cmd_simulate,
    "start": cmd_start,
    "tell": cmd_tell,
    "extend": cmd_extend,
    "status": cmd_status,
    "report": cmd_report,
}


#: What an OSError left behind, by command (every write is atomic).
AFTER_OS_ERROR = {
    "tell": "; nothing was told: the campaign is as it was, tell again once fixed",
    "extend": "; the campaign was not extended: it is as it was",
    "start": "; the campaign was not started: run start again once fixed",
    "status": "; the campaign is unchanged",
    "report": "; the report is incomplete, the campaign unchanged",
}


def run_command(args):
    """Run a parsed subcommand; return its exit code, errors printed on stderr."""
    from .. import CampaignFileError

    prefix = f"sklearn-isd {args.command}"
    try:
        return COMMANDS[args.command](args)
    except CLIError as exc:
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except CampaignFileError as exc:
        print(f"{prefix}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_CAMPAIGN
    except OSError as exc:
        after = AFTER_OS_ERROR.get(args.command, "")
        print(f"{prefix}: error: {os_error_message(exc)}{after}", file=sys.stderr)
        return os_error_code(args, exc)
    except ImportError as exc:
        print(f"{prefix}: error: missing dependency: {exc}", file=sys.stderr)
        return EXIT_DEPENDENCY
    except Exception as exc:  # noqa: BLE001 - the exit code says it
        traceback.print_exc(file=sys.stderr)
        print(
            f"{prefix}: unexpected error: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED


def os_error_message(exc):
    """One line for an OSError: the file, what went wrong, the errno name."""
    path = exc.filename2 if exc.filename2 is not None else exc.filename
    name = errno.errorcode.get(exc.errno, "") if exc.errno else ""
    what = exc.strerror or one_line(exc) or type(exc).__name__
    where = f"{one_line(path)}: " if path is not None else ""
    return f"{where}{what}" + (f" ({name})" if name else "")


def os_error_code(args, exc):
    """Exit 4 for the campaign's own files, 2 for the user's files.

    The campaign's files are those in (or, for start, leading to) the
    campaign directory, the default report folder included; the library and
    results files given, and the output folders of simulate, demo and
    ``report --out`` elsewhere, are the user's.
    """
    campaign = getattr(args, "campaign", None)
    if args.command == "start":
        campaign = args.out
    path = exc.filename2 if exc.filename2 is not None else exc.filename
    if campaign is None:
        return EXIT_INPUT
    if path is None:
        return EXIT_CAMPAIGN
    path, campaign = _resolved(path), _resolved(campaign)
    inputs = [getattr(args, name, None) for name in ("library", "results")]
    if args.command in ("tell", "extend", "status"):
        inputs.append(getattr(args, "out", None))  # a copy or listing of the user
    if any(path == _resolved(p) for p in inputs if p is not None):
        return EXIT_INPUT
    if path == campaign or campaign in path.parents:
        return EXIT_CAMPAIGN
    if args.command == "start" and path in campaign.parents:
        return EXIT_CAMPAIGN  # the folders leading to a new campaign
    return EXIT_INPUT


def _resolved(path):
    try:
        return Path(os.path.abspath(os.fsdecode(path)))
    except (TypeError, ValueError):
        return Path(str(path))


def main(argv=None):
    """Entry point of ``sklearn-isd``; returns the process exit code."""
    return run_command(build_parser().parse_args(argv))
