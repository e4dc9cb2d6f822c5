"""Output files of the command line: CSV, JSON and plots, written atomically."""

import csv
import io
import json
import math
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..utils._files import atomic_write


def plain(value):
    """A numpy scalar as a plain Python value (for messages and JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def now():
    """The time, in UTC, as an ISO 8601 string to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json(path, data):
    """Write data as indented JSON (NaN is refused: pass it through json_value)."""
    return atomic_write(
        path, lambda h: h.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
    )


def write_rows(path, header, rows):
    """Write a CSV file: a header row, then the rows."""

    def write(handle):
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)

    return atomic_write(path, write)


def cell(value):
    """A CSV cell: NaN and None as empty, numpy scalars as plain values."""
    value = plain(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def output_values(values, classification):
    """One output's column of a matrix readout: class codes as integers."""
    if not classification:
        return [plain(v) for v in values]
    return [None if v != v else int(v) for v in values.tolist()]


def json_value(value):
    """A plain JSON value: non-finite floats as None."""
    value = plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_history(path, history):
    """Write history_ as CSV, one row per round."""
    keys = list(history)
    n = len(history[keys[0]]) if keys else 0
    rows = [[i] + [cell(history[k][i]) for k in keys] for i in range(n)]
    return write_rows(path, ["round", *keys], rows)


def plot_png(draw, *, size=(9.0, 4.8), note=None):
    """A matplotlib drawing as PNG bytes; None (and a note) without matplotlib.

    ``draw(ax)`` draws on the axes of a new figure (no pyplot: nothing
    global changes).
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        if note is not None:
            print(
                f"Note: matplotlib is not installed, {note} was skipped "
                "(pip install sklearn-isd[plot]).",
                file=sys.stderr,
            )
        return None
    figure = Figure(figsize=size, layout="constrained")
    draw(figure.add_subplot())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def screen_png(screen, note=None):
    """The ScreenDisplay of a screen as PNG bytes (None without matplotlib)."""
    from ..plotting import ScreenDisplay

    return plot_png(lambda ax: ScreenDisplay.from_estimator(screen, ax=ax), note=note)


def write_plot(path, screen):
    """Draw ScreenDisplay to path; print a note and return None without it."""
    png = screen_png(screen, note=Path(path).name)
    if png is None:
        return None
    return atomic_write(path, lambda h: h.write(png), binary=True)


def max_confidence(screen, X):
    """Max predicted probability per item (NaN where it has no meaning).

    For a matrix campaign (one probability table per output), the mean over
    outputs of the max probability.
    """
    confidence = np.full(X.shape[0], np.nan)
    predicted = ~screen.observed_mask_
    if predicted.any() and hasattr(screen, "predict_proba"):
        proba = screen.predict_proba(X[predicted])
        if isinstance(proba, list):
            confidence[predicted] = np.mean([p.max(axis=1) for p in proba], axis=0)
        else:
            confidence[predicted] = proba.max(axis=1)
    return confidence


def nan_if_none(value):
    """None as NaN (to format a missing number)."""
    return math.nan if value is None else value


def fmt(value, spec):
    """Format a number; empty for None or NaN."""
    return "" if value is None or math.isnan(value) else format(value, spec)
