"""Text display of the rounds of a screen (verbose output, demo, CLI)."""

import contextlib
import contextvars
import math

COLUMNS = [
    # (history key, header, format)
    ("n_observed", "measured", "{:>8d}"),
    ("fraction_observed", "fraction", "{:>8.1%}"),
    ("batch_score", "batch acc", "{:>9.3f}"),
    ("batch_lower_bound", "batch LB", "{:>8.3f}"),
    ("system_lower_bound", "system LB", "{:>9.4f}"),
    ("system_score", "true system", "{:>11.4f}"),
    ("inference_score", "true inference", "{:>14.4f}"),
    ("fit_time", "fit (s)", "{:>7.2f}"),
]


def _columns(history):
    return [c for c in COLUMNS if c[0] in history]


def format_header(history):
    """Header line of the round table for the keys present in ``history``."""
    cells = ["round"] + [
        header.rjust(len(fmt.format(0.0 if "d" not in fmt else 0)))
        for _, header, fmt in _columns(history)
    ]
    return "  ".join(cells)


def format_round(history, i):
    """One line of the round table: round ``i`` of ``history``."""
    cells = [f"{i:>5d}"]
    for key, _, fmt in _columns(history):
        value = history[key][i]
        if "d" in fmt:
            value = int(value)
        if isinstance(value, float) and math.isnan(value):
            cells.append("-".rjust(len(fmt.format(0.0))))
        else:
            cells.append(fmt.format(value))
    return "  ".join(cells)


#: False while progress bars are switched off (``--no-progress``).
_PROGRESS = contextvars.ContextVar("sklearn_isd_progress", default=True)


@contextlib.contextmanager
def progress_disabled(disabled=True):
    """Within the block, :func:`progress_bar` gives no bar if ``disabled``."""
    token = _PROGRESS.set(not disabled)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def progress_bar(total, *, unit="item"):
    """A tqdm bar over ``total`` items (off when not a terminal), or None.

    tqdm comes with the ``cli`` extra; without it there is no bar. Inside
    :func:`progress_disabled` there is none either.
    """
    if not _PROGRESS.get():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit=unit, desc="measured", leave=False, disable=None)


def print_round(history, bar=None):
    """Print the last round of ``history`` (with the header before the first).

    With a progress ``bar`` (tqdm), the line is written above it and the bar
    moves to the items measured, showing the current bound.
    """
    i = len(history["n_observed"]) - 1
    write = print if bar is None else bar.write
    if i == 0:
        write(format_header(history))
    write(format_round(history, i))
    if bar is not None:
        bar.n = int(history["n_observed"][i])
        bar.set_postfix(bound=f"{history['system_lower_bound'][i]:.4f}", refresh=True)
