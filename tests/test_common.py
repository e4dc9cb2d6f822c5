"""scikit-learn's estimator checks over the public estimators.

MorganFingerprint is not listed: its input is text (SMILES), which the
checks cannot generate; tests/test_chem.py covers its contract. The ResMLP
estimators run the checks in tests/test_neural.py with small settings.
"""

from sklearn.ensemble import BaggingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_isd import HybridScreenCV

# The first screen keeps every default. The committee screens use batches of
# 10% of the library: with the default 1% batch, the checks' small datasets
# make one-item rounds, and refitting a committee hundreds of times per check
# only costs time.
ESTIMATORS = [
    HybridScreenCV(LogisticRegression()),
    HybridScreenCV(
        BaggingRegressor(Ridge(), n_estimators=5), tolerance=0.5, batch_size=0.1
    ),
    HybridScreenCV(Ridge(), acquisition="random", stopping=None),
    HybridScreenCV(Ridge(), tolerance=0.1),  # 'auto' falls back to random
    HybridScreenCV(
        RandomForestClassifier(n_estimators=10),
        acquisition="vote_entropy",
        batch_size=0.1,
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
