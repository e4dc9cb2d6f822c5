"""sklearn-isd: hybrid screens by inference set design.

A hybrid screen measures part of a finite library, predicts the rest and
stops measuring once a probabilistic lower bound on the accuracy of the whole
readout (measured and predicted) passes a target. :class:`HybridScreenCV`
runs such a screen around any scikit-learn estimator.

Optional parts are imported lazily, so that the core (numpy, scipy,
scikit-learn, joblib) works without torch or RDKit:

- :class:`MorganFingerprint` needs RDKit (``pip install sklearn-isd[chem]``);
- :class:`ResMLPClassifier` and :class:`ResMLPRegressor` need torch and
  skorch (``pip install sklearn-isd[neural]``).
"""

import importlib

from ._persist import read_campaign_metadata
from ._screen import CampaignFileError, HybridScreenCV, OracleError

__version__ = "0.1.0.dev0"

_LAZY = {
    "MorganFingerprint": "sklearn_isd.chem",
    "ResMLPClassifier": "sklearn_isd.neural",
    "ResMLPRegressor": "sklearn_isd.neural",
}

__all__ = [
    "CampaignFileError",
    "HybridScreenCV",
    "OracleError",
    "read_campaign_metadata",
    *_LAZY,
    "__version__",
]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sklearn_isd' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
