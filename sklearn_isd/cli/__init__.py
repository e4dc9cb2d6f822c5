"""Subcommands of the ``sklearn-isd`` command line: simulate, start, tell, report.

A lab runs a hybrid screen of a compound library from a shell::

    sklearn-isd start library.csv --smiles-col smiles --id-col id --out plate_run
    # measure plate_run/batch_000.csv, add a "value" column, then
    sklearn-isd tell plate_run batch_000_measured.csv
    # ... measure each new batch_NNN.csv and tell it, until the target is reached
    sklearn-isd report plate_run

``simulate`` runs a whole screen at once on a library whose labels are known
(a retrospective study), revealing them from a label column.

A campaign directory holds everything later commands need:

- ``library.csv``: a byte-for-byte copy of the library given to ``start``;
- ``campaign.isd.npz``: the screen's state (:meth:`HybridScreenCV.save`), the
  source of truth: measured labels, rounds, bounds and the pending batch;
- ``campaign.json``: the command-line options (columns, task, model name,
  screen parameters), a ``status`` (``"awaiting_results"``, or why the screen
  stopped: ``"target_reached"``, ``"max_fraction"``, ``"all_acquired"``) and a
  log of the results files told;
- ``batch_NNN.csv``: the batch to measure in round NNN (columns ``id``,
  ``smiles``, ``round``).

Every command re-featurizes the stored library (ECFP4, 2048 bits, with
:class:`~sklearn_isd.chem.MorganFingerprint`) and loads the campaign with
:meth:`HybridScreenCV.load`, whose library fingerprint check refuses a library
that changed; the model is rebuilt from the spec stored in the campaign file
and refit on the measured labels.

Expected errors raise a :class:`CLIError` subclass carrying the exit code;
:func:`run_command` prints them on one line of stderr.

The modules of this package, one job each: ``_parser`` (the argument
parser), ``_errors`` (exit codes and expected errors), ``_models`` (the model
registry), ``_files`` (reading CSV files, writing outputs), ``_campaign``
(the campaign directory), ``_simulate``, ``_lab`` (start, tell) and
``_report`` (the subcommands), ``_run`` (running one, errors to exit codes).
"""

from ._errors import (
    EXIT_CODES_EPILOG,
    CampaignStateError,
    CLIError,
    DependencyError,
    InputError,
)
from ._parser import add_commands, build_parser
from ._run import main, run_command

__all__ = [
    "EXIT_CODES_EPILOG",
    "CLIError",
    "CampaignStateError",
    "DependencyError",
    "InputError",
    "add_commands",
    "build_parser",
    "main",
    "run_command",
]
