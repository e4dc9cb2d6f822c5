"""Acquisition scores: which library items to measure next.

An acquisition function is any callable ``score(estimator, X) -> ndarray of
shape (n_samples,)``, like a scikit-learn scorer: ``estimator`` is the model
fitted on the labels measured so far and ``X`` holds inference-set items.
Higher scores are acquired first; ties are broken at random by the screen's
``random_state``. A score may also be of shape (n_samples, n_outputs),
one per output of a multi-output model (a matrix screen); the screen then
reduces it to one score per item with its ``aggregate``.

Built-in scores, by name (see :func:`get_acquisition`):

==================  ==========  ==============================================
name                task        score
==================  ==========  ==============================================
least_confidence    classifier  ``1 - max_y p(y|x)`` (paper Eq. 3)
margin              classifier  ``1 - (p_(1) - p_(2))``, top-two gap
entropy             classifier  ``-sum_y p(y|x) log p(y|x)``
vote_entropy        classifier  entropy of the committee's votes (Eq. 4)
std                 regressor   spread of a committee (or predictive std)
bald                classifier  mutual information under MC dropout (BALD)
diversity           any         distance to the measured set (Tanimoto)
random              any         constant; the batch is drawn at random
==================  ==========  ==============================================

Objects for what a name cannot say: :class:`Diversity` (metric and
reduction), :class:`Mixture` (a batch composed from several acquisitions by
weights, e.g. 80 % least confidence and 20 % random, as in the paper's code)
and :class:`StochasticBatch` (a batch drawn with probabilities tilted by the
scores instead of the top scores, Kirsch et al., 2023). :func:`sample_batch`
draws such a batch from given scores and returns the inclusion probability of
every chosen item.

Acquisitions that need the measured items (``diversity``, and a
:class:`Mixture` or :class:`StochasticBatch` holding one) have a
``bind(estimator, X_measured)`` method returning the score of one round;
a screen calls it after refitting, before scoring the inference set.

Committees. ``vote_entropy`` and ``std`` read the members' predictions
through :func:`member_predictions`: an estimator exposing
``predict_members(X)`` (e.g. :class:`~sklearn_isd.ResMLPClassifier` with
``n_members > 1``), or a fitted scikit-learn ensemble exposing
``estimators_`` (bagging, random forests, extra trees, voting), possibly as the
last step of a :class:`~sklearn.pipeline.Pipeline`. ``std`` also accepts a
regressor whose ``predict`` takes ``return_std=True`` (Gaussian processes).
"""

from ._diversity import Diversity, _BoundDiversity, distance_to_set
from ._mixture import Mixture
from ._registry import ACQUISITION_FUNCTIONS, _Acquisition, get_acquisition
from ._scores import (
    bald,
    entropy,
    least_confidence,
    margin,
    member_predictions,
    random,
    std,
    vote_entropy,
)
from ._stochastic import StochasticBatch, inclusion_probabilities, sample_batch
from ._stochastic import _tilt as _tilt  # used by the tests

__all__ = [
    "ACQUISITION_FUNCTIONS",
    "Diversity",
    "Mixture",
    "StochasticBatch",
    "bald",
    "distance_to_set",
    "entropy",
    "get_acquisition",
    "inclusion_probabilities",
    "least_confidence",
    "margin",
    "member_predictions",
    "random",
    "sample_batch",
    "std",
    "vote_entropy",
]

# Everything keeps the dotted path it had when this package was a single
# module: campaign files store an acquisition's class by that path (see
# sklearn_isd._spec), and pickles of screens store the classes and functions
# they hold, the registry's _Acquisition and a bound _BoundDiversity included.
for _obj in (
    Diversity,
    Mixture,
    StochasticBatch,
    _Acquisition,
    _BoundDiversity,
    bald,
    distance_to_set,
    entropy,
    get_acquisition,
    inclusion_probabilities,
    least_confidence,
    margin,
    member_predictions,
    random,
    sample_batch,
    std,
    vote_entropy,
):
    _obj.__module__ = __name__
del _obj
