"""ResMLP committees inside HybridScreenCV, end to end on QM9 molecules.

Small nets on 600 molecules of the embedded QM9 subset (ECFP4), so the whole
file runs in seconds on one thread. The acquisition checks recompute, from
the model the screen had trained when it chose each batch (read between
``ask`` and ``tell``), the committee scores of the inference set, and check
that the batch holds the highest ones.
"""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("skorch")
pytest.importorskip("rdkit")

from sklearn.base import clone  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402

from sklearn_isd import (  # noqa: E402
    HybridScreenCV,
    MorganFingerprint,
    ResMLPClassifier,
    ResMLPRegressor,
)
from sklearn_isd.acquisition import std, vote_entropy  # noqa: E402
from sklearn_isd.datasets import load_qm9  # noqa: E402
from sklearn_isd.metrics import system_accuracy  # noqa: E402

N_MOLECULES = 600
NET = dict(module__hidden_size=32, max_epochs=10, batch_size=64, patience=3)
SCREEN = dict(batch_size=30, initial_batch_size=60, random_state=0)
TOLERANCE = 0.02  # Hartree (about 0.54 eV); the gaps have a std of ~0.047 Ha


@pytest.fixture(scope="module")
def qm9():
    """600 random molecules: SMILES, ECFP4 (CSR), class labels and gaps (Ha)."""
    data = load_qm9()
    rows = np.sort(
        np.random.default_rng(0).choice(data.data.size, N_MOLECULES, replace=False)
    )
    smiles = data.data[rows]
    X = MorganFingerprint(radius=2, n_bits=2048).fit_transform(smiles)
    return smiles, X, data.target[rows], data.gap[rows]


def _run_ask_tell(screen, X, y, score):
    """Drive ``screen`` by hand and record, for every round after the first,
    the model it chose the batch with, the committee scores of the inference
    set under that model and the batch it chose."""
    rounds = []
    batch = screen.ask(X)
    screen.tell(batch, y[batch])
    first_batch = batch
    while not screen.stop_:
        model = screen.estimator_
        inference = np.flatnonzero(~screen.observed_mask_)
        batch = screen.ask()
        rounds.append(
            dict(
                inference=inference,
                batch=batch,
                scores=score(model, X[inference]),
                predictions=model.predict(X[batch]),
            )
        )
        screen.tell(batch, y[batch])
    return first_batch, rounds


def _check_batches_rank_highest(rounds):
    """Each batch holds the top scores of its inference set, best first."""
    for r in rounds:
        chosen = np.isin(r["inference"], r["batch"])
        assert chosen.sum() == r["batch"].size
        assert r["scores"][chosen].min() >= r["scores"][~chosen].max()
        order = np.searchsorted(r["inference"], r["batch"])
        assert np.all(np.diff(r["scores"][order]) <= 0)  # highest first
    # Not vacuous: the scores did separate items in some round.
    assert any(np.ptp(r["scores"]) > 0 for r in rounds)


# ---------------------------------------------------------------------------
# Classification, vote entropy
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vote_entropy_screens(qm9):
    _, X, y, _ = qm9

    def make():
        # random_state=None: the screen seeds the net from its own seed.
        return HybridScreenCV(
            ResMLPClassifier(n_members=3, **NET),
            acquisition="vote_entropy",
            stopping=None,
            max_fraction=0.3,
            **SCREEN,
        )

    by_hand = make()
    first_batch, rounds = _run_ask_tell(by_hand, X, y, vote_entropy)
    return by_hand, first_batch, rounds, make().fit(X, y)


def test_vote_entropy_batches_are_the_committee_disagreements(
    qm9, vote_entropy_screens
):
    _, X, y, _ = qm9
    screen, _, rounds, _ = vote_entropy_screens
    assert screen.termination_condition_ == "max_fraction"
    assert screen.n_iter_ == 1 + len(rounds) == 5  # 60 + 4 * 30 = 30 % of 600
    _check_batches_rank_highest(rounds)
    # The batch accuracy in history_ is that of the predictions made before
    # the reveal, by the model that chose the batch.
    expected = [np.mean(r["predictions"] == y[r["batch"]]) for r in rounds]
    np.testing.assert_allclose(screen.history_["batch_score"][1:], expected)
    assert np.isnan(screen.history_["batch_score"][0])


def test_vote_entropy_round_one_model_is_a_refit_on_the_initial_batch(
    qm9, vote_entropy_screens
):
    _, X, y, _ = qm9
    screen, first_batch, rounds, _ = vote_entropy_screens
    assert np.all(screen.acquired_iter_[first_batch] == 0)
    # estimator_ carries the seed the screen gave the net; an unfitted copy
    # trained on the initial batch, in the order it was measured, is the
    # model that chose the batch of round 1.
    refit = clone(screen.estimator_).fit(X[first_batch], y[first_batch])
    inference, batch = rounds[0]["inference"], rounds[0]["batch"]
    scores = vote_entropy(refit, X[inference])
    np.testing.assert_array_equal(scores, rounds[0]["scores"])
    chosen = np.isin(inference, batch)
    assert scores[chosen].min() >= scores[~chosen].max()


def test_same_random_state_same_acquisitions(vote_entropy_screens):
    by_hand, _, _, fitted = vote_entropy_screens
    np.testing.assert_array_equal(fitted.acquired_iter_, by_hand.acquired_iter_)
    np.testing.assert_array_equal(fitted.transduction_, by_hand.transduction_)
    counts = np.bincount(fitted.acquired_iter_[fitted.acquired_iter_ >= 0])
    np.testing.assert_array_equal(counts, [60, 30, 30, 30, 30])


def test_pipeline_on_smiles(qm9, vote_entropy_screens):
    smiles, _, y, _ = qm9
    _, _, _, on_fingerprints = vote_entropy_screens
    screen = HybridScreenCV(
        make_pipeline(MorganFingerprint(), ResMLPClassifier(n_members=3, **NET)),
        acquisition="vote_entropy",
        stopping=None,
        max_fraction=0.3,
        **SCREEN,
    ).fit(smiles, y)
    # The same screen as on precomputed fingerprints, seeds included.
    np.testing.assert_array_equal(screen.acquired_iter_, on_fingerprints.acquired_iter_)
    np.testing.assert_array_equal(screen.transduction_, on_fingerprints.transduction_)
    new = ["CCO", "c1ccccc1", "O=C=O"]
    assert screen.predict(new).shape == (3,)
    np.testing.assert_allclose(screen.predict_proba(new).sum(axis=1), 1.0)
    inference = ~screen.observed_mask_
    assert system_accuracy(y, screen.transduction_, screen.observed_mask_) == (
        pytest.approx(screen.history_["system_score"][-1])
    )
    assert np.array_equal(
        screen.transduction_[inference], screen.predict(smiles[inference])
    )


# ---------------------------------------------------------------------------
# Regression, committee std, tolerance
# ---------------------------------------------------------------------------


def _std_screen(**kwargs):
    return HybridScreenCV(
        ResMLPRegressor(n_members=3, **NET),
        acquisition="std",
        tolerance=TOLERANCE,
        target=0.5,
        max_fraction=0.5,
        **(SCREEN | kwargs),
    )


@pytest.fixture(scope="module")
def std_screens(qm9):
    _, X, _, gap = qm9
    by_hand = _std_screen()
    first_batch, rounds = _run_ask_tell(by_hand, X, gap, std)
    return by_hand, first_batch, rounds, _std_screen().fit(X, gap)


def test_std_batches_are_the_committee_spread(qm9, std_screens):
    _, X, _, gap = qm9
    screen, _, rounds, fitted = std_screens
    assert len(rounds) >= 1
    _check_batches_rank_highest(rounds)
    # Continuous spreads: the batch is exactly the top-b (no ties).
    for r in rounds:
        top = r["inference"][np.argsort(-r["scores"])[: r["batch"].size]]
        np.testing.assert_array_equal(np.sort(top), np.sort(r["batch"]))
    within = [np.abs(r["predictions"] - gap[r["batch"]]) <= TOLERANCE for r in rounds]
    np.testing.assert_allclose(
        screen.history_["batch_score"][1:], [w.mean() for w in within]
    )
    np.testing.assert_array_equal(fitted.acquired_iter_, screen.acquired_iter_)


def test_std_screen_stops_on_the_tolerance_bound(qm9, std_screens):
    _, X, _, gap = qm9
    _, _, _, screen = std_screens
    history = screen.history_
    mask = screen.observed_mask_
    # The readout is scored with the tolerance, and measured items are exact.
    assert history["system_score"][-1] == pytest.approx(
        system_accuracy(gap, screen.transduction_, mask, tolerance=TOLERANCE)
    )
    np.testing.assert_array_equal(screen.transduction_[mask], gap[mask])
    inference = ~mask
    np.testing.assert_allclose(
        screen.transduction_[inference], screen.predict(X[inference])
    )
    # The bound on share-within-tolerance passes the target before the budget.
    assert screen.termination_condition_ == "target_reached"
    assert history["system_lower_bound"][-1] > screen.target
    assert np.all(history["system_lower_bound"][:-1] <= screen.target)
    assert history["fraction_observed"][-1] < screen.max_fraction
    # A lower bound: the true share within tolerance is above it.
    assert history["system_score"][-1] >= history["system_lower_bound"][-1]
    assert np.isfinite(history["inference_mse"]).all()


# ---------------------------------------------------------------------------
# Warm start
# ---------------------------------------------------------------------------


class _RecordWeights(Callback):
    """Append the module's weights at the start and end of every fit."""

    def __init__(self, sink):
        self.sink = sink

    def _snapshot(self, net):
        return {k: v.detach().clone() for k, v in net.module_.state_dict().items()}

    def on_train_begin(self, net, **kwargs):
        self.sink(("begin", self._snapshot(net)))

    def on_train_end(self, net, **kwargs):
        self.sink(("end", self._snapshot(net)))


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _one_epoch_screen(warm_start, records, pipeline=False):
    net = ResMLPClassifier(
        n_members=3,
        module__hidden_size=32,
        max_epochs=1,
        batch_size=32,
        patience=None,
        validation_fraction=None,
        warm_start=warm_start,
        callbacks=[_RecordWeights(records.append)],
        random_state=0,
    )
    return HybridScreenCV(
        make_pipeline(MorganFingerprint(), net) if pipeline else net,
        acquisition="random",  # the same batches, warm or cold
        stopping=None,
        max_fraction=0.4,
        **SCREEN,
    )


@pytest.mark.parametrize("pipeline", [False, True], ids=["ecfp", "pipeline"])
def test_warm_start_continues_from_the_previous_weights(qm9, pipeline):
    smiles, X, y, _ = qm9
    library = smiles if pipeline else X
    runs = {}
    for warm in (False, True):
        records = []
        screen = _one_epoch_screen(warm, records, pipeline).fit(library, y)
        phases = [phase for phase, _ in records]
        assert phases == ["begin", "end"] * screen.n_iter_
        runs[warm] = screen, [w for _, w in records]
    (cold, cold_w), (warm, warm_w) = runs[False], runs[True]
    np.testing.assert_array_equal(warm.acquired_iter_, cold.acquired_iter_)
    assert warm.n_iter_ == 7  # 60 + 6 * 30 = 40 % of 600
    for t in range(1, warm.n_iter_):
        begin, previous_end = 2 * t, 2 * t - 1
        # Warm: round t starts where round t - 1 ended.
        assert _same(warm_w[begin], warm_w[previous_end])
        # Cold: every round starts from the same fresh initialisation.
        assert _same(cold_w[begin], cold_w[0])
        assert not _same(cold_w[begin], cold_w[previous_end])
    # One epoch per round: after 7 rounds the warm net has trained 7 epochs
    # and fits the measured labels better than the cold net's single epoch.
    observed = warm.observed_mask_
    losses = {
        name: log_loss(y[observed], s.predict_proba(library[observed]))
        for name, s in (("cold", cold), ("warm", warm))
    }
    assert losses["warm"] < losses["cold"] - 0.05, losses
