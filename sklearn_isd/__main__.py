"""Command line of sklearn-isd: ``sklearn-isd`` or ``python -m sklearn_isd``."""

import argparse
import sys

from . import __version__
from .cli import EXIT_CODES_EPILOG, add_commands, run_command


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _open_unit(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1), got {text}")
    return value


def build_parser():
    """The argument parser of the ``sklearn-isd`` command."""
    parser = argparse.ArgumentParser(
        prog="sklearn-isd",
        description="Hybrid screens by inference set design.",
        epilog=EXIT_CODES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    demo = commands.add_parser(
        "demo",
        help="run a hybrid screen on the embedded QM9 subset",
        description=(
            "Run a least-confidence hybrid screen with the KL stopping rule on "
            "the embedded QM9 subset (10,000 molecules, ECFP4, label = HOMO-LUMO "
            "gap above the full-set median), print a table of rounds and write "
            "the hybrid readout as CSV. Needs RDKit (pip install sklearn-isd[chem])."
        ),
    )
    demo.add_argument(
        "--n-molecules",
        type=_positive_int,
        default=None,
        help="screen only the first N molecules of the subset (default: all)",
    )
    demo.add_argument(
        "--batch-size",
        type=_positive_int,
        default=100,
        help="molecules measured per round (default: 100)",
    )
    demo.add_argument(
        "--target",
        type=_open_unit,
        default=0.95,
        help="system accuracy to reach, in (0, 1) (default: 0.95)",
    )
    demo.add_argument(
        "--delta",
        type=_open_unit,
        default=0.05,
        help="probability that a round's bound fails, in (0, 1) (default: 0.05)",
    )
    demo.add_argument(
        "--output",
        default="hybrid_readout.csv",
        help="CSV file for the readout (default: hybrid_readout.csv)",
    )
    demo.add_argument(
        "--random-state", type=int, default=0, help="seed of the screen (default: 0)"
    )
    demo.add_argument(
        "--no-progress", action="store_true", help="do not show a progress bar"
    )
    add_commands(commands)
    return parser


def main(argv=None):
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        try:
            run_demo(
                n_molecules=args.n_molecules,
                batch_size=args.batch_size,
                target=args.target,
                delta=args.delta,
                output=args.output,
                random_state=args.random_state,
                progress=not args.no_progress,
            )
        except ImportError as exc:
            print(f"sklearn-isd demo: {exc}", file=sys.stderr)
            return 3
        return 0
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
