"""The ``sklearn-isd`` command line: demo, simulate, start, tell, extend, status,
report.

A lab runs a hybrid screen of a compound library from a shell::

    sklearn-isd start library.csv --smiles-col smiles --id-col id --out plate_run
    # measure plate_run/batch_000.csv, add a "value" column, then
    sklearn-isd tell plate_run batch_000_measured.csv
    sklearn-isd status plate_run   # where it stands, which batch to measure
    # ... measure each new batch_NNN.csv and tell it, until the target is reached
    sklearn-isd report plate_run

``simulate`` runs a whole screen at once on a library whose labels are known
(a retrospective study), revealing them from a label column; ``demo`` is
``simulate`` on the embedded QM9 subset. ``extend`` raises the target or
budget of a campaign that stopped and writes its next batch.

Libraries are CSV, TSV, SMILES, SD or Parquet files (see ``_library``);
every invalid row is reported in one error, or left out with
``--skip-invalid``.

A campaign directory holds everything later commands need:

- ``campaign.json``: what ``start`` fixed (format, library file, SHA-256 and
  columns, featurizer, task, model, screen options, creation time), written
  once and checked against an explicit schema by every command;
- ``campaign.isd.npz``: the screen's state (:meth:`HybridScreenCV.save`) with
  the log of the results files told in its metadata
  (:func:`~sklearn_isd.read_campaign_metadata`): the one source of truth,
  from which status, round, pending batch and bound are read, and the only
  file a ``tell`` changes, in one atomic rename;
- ``library.csv`` (``.tsv``, ``.smi``, ``.sdf``, ``.parquet``): a
  byte-for-byte copy of the library given to ``start``;
- ``skipped.csv``: the invalid rows ``--skip-invalid`` left out;
- ``batch_NNN.csv``: the batch to measure in round NNN (columns ``id``,
  ``smiles``, ``round``), derived from the state: written before the state
  that makes it pending, and written again if it is missing.

``tell``, ``report`` and ``status`` when it must write a missing batch file
re-featurize the stored library (ECFP4, 2048 bits, with
:class:`~sklearn_isd.chem.MorganFingerprint`) and load the campaign with
:meth:`HybridScreenCV.load`, whose library fingerprint check refuses a library
that changed; the model is rebuilt from the spec stored in the campaign file
and refit on the measured labels. ``status`` reads the campaign file without
the library: nothing is refit.

Expected errors raise a :class:`CLIError` subclass carrying the exit code;
:func:`run_command` prints them on one line of stderr.

The modules of this package, one job each: ``_parser`` (the argument
parser), ``_errors`` (exit codes and expected errors), ``_models`` (the
registries of models and stopping rules), ``_library`` (library formats and
their checks), ``_inputs`` and ``_outputs`` (reading CSV files and values,
writing outputs), ``_schema`` (campaign.json), ``_campaign`` (the campaign
directory: reading, locking, committing), ``_simulate`` (simulate, demo),
``_lab`` (start, tell, extend), ``_results`` (checking a results file),
``_status``, ``_report`` and ``_report_html`` (report.html), and ``_run``
(running a command, errors to exit codes).
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
