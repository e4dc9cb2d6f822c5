"""The true scores of a simulated screen's readout, for ``history_`` (private).

In a simulation the whole library's labels are known, so every round records
how good the hybrid readout really is (:func:`readout_scores`).
"""

from ._labels import _nan_cells
from .metrics import (
    inference_accuracy,
    inference_mean_absolute_error,
    inference_mean_squared_error,
    inference_r2_score,
    system_accuracy,
    system_mean_absolute_error,
    system_mean_squared_error,
    system_r2_score,
)

__all__ = ["readout_scores"]


def _scores_of(y, transduction, mask, *, is_classifier, tolerance):
    """The true scores of a readout (``history_`` keys of a simulation)."""
    if is_classifier or tolerance is not None:
        scores = {
            "system_score": system_accuracy(y, transduction, mask, tolerance=tolerance),
            "inference_score": inference_accuracy(
                y, transduction, mask, tolerance=tolerance
            ),
        }
    else:
        scores = {
            "system_score": system_r2_score(y, transduction, mask),
            "inference_score": inference_r2_score(y, transduction, mask),
        }
    if not is_classifier:
        scores.update(
            system_mse=system_mean_squared_error(y, transduction, mask),
            inference_mse=inference_mean_squared_error(y, transduction, mask),
            system_mae=system_mean_absolute_error(y, transduction, mask),
            inference_mae=inference_mean_absolute_error(y, transduction, mask),
        )
    return scores


def readout_scores(y, transduction, mask, *, is_classifier, tolerance, output_names):
    """True scores of a screen's readout, with one system score per output.

    ``output_names`` is None for 1-d labels; for a matrix screen, each
    output's score is over the cells with a known truth.
    """
    options = {"is_classifier": is_classifier, "tolerance": tolerance}
    scores = _scores_of(y, transduction, mask, **options)
    for j, name in enumerate(() if output_names is None else output_names):
        known = ~_nan_cells(y[:, j])
        column = _scores_of(y[known, j], transduction[known, j], mask[known], **options)
        scores[f"system_score_{name}"] = column["system_score"]
    return scores
