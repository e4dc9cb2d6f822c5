"""Exit codes and the expected errors of the command line."""

from contextlib import contextmanager

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_INPUT = 2
EXIT_DEPENDENCY = 3
EXIT_CAMPAIGN = 4

EXIT_CODES_EPILOG = """\
exit codes:
  0  success (for tell, also when the target is reached: see its output, or
     `sklearn-isd status CAMPAIGN_DIR`)
  1  unexpected error (a bug; the traceback is printed, please report it)
  2  invalid input: unreadable or malformed CSV, bad options, invalid SMILES,
     results that fail validation, a target or budget extend cannot raise
     (nothing is written); or a file of yours
     (library, results, an output folder outside the campaign) that cannot
     be read or written
  3  missing optional dependency (RDKit; filelock for campaigns; torch and
     skorch for --model resmlp; pandas and pyarrow for Parquet libraries)
  4  campaign state problem: the campaign exists already, is not found, is
     corrupted, has stopped, its library changed, another command holds its
     lock, or one of its files cannot be read or written (disk full,
     read-only folder, file size limit); the campaign keeps its last
     committed state"""

#: Problems listed at most in one error message.
MAX_PROBLEMS = 20


class CLIError(Exception):
    """An expected error: printed on stderr without a traceback."""

    exit_code = EXIT_UNEXPECTED


class InputError(CLIError):
    """Invalid input: bad CSV, bad options or values that fail validation."""

    exit_code = EXIT_INPUT


class DependencyError(CLIError):
    """An optional dependency is missing."""

    exit_code = EXIT_DEPENDENCY


class CampaignStateError(CLIError):
    """The campaign exists already, is missing, corrupted or has stopped."""

    exit_code = EXIT_CAMPAIGN


def problems_error(cls, summary, problems):
    """One error listing problems, one per line, at most MAX_PROBLEMS."""
    lines = [f"{summary}:"] + [f"  {p}" for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"  ... and {len(problems) - MAX_PROBLEMS} more")
    return cls("\n".join(lines))


def one_line(text):
    """A message on one line: its lines joined, spaces collapsed."""
    return " ".join(str(text).split())


@contextmanager
def screen_errors(cls=InputError):
    """Turn the ValueError of a screen into a one-line ``cls`` error.

    HybridScreenCV validates its parameters and the batches it is told
    (``fit``, ``ask``, ``tell``); the command line does not check them again
    but reports the screen's message, on one line, with the exit code of
    ``cls``. A CampaignFileError (a ValueError too) is left to
    :func:`~sklearn_isd.cli.run_command`, which reports it as a campaign
    state problem.
    """
    from .. import CampaignFileError

    try:
        yield
    except CampaignFileError:
        raise
    except ValueError as exc:
        raise cls(one_line(exc)) from None
