"""The private scikit-learn API that sklearn-isd relies on, in one place.

scikit-learn does not promise stability for these names; importing them only
here means a scikit-learn release can break this one file and nothing else.
"""

from sklearn.base import _fit_context
from sklearn.utils._indexing import _safe_indexing
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import _check_sample_weight, _num_samples

__all__ = [
    "HasMethods",
    "Interval",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
    "_get_output_config",
    "_num_samples",
    "_safe_indexing",
    "check_matplotlib_support",
    "validate_params",
]
