"""Delegation of a meta-estimator's predictions to its fitted model (private)."""

from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

__all__ = ["DelegateToEstimatorMixin"]


def _estimator_has(attr):
    """Delegate ``attr`` to the fitted estimator, else to the unfitted one."""

    def check(self):
        getattr(
            self.estimator_ if hasattr(self, "estimator_") else self.estimator, attr
        )
        return True

    return check


class DelegateToEstimatorMixin:
    """``predict`` and kin, ``classes_`` and tags, from ``estimator_``.

    For a meta-estimator with an ``estimator`` parameter and a fitted
    ``estimator_``, as :class:`~sklearn.semi_supervised.SelfTrainingClassifier`
    does it: methods exist only when the wrapped estimator has them
    (``available_if``), and the tags follow the wrapped estimator.
    """

    @property
    def classes_(self):
        """Classes known to ``estimator_``."""
        check_is_fitted(self)
        return self.estimator_.classes_

    @property
    def n_features_in_(self):
        """Number of features seen by ``estimator_`` (when it defines it)."""
        check_is_fitted(self)
        return self.estimator_.n_features_in_

    @property
    def feature_names_in_(self):
        """Feature names seen by ``estimator_`` (when it defines them)."""
        check_is_fitted(self)
        return self.estimator_.feature_names_in_

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict new items with ``estimator_``.

        Parameters
        ----------
        X : indexable of shape (n_samples, ...)
            Items, in the form the estimator accepts.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predictions.
        """
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of new items from ``estimator_``.

        Parameters
        ----------
        X : indexable of shape (n_samples, ...)
            Items, in the form the estimator accepts.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns ordered as ``classes_``.
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of new items from ``estimator_``.

        Parameters
        ----------
        X : indexable of shape (n_samples, ...)
            Items, in the form the estimator accepts.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities.
        """
        check_is_fitted(self)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of ``estimator_`` on new items.

        Parameters
        ----------
        X : indexable of shape (n_samples, ...)
            Items, in the form the estimator accepts.

        Returns
        -------
        scores : ndarray
            As returned by ``estimator_.decision_function``.
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y):
        """Score of ``estimator_`` on new data (accuracy or R^2).

        Parameters
        ----------
        X : indexable of shape (n_samples, ...)
            Items, in the form the estimator accepts.
        y : array-like of shape (n_samples,)
            True labels.

        Returns
        -------
        score : float
            ``estimator_.score(X, y)``.
        """
        check_is_fitted(self)
        return self.estimator_.score(X, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.string = inner.input_tags.string
        tags.input_tags.two_d_array = inner.input_tags.two_d_array
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.categorical = inner.input_tags.categorical
        tags.target_tags.required = True
        # A 2-d y makes a matrix screen, with a multi-output estimator.
        tags.target_tags.multi_output = inner.target_tags.multi_output
        tags.target_tags.single_output = True
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_label = False
        return tags
