"""Running a parsed subcommand: errors become one line of stderr and an exit code."""

import sys
import traceback

from ._errors import EXIT_CAMPAIGN, EXIT_DEPENDENCY, EXIT_UNEXPECTED, CLIError
from ._lab import cmd_start, cmd_tell
from ._parser import build_parser
from ._report import cmd_report
from ._simulate import cmd_demo, cmd_simulate
from ._status import cmd_status

COMMANDS = {
    "demo": cmd_demo,
    "simulate": cmd_simulate,
    "start": cmd_start,
    "tell": cmd_tell,
    "status": cmd_status,
    "report": cmd_report,
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
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return EXIT_CAMPAIGN
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


def main(argv=None):
    """Entry point of ``sklearn-isd``; returns the process exit code."""
    return run_command(build_parser().parse_args(argv))
