"""Tests of sklearn_isd.neural: the ResMLP committee and its skorch estimators."""

import copy
import types

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from conftest import SHARED_DATA  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402

from sklearn_isd.neural import (  # noqa: E402
    MemberGradientNormClipping,
    ResMLP,
    ResMLPClassifier,
    ResMLPRegressor,
)

torch.set_num_threads(1)

QM9_PATH = SHARED_DATA / "qm9_gap.parquet"
GAP_MEDIAN = 0.2494  # Hartree; the paper's classification threshold

# Small, fast settings shared by most tests.
FAST = dict(module__hidden_size=32, batch_size=64, lr=1e-2, random_state=0)


def _vote_entropy(labels):
    """Entropy of the members' votes, per sample (labels: n_members x n)."""
    entropy = np.zeros(labels.shape[1])
    for label in np.unique(labels):
        p = (labels == label).mean(axis=0)
        entropy -= np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return entropy


def _blobs(n=200, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "active", "inactive")
    return X, y


# ---------------------------------------------------------------------------
# scikit-learn's estimator checks
# ---------------------------------------------------------------------------

# No check is expected to fail. Predictions are computed in batches of a fixed
# shape (see ResMLPClassifier Notes), which is what makes
# check_methods_subset_invariance pass with float32 networks.
CHECKED = [
    ResMLPClassifier(
        module__hidden_size=32, max_epochs=10, batch_size=32, lr=1e-2, random_state=0
    ),
    ResMLPRegressor(
        module__hidden_size=32,
        n_members=3,
        max_epochs=10,
        batch_size=32,
        lr=1e-2,
        random_state=0,
    ),
]


@parametrize_with_checks(CHECKED, expected_failed_checks=lambda est: {})
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------------
# The torch module
# ---------------------------------------------------------------------------


def test_resmlp_shapes_one_module_for_all_members():
    net = ResMLP(10, 3, hidden_size=16, n_blocks=2, n_members=5)
    assert net(torch.zeros(7, 10)).shape == (5, 7, 3)
    shapes = {name: tuple(p.shape) for name, p in net.named_parameters()}
    assert shapes["input.weight"] == (5, 10, 16)
    assert shapes["input.bias"] == (5, 1, 16)
    assert shapes["blocks.1.linear2.weight"] == (5, 16, 16)
    assert shapes["head.weight"] == (5, 16, 3)
    # Same parameter tensors as a single net, each with a member axis.
    single = ResMLP(10, 3, hidden_size=16, n_blocks=2, n_members=1)
    assert len(shapes) == len(list(single.parameters())) == 2 * (1 + 2 * 2 + 1)
    assert all(s[0] == 5 for s in shapes.values())


def test_resmlp_init_law_and_independent_members():
    gen = torch.Generator().manual_seed(0)
    net = ResMLP(400, 2, hidden_size=300, n_members=4, generator=gen)
    w = net.input.weight.detach()
    bound = 1 / np.sqrt(400)  # the law of torch.nn.Linear
    assert w.abs().max() <= bound
    np.testing.assert_allclose(w.std().item(), bound / np.sqrt(3), rtol=0.02)
    for m in range(1, 4):
        assert not torch.equal(w[0], w[m])
    # The generator alone decides the weights.
    again = ResMLP(400, 2, hidden_size=300, n_members=4, generator=gen.manual_seed(0))
    assert torch.equal(again.head.weight, net.head.weight)


@pytest.mark.parametrize("architecture", ["reference", "identity"])
def test_resmlp_batched_forward_equals_each_member_alone(architecture):
    net = ResMLP(
        6, 3, hidden_size=8, n_blocks=2, n_members=3, architecture=architecture
    ).eval()
    X = torch.randn(5, 6)
    out = net(X)
    act = torch.nn.functional.leaky_relu
    for m in range(3):

        def lin(layer, h, m=m):
            return h @ layer.weight[m] + layer.bias[m, 0]

        h = act(lin(net.input, X))
        for block in net.blocks:
            h = h + lin(block.linear2, act(lin(block.linear1, h)))
            if architecture == "reference":  # LeakyReLU after the residual sum
                h = act(h)
        torch.testing.assert_close(out[m], lin(net.head, h))


def test_resmlp_dropout_uses_the_given_generator_only():
    net = ResMLP(6, 2, hidden_size=64, dropout=0.5, n_members=2).train()
    X = torch.randn(4, 6)
    state = torch.get_rng_state()
    a = net(X, generator=torch.Generator().manual_seed(1))
    b = net(X, generator=torch.Generator().manual_seed(1))
    c = net(X, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(state, torch.get_rng_state())
    net.eval()
    assert torch.equal(net(X), net(X, generator=torch.Generator().manual_seed(3)))


@pytest.mark.parametrize(
    "kwargs", [dict(n_features=0), dict(hidden_size=0), dict(dropout=1.0)]
)
def test_resmlp_rejects_bad_sizes(kwargs):
    params = dict(n_features=3, n_outputs=2) | kwargs
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ResMLP(**params)


def test_gradient_clipping_is_per_member():
    p = torch.nn.Parameter(torch.zeros(2, 3))
    p.grad = torch.tensor([[3.0, 4.0, 0.0], [0.3, 0.4, 0.0]])  # norms 5, 0.5
    net = types.SimpleNamespace(module_=types.SimpleNamespace(n_members=2))
    MemberGradientNormClipping(1.0).on_grad_computed(net, [("p", p)])
    np.testing.assert_allclose(p.grad.norm(dim=1).numpy(), [1.0, 0.5], rtol=1e-5)

    # One member: exactly torch's (and skorch's) global clipping.
    q = torch.nn.Parameter(torch.zeros(1, 4))
    q.grad = torch.tensor([[3.0, -4.0, 12.0, 0.0]])
    expected = q.grad.clone()
    torch.nn.utils.clip_grad_norm_([types.SimpleNamespace(grad=expected)], 2.0)
    net.module_.n_members = 1
    MemberGradientNormClipping(2.0).on_grad_computed(net, [("q", q)])
    torch.testing.assert_close(q.grad, expected)


# ---------------------------------------------------------------------------
# Learning on QM9 (ECFP4 fingerprints, as in the paper)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qm9_ecfp():
    if not QM9_PATH.exists():
        pytest.skip(f"{QM9_PATH} is not available")
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    pytest.importorskip("rdkit")
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    frame = pd.read_parquet(QM9_PATH).sample(n=3000, random_state=0)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    bits = [
        np.asarray(gen.GetFingerprint(Chem.MolFromSmiles(s)).GetOnBits())
        for s in frame["smiles"]
    ]
    indptr = np.cumsum([0] + [len(b) for b in bits])
    X = sp.csr_matrix(
        (np.ones(indptr[-1], dtype=np.float32), np.concatenate(bits), indptr),
        shape=(len(bits), 2048),
    )
    return X, frame["gap"].to_numpy()


QM9_FIT = dict(
    module__hidden_size=64,
    max_epochs=10,
    batch_size=128,
    patience=None,
    validation_fraction=None,
    random_state=0,
)


def test_classifier_learns_qm9_gap(qm9_ecfp):
    X, gap = qm9_ecfp
    y = np.where(gap > GAP_MEDIAN, "high", "low")
    clf = ResMLPClassifier(**QM9_FIT).fit(X[:2400], y[:2400])
    majority = max(np.mean(y[2400:] == c) for c in clf.classes_)
    accuracy = clf.score(X[2400:], y[2400:])
    assert accuracy > majority + 0.2, (accuracy, majority)


def test_regressor_learns_qm9_gap(qm9_ecfp):
    X, gap = qm9_ecfp
    reg = ResMLPRegressor(**QM9_FIT).fit(X[:2400], gap[:2400])
    assert reg.predict(X[2400:]).shape == (600,)
    assert reg.score(X[2400:], gap[2400:]) > 0.5


# ---------------------------------------------------------------------------
# Committees
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", [ResMLPClassifier, ResMLPRegressor])
def test_committee_is_one_vectorised_module(Estimator):
    X, y = _blobs()
    y = y if Estimator is ResMLPClassifier else X[:, 0]
    est = Estimator(n_members=5, max_epochs=2, **FAST).fit(X, y)
    assert isinstance(est.module_, ResMLP) and est.module_.n_members == 5
    assert est.module_.input.weight.shape == (5, 4, 32)
    assert est.module_.head.weight.shape[0] == 5
    optimized = [p for g in est.optimizer_.param_groups for p in g["params"]]
    assert {id(p) for p in optimized} == {id(p) for p in est.module_.parameters()}
    assert est.predict_members(X[:7]).shape == (5, 7)
    assert est.predict(X[:7]).shape == (7,)


@pytest.mark.parametrize("bootstrap", [True, False])
def test_committee_members_differ(bootstrap):
    X, y = _blobs()
    reg = ResMLPRegressor(n_members=4, max_epochs=5, bootstrap=bootstrap, **FAST)
    members = reg.fit(X, X[:, 0] + X[:, 1] ** 2).predict_members(X)
    assert np.all(members.std(axis=0) > 0)
    clf = ResMLPClassifier(n_members=4, max_epochs=5, bootstrap=bootstrap, **FAST)
    logits = clf.fit(X, y).forward(X).numpy()
    for m in range(1, 4):
        assert not np.allclose(logits[0], logits[m])


def test_committee_means():
    X, y = _blobs()
    clf = ResMLPClassifier(n_members=3, max_epochs=3, **FAST).fit(X, y)
    member_proba = torch.softmax(clf.forward(X).double(), dim=-1).numpy()
    np.testing.assert_allclose(
        clf.predict_proba(X), member_proba.mean(axis=0), rtol=1e-5
    )
    np.testing.assert_array_equal(
        clf.predict_members(X), clf.classes_[member_proba.argmax(axis=-1)]
    )
    reg = ResMLPRegressor(n_members=3, max_epochs=3, **FAST).fit(X, X[:, 0] * 50)
    np.testing.assert_allclose(reg.predict(X), reg.predict_members(X).mean(axis=0))


def test_vote_entropy_highest_where_labels_are_random():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(500, 2))
    y = (X[:, 0] > 0).astype(int)
    noisy = np.abs(X[:, 0]) < 0.5
    y[noisy] = rng.randint(0, 2, noisy.sum())
    clf = ResMLPClassifier(
        n_members=5, max_epochs=40, patience=None, validation_fraction=None, **FAST
    ).fit(X, y)
    grid = np.random.RandomState(1).uniform(-2, 2, size=(2000, 2))
    entropy = _vote_entropy(clf.predict_members(grid))
    ambiguous = entropy[np.abs(grid[:, 0]) < 0.5].mean()
    clean = entropy[np.abs(grid[:, 0]) > 1].mean()
    assert ambiguous > 0.2 and ambiguous > 5 * clean, (ambiguous, clean)


def test_member_std_highest_far_from_training_data():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(400, 2))
    y = np.sin(2 * X[:, 0]) + 0.05 * rng.normal(size=400)
    reg = ResMLPRegressor(
        n_members=5, max_epochs=40, patience=None, validation_fraction=None, **FAST
    ).fit(X, y)
    inside = np.random.RandomState(1).uniform(-1, 1, size=(500, 2))
    angle = np.random.RandomState(2).uniform(0, 2 * np.pi, size=500)
    far = 4 * np.c_[np.cos(angle), np.sin(angle)]
    std_inside = reg.predict_members(inside).std(axis=0).mean()
    std_far = reg.predict_members(far).std(axis=0).mean()
    assert std_far > 3 * std_inside, (std_far, std_inside)


# ---------------------------------------------------------------------------
# Training: early stopping, randomness, inputs, warm start
# ---------------------------------------------------------------------------


class _RecordStates(Callback):
    def on_train_begin(self, net, **kwargs):
        self.states_ = {}

    def on_epoch_end(self, net, **kwargs):
        self.states_[net.history[-1, "epoch"]] = copy.deepcopy(net.module_.state_dict())


def test_early_stopping_per_member_restores_each_best_epoch():
    X, y = _blobs(n=300)
    patience = 3
    clf = ResMLPClassifier(
        n_members=3,
        max_epochs=200,
        patience=patience,
        callbacks=[("record", _RecordStates())],
        **(FAST | dict(lr=3e-2)),
    ).fit(X, y)
    stopper = dict(clf.callbacks_)["early_stopping"]
    n_epochs = len(clf.history_)
    assert n_epochs < 200
    assert np.all(stopper.misses_ >= patience)
    assert np.all(stopper.best_epochs_ + patience <= n_epochs)
    states = dict(clf.callbacks_)["record"].states_
    for name, value in clf.module_.state_dict().items():
        for m, epoch in enumerate(stopper.best_epochs_):
            torch.testing.assert_close(value[m], states[epoch][name][m])
    assert "valid_loss" in clf.history_[-1]


@pytest.mark.parametrize("Estimator", [ResMLPClassifier, ResMLPRegressor])
def test_random_state_reproducible_and_global_rng_untouched(Estimator):
    X, y = _blobs()
    y = y if Estimator is ResMLPClassifier else X[:, 0]
    predict = "predict_proba" if Estimator is ResMLPClassifier else "predict"
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()  # noqa: NPY002 (the global state)
    kwargs = FAST | dict(n_members=3, max_epochs=3, module__dropout=0.3)
    a = getattr(Estimator(**kwargs).fit(X, y), predict)(X)
    b = getattr(Estimator(**kwargs).fit(X, y), predict)(X)
    c = getattr(Estimator(**(kwargs | dict(random_state=1))).fit(X, y), predict)(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert torch.equal(torch_state, torch.get_rng_state())
    np.testing.assert_array_equal(numpy_state[1], np.random.get_state()[1])  # noqa: NPY002


def test_sparse_and_dense_inputs_agree():
    rng = np.random.RandomState(0)
    X = sp.random(300, 64, density=0.1, format="csr", random_state=rng)
    X.data[:] = 1.0
    y = np.asarray(X[:, :8].sum(axis=1)).ravel() > 0.8
    kwargs = FAST | dict(n_members=2, max_epochs=3)
    dense = ResMLPClassifier(**kwargs).fit(X.toarray(), y)
    sparse = ResMLPClassifier(**kwargs).fit(X, y)
    np.testing.assert_array_equal(dense.predict_proba(X), sparse.predict_proba(X))
    np.testing.assert_array_equal(
        dense.predict_proba(X.toarray()), dense.predict_proba(X.tocsc())
    )


def test_predictions_do_not_depend_on_batch_composition():
    X, y = _blobs(n=300)
    reg = ResMLPRegressor(n_members=2, max_epochs=2, **FAST).fit(X, X[:, 0])
    full = reg.predict(X)
    one_by_one = np.concatenate([reg.predict(X[i : i + 1]) for i in range(50)])
    np.testing.assert_array_equal(full[:50], one_by_one)


def test_float32_and_string_labels():
    X, y = _blobs()
    clf = ResMLPClassifier(max_epochs=2, **FAST).fit(X.astype(np.float64), y)
    assert clf.module_.input.weight.dtype == torch.float32
    np.testing.assert_array_equal(clf.classes_, ["active", "inactive"])
    assert set(np.unique(clf.predict_members(X))) <= set(clf.classes_)
    assert clf.predict_proba(X).shape == (200, 2)


def test_warm_start_continues_and_grows_classes():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    y = np.digitize(X[:, 0], [-0.5, 0.5])  # 0, 1, 2
    first = y < 2
    clf = ResMLPClassifier(warm_start=True, n_members=2, max_epochs=5, **FAST)
    clf.fit(X[first], y[first])
    head = clf.module_.head.weight.detach().clone()
    module = clf.module_
    # A tiny learning rate isolates what warm start itself does to the head.
    clf.set_params(lr=1e-12, max_epochs=1).fit(X, y)
    assert clf.module_ is module
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.module_.head.weight.shape == (2, 32, 3)
    torch.testing.assert_close(clf.module_.head.weight[..., :2], head)
    assert clf.predict_members(X).shape == (2, 300)
    # warm_start=False starts afresh: the same as a new estimator.
    cold = clf.set_params(warm_start=False, lr=1e-2).fit(X, y).predict_proba(X)
    new = ResMLPClassifier(n_members=2, max_epochs=1, **FAST).fit(X, y)
    np.testing.assert_array_equal(cold, new.predict_proba(X))


def test_warm_start_regressor_keeps_predictions_when_target_shifts():
    X, _ = _blobs()
    reg = ResMLPRegressor(warm_start=True, max_epochs=5, **FAST).fit(X, X[:, 0])
    before = reg.predict(X)
    reg.set_params(lr=1e-12, max_epochs=1).fit(X, 100 + 10 * X[:, 0])
    assert reg.y_mean_ > 90
    np.testing.assert_allclose(reg.predict(X), before, rtol=1e-4, atol=1e-4)


def test_partial_fit():
    X, y = _blobs()
    clf = ResMLPClassifier(max_epochs=2, **FAST)
    clf.partial_fit(X[:50], y[:50], classes=["active", "inactive", "unknown"])
    weights = clf.module_.input.weight.detach().clone()
    clf.partial_fit(X[50:], y[50:])
    assert clf.classes_.tolist() == ["active", "inactive", "unknown"]
    assert not torch.equal(weights, clf.module_.input.weight)
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:5], ["other"] * 5)
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :3], y)


# ---------------------------------------------------------------------------
# Parameters and errors
# ---------------------------------------------------------------------------


def test_routed_parameters_reach_module_optimizer_and_grid_search():
    X, y = _blobs(n=120)
    clf = ResMLPClassifier(max_epochs=1, optimizer__weight_decay=0.5, **FAST)
    params = clone(clf).get_params()
    assert params["optimizer__weight_decay"] == 0.5
    assert params["module__hidden_size"] == 32
    clf.set_params(module__hidden_size=8, module__n_blocks=1).fit(X, y)
    assert clf.module_.hidden_size == 8 and len(clf.module_.blocks) == 1
    assert clf.optimizer_.param_groups[0]["weight_decay"] == 0.5
    search = GridSearchCV(clf, {"module__hidden_size": [4, 16]}, cv=2).fit(X, y)
    assert search.best_estimator_.module_.hidden_size in (4, 16)


def test_defaults_follow_the_paper():
    params = ResMLPRegressor().get_params()
    assert params["module__hidden_size"] == 512
    assert params["module__n_blocks"] == 2
    assert params["module__dropout"] == 0.1
    assert params["optimizer"] is torch.optim.Adam and params["lr"] == 1e-3
    assert params["max_grad_norm"] == 1.0 and params["batch_size"] == 1024
    assert params["patience"] == 50 and params["max_epochs"] == 1000
    assert params["verbose"] == 0 and params["device"] == "cpu"


def test_quiet_by_default(capsys):
    X, y = _blobs(n=50)
    ResMLPClassifier(max_epochs=2, **FAST).fit(X, y)
    assert capsys.readouterr().out == ""


def test_errors():
    X, y = _blobs(n=50)
    with pytest.raises(TypeError, match="unexpected parameter"):
        ResMLPClassifier(max_epochs=1, criterion=torch.nn.NLLLoss).fit(X, y)
    with pytest.raises(ValueError, match="n_members"):
        ResMLPClassifier(n_members=0).fit(X, y)
    with pytest.raises(ValueError, match="module__n_features"):
        ResMLPClassifier(max_epochs=1, module__n_features=3).fit(X, y)
    assert not hasattr(ResMLPRegressor(), "predict_proba")
    with pytest.raises(ValueError, match="Unknown label type"):
        ResMLPClassifier(max_epochs=1).fit(X, X[:, 0])


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")
def test_cuda_unavailable_is_a_clear_error():
    X, y = _blobs(n=50)
    with pytest.raises(ValueError, match="CUDA is not available"):
        ResMLPClassifier(device="cuda", max_epochs=1).fit(X, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_closely():
    X, y = _blobs()
    kwargs = FAST | dict(n_members=3, max_epochs=3)
    cpu = ResMLPClassifier(**kwargs).fit(X, y)
    gpu = ResMLPClassifier(device="cuda", **kwargs).fit(X, y)
    assert gpu.module_.input.weight.is_cuda
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=0.05)


# ---------------------------------------------------------------------------
# The reference architecture (the paper's public code) and the earlier one
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ["reference", "identity"])
def test_resmlp_dropout_placement_in_training(architecture):
    """Reference: dropout after every block, applied to LeakyReLU(h + f(h)).

    Identity: one dropout, before the head. The masks are drawn in layer
    order from the given generator, so a manual forward with the same
    generator reproduces the module exactly.
    """
    p = 0.3
    net = ResMLP(
        6, 2, hidden_size=16, n_blocks=3, dropout=p, architecture=architecture
    ).train()
    X = torch.randn(5, 6)
    out = net(X, generator=torch.Generator().manual_seed(7))
    gen = torch.Generator().manual_seed(7)
    act = torch.nn.functional.leaky_relu

    def lin(layer, h):
        return h @ layer.weight[0] + layer.bias[0, 0]

    def drop(h):
        mask = torch.empty_like(h).bernoulli_(1 - p, generator=gen)
        return h * mask / (1 - p)

    h = act(lin(net.input, X))
    for block in net.blocks:
        h = h + lin(block.linear2, act(lin(block.linear1, h)))
        if architecture == "reference":
            h = drop(act(h))
    if architecture == "identity":
        h = drop(h)
    torch.testing.assert_close(out[0], lin(net.head, h))
    assert [b.activate_sum for b in net.blocks] == [architecture == "reference"] * 3


def test_default_architecture_is_the_reference():
    X, y = _blobs(n=60)
    clf = ResMLPClassifier(max_epochs=1, **FAST).fit(X, y)
    assert clf.get_params()["module__architecture"] == "reference"
    assert clf.module_.architecture == "reference"
    old = clf.set_params(module__architecture="identity").fit(X, y)
    assert old.module_.architecture == "identity"
    with pytest.raises(ValueError, match="module__architecture"):
        clf.set_params(module__architecture="resnet").fit(X, y)


def test_module_pickled_before_the_architecture_option_is_identity():
    net = ResMLP(4, 2, hidden_size=8)
    state = dict(vars(net))
    for key in ("architecture", "n_tasks", "n_head_layers", "head_hidden_size"):
        del state[key]
    state["_modules"] = dict(state["_modules"])
    del state["_modules"]["head_layers"]
    for block in state["_modules"]["blocks"]:
        del vars(block)["activate_sum"]
    old = ResMLP.__new__(ResMLP)
    old.__setstate__(state)
    for block in old.blocks:
        block.__setstate__(dict(vars(block)))
    assert old.architecture == "identity" and len(old.head_layers) == 0
    assert not any(b.activate_sum for b in old.blocks)
    assert old(torch.zeros(3, 4)).shape == (1, 3, 2)


# ---------------------------------------------------------------------------
# A fixed validation set (train_split)
# ---------------------------------------------------------------------------


def _validation_blobs():
    X, y = _blobs(n=200, seed=0)
    X_val, y_val = _blobs(n=150, seed=1)
    return X, y, X_val, y_val


def test_fixed_validation_trains_on_every_sample():
    X, y, X_val, y_val = _validation_blobs()
    kwargs = FAST | dict(max_epochs=4, patience=None)
    fixed = ResMLPClassifier(train_split=(X_val, y_val), **kwargs).fit(X, y)
    everything = ResMLPClassifier(validation_fraction=None, **kwargs).fit(X, y)
    np.testing.assert_array_equal(fixed.predict_proba(X), everything.predict_proba(X))
    held_out = ResMLPClassifier(**kwargs).fit(X, y)  # 10 % held out
    assert not np.array_equal(fixed.predict_proba(X), held_out.predict_proba(X))


def test_fixed_validation_loss_is_the_loss_on_that_set():
    X, y, X_val, y_val = _validation_blobs()
    y_val = y_val.copy()
    y_val[:5] = "unknown"  # not a training class: left out of the loss
    clf = ResMLPClassifier(
        train_split=(X_val, y_val), max_epochs=3, patience=None, **FAST
    ).fit(X, y)
    proba = clf.predict_proba(X_val[5:])
    codes = np.searchsorted(clf.classes_, y_val[5:])
    expected = -np.mean(np.log(proba[np.arange(len(codes)), codes]))
    np.testing.assert_allclose(clf.history_[-1, "valid_loss"], expected, rtol=1e-4)

    reg = ResMLPRegressor(
        train_split=(X_val, 3 + 2 * X_val[:, 0]), max_epochs=3, patience=None, **FAST
    ).fit(X, 3 + 2 * X[:, 0])
    z_pred = (reg.predict(X_val) - reg.y_mean_) / reg.y_scale_
    z_true = (3 + 2 * X_val[:, 0] - reg.y_mean_) / reg.y_scale_
    np.testing.assert_allclose(
        reg.history_[-1, "valid_loss"], np.mean((z_pred - z_true) ** 2), rtol=1e-4
    )


def test_fixed_validation_drives_early_stopping():
    X, y, X_val, y_val = _validation_blobs()
    clf = ResMLPClassifier(
        train_split=(X_val, y_val), max_epochs=300, patience=3, **(FAST | dict(lr=3e-2))
    ).fit(X, y)
    losses = np.array(clf.history_[:, "valid_loss"])
    stopper = dict(clf.callbacks_)["early_stopping"]
    assert len(losses) < 300
    assert stopper.best_epochs_[0] == np.argmin(losses) + 1
    np.testing.assert_allclose(stopper.best_scores_[0], losses.min())


def test_skorch_predefined_split_and_grid_search():
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    X, y, X_val, y_val = _validation_blobs()
    kwargs = FAST | dict(max_epochs=3, patience=None)
    a = ResMLPClassifier(train_split=(X_val, y_val), **kwargs).fit(X, y)
    b = ResMLPClassifier(
        train_split=predefined_split(Dataset(X_val, y_val)), **kwargs
    ).fit(X, y)
    np.testing.assert_array_equal(
        a.history_[:, "valid_loss"], b.history_[:, "valid_loss"]
    )
    clf = ResMLPClassifier(train_split=(X_val, y_val), **kwargs)
    assert clone(clf).get_params()["train_split"][0] is not X_val  # deep-copied
    search = GridSearchCV(clf, {"module__hidden_size": [4, 8]}, cv=2).fit(X, y)
    assert search.best_estimator_.train_split[0].shape == X_val.shape


def test_fixed_validation_errors():
    X, y, X_val, y_val = _validation_blobs()
    with pytest.raises(ValueError, match="3 features"):
        ResMLPClassifier(train_split=(X_val[:, :3], y_val), max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="150 validation samples but 10"):
        ResMLPClassifier(train_split=(X_val, y_val[:10]), max_epochs=1).fit(X, y)
    with pytest.raises(TypeError, match="train_split must be"):
        ResMLPClassifier(train_split=(X_val, y_val, y_val), max_epochs=1).fit(X, y)


# ---------------------------------------------------------------------------
# Monte Carlo dropout
# ---------------------------------------------------------------------------


def test_predict_proba_mc():
    X, y = _blobs()
    clf = ResMLPClassifier(n_members=2, max_epochs=3, module__dropout=0.3, **FAST)
    clf.fit(X, y)
    torch_state = torch.get_rng_state()
    samples = clf.predict_proba_mc(X[:20], n_passes=4)
    assert samples.shape == (4, 2, 20, 2)
    np.testing.assert_allclose(samples.sum(axis=-1), 1.0)
    assert not np.allclose(samples[0], samples[1])  # new masks at every pass
    # Seeded by the net's random_state by default; by random_state if given.
    np.testing.assert_array_equal(samples, clf.predict_proba_mc(X[:20], n_passes=4))
    other = clf.predict_proba_mc(X[:20], n_passes=4, random_state=1)
    assert not np.allclose(samples, other)
    assert torch.equal(torch_state, torch.get_rng_state())
    # The module is left in evaluation mode: predictions are deterministic.
    np.testing.assert_array_equal(clf.predict_proba(X[:20]), clf.predict_proba(X[:20]))
    # With many passes the MC mean is close to the deterministic prediction.
    mean = clf.predict_proba_mc(X[:20], n_passes=400).mean(axis=(0, 1))
    np.testing.assert_allclose(mean, clf.predict_proba(X[:20]), atol=0.05)
    with pytest.raises(ValueError, match="n_passes"):
        clf.predict_proba_mc(X, n_passes=0)
    no_dropout = ResMLPClassifier(max_epochs=1, module__dropout=0.0, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="needs dropout"):
        no_dropout.predict_proba_mc(X)


# ---------------------------------------------------------------------------
# Label matrices: one head per output, masked loss, class weights
# ---------------------------------------------------------------------------


def _matrix(n=240, seed=0, missing=0.3):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5))
    Y = np.column_stack(
        [X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] > 0.8]  # the last is rare
    ).astype(float)
    Y[rng.uniform(size=Y.shape) < missing] = np.nan
    return X, Y


def test_multitask_module_has_one_head_per_task():
    net = ResMLP(6, 2, hidden_size=8, n_members=3, n_tasks=4)
    assert net.head.weight.shape == (3, 8, 4 * 2)  # a linear head per task
    deep = ResMLP(
        6, 2, hidden_size=8, n_members=3, n_tasks=4, n_head_layers=2, head_hidden_size=5
    ).eval()
    assert [tuple(layer.weight.shape) for layer in deep.head_layers] == [
        (3, 4, 8, 5),
        (3, 4, 5, 5),
    ]
    assert deep.head.weight.shape == (3, 4, 5, 2)
    X = torch.randn(7, 6)
    out = deep(X)
    assert out.shape == (3, 7, 8)
    act = torch.nn.functional.leaky_relu
    for m in range(3):
        h = act(X @ deep.input.weight[m] + deep.input.bias[m, 0])
        for block in deep.blocks:
            inner = act(h @ block.linear1.weight[m] + block.linear1.bias[m, 0])
            h = act(h + inner @ block.linear2.weight[m] + block.linear2.bias[m, 0])
        for t in range(4):
            g = h
            for layer in deep.head_layers:
                g = act(g @ layer.weight[m, t] + layer.bias[m, t, 0])
            task = g @ deep.head.weight[m, t] + deep.head.bias[m, t, 0]
            torch.testing.assert_close(out[m, :, 2 * t : 2 * t + 2], task)


def test_masked_loss_ignores_missing_cells():
    X, Y = _matrix()
    clf = ResMLPClassifier(n_members=2, max_epochs=2, **FAST).fit(X, Y)
    codes = clf._prepare_targets(Y, "partial")
    assert (codes[np.isnan(Y)] == -1).all()
    y_pred = torch.randn(2, len(X), 3 * 2, requires_grad=True)
    loss = clf.get_loss(y_pred, torch.from_numpy(codes))
    logp = torch.log_softmax(y_pred.detach().reshape(2, len(X), 3, 2), dim=-1)
    labelled = codes >= 0
    manual = [
        -np.mean(
            [logp[m, i, j, codes[i, j]].item() for i, j in zip(*np.nonzero(labelled))]
        )
        for m in range(2)
    ]
    np.testing.assert_allclose(loss.item(), np.mean(manual), rtol=1e-5)
    loss.backward()
    grad = y_pred.grad.reshape(2, len(X), 3, 2)
    assert torch.all(grad[:, torch.from_numpy(~labelled)] == 0)
    assert torch.all(grad[:, torch.from_numpy(labelled)].abs().sum(-1) > 0)

    values = np.where(np.isnan(Y), Y, X[:, :3])
    reg = ResMLPRegressor(max_epochs=2, **FAST).fit(X, values)
    target = torch.from_numpy(reg._prepare_targets(values, "partial"))
    pred = torch.randn(1, len(X), 3, requires_grad=True)
    loss = reg.get_loss(pred, target)
    ok = ~torch.isnan(target)
    np.testing.assert_allclose(
        loss.item(), ((pred[0][ok] - target[ok]) ** 2).mean().item(), rtol=1e-5
    )
    loss.backward()
    assert torch.all(pred.grad[0][~ok] == 0)


def test_multioutput_classifier_predictions_and_screen_protocol():
    X, Y = _matrix()
    clf = ResMLPClassifier(
        n_members=3, max_epochs=30, module__n_head_layers=1, **FAST
    ).fit(X, Y)
    assert clf.n_outputs_ == 3 and len(clf.classes_) == 3
    assert clf.module_.n_tasks == 3 and len(clf.module_.head_layers) == 1
    proba = clf.predict_proba(X[:10])
    assert isinstance(proba, list) and [p.shape for p in proba] == [(10, 2)] * 3
    pred = clf.predict(X)
    assert pred.shape == (len(X), 3)
    np.testing.assert_array_equal(
        pred[:10],
        np.column_stack([c[p.argmax(1)] for c, p in zip(clf.classes_, proba)]),
    )
    assert clf.predict_members(X[:10]).shape == (3, 10, 3)
    mc = clf.predict_proba_mc(X[:10], n_passes=4)
    assert [m.shape for m in mc] == [(4, 3, 10, 2)] * 3
    labelled = ~np.isnan(Y)
    expected = (pred == Y)[labelled].mean()
    assert clf.score(X, Y) == pytest.approx(expected)
    assert clf.score(X, Y) > 0.75
    # Acquisition scores per cell, as a matrix screen reduces them.
    from sklearn_isd import acquisition as acq

    assert acq.least_confidence(clf, X[:10]).shape == (10, 3)
    assert acq.vote_entropy(clf, X[:10]).shape == (10, 3)
    assert acq.bald(clf, X[:10]).shape == (10, 3)


def test_multioutput_in_a_matrix_screen():
    from sklearn_isd import HybridScreenCV

    X, Y = _matrix(n=300, missing=0.1)
    screen = HybridScreenCV(
        ResMLPClassifier(max_epochs=5, **FAST),
        batch_size=40,
        stopping=None,
        max_fraction=0.5,
        random_state=0,
    ).fit(X, Y)
    assert screen.transduction_.shape == Y.shape
    assert screen.history_["n_observed"][-1] == 150


def test_balanced_class_weights_per_output():
    X, Y = _matrix(missing=0.0)
    clf = ResMLPClassifier(class_weight="balanced", max_epochs=1, **FAST).fit(X, Y)
    for j in range(3):
        counts = np.bincount(Y[:, j].astype(int))
        np.testing.assert_allclose(
            clf.class_weight_[j], len(Y) / (2 * counts), rtol=1e-6
        )
    codes = torch.from_numpy(clf._prepare_targets(Y, "partial"))
    y_pred = torch.randn(1, len(X), 6)
    logp = torch.log_softmax(y_pred.reshape(1, len(X), 3, 2), dim=-1)[0]
    w = torch.as_tensor(clf.class_weight_)
    cells = [
        -w[j, codes[i, j]] * logp[i, j, codes[i, j]]
        for i in range(len(X))
        for j in range(3)
    ]
    np.testing.assert_allclose(
        clf.get_loss(y_pred, codes).item(), torch.stack(cells).mean().item(), rtol=1e-5
    )
    # Balanced weights raise the recall of the rare class.
    plain = ResMLPClassifier(max_epochs=40, **FAST).fit(X, Y)
    balanced = ResMLPClassifier(class_weight="balanced", max_epochs=40, **FAST).fit(
        X, Y
    )
    rare = Y[:, 2] == 1
    recall = [(m.predict(X)[rare, 2] == 1).mean() for m in (plain, balanced)]
    assert recall[1] >= recall[0]
    with pytest.raises(ValueError, match="one dict per output"):
        ResMLPClassifier(class_weight={0: 2.0}, max_epochs=1, **FAST).fit(X, Y)
    single = ResMLPClassifier(class_weight={0: 3.0}, max_epochs=1, **FAST)
    single.fit(X, Y[:, 0])
    np.testing.assert_allclose(single.class_weight_, [[3.0, 1.0]])


def test_multioutput_regressor_and_fixed_validation():
    X, Y = _matrix()
    target = np.where(np.isnan(Y), np.nan, 10 * X[:, :3] + [0, 100, -50])
    X_val, Y_val = _matrix(seed=1)
    val = np.where(np.isnan(Y_val), np.nan, 10 * X_val[:, :3] + [0, 100, -50])
    reg = ResMLPRegressor(
        n_members=2, max_epochs=30, train_split=(X_val, val), **FAST
    ).fit(X, target)
    np.testing.assert_allclose(reg.y_mean_, np.nanmean(target, axis=0))
    assert reg.predict(X).shape == (len(X), 3)
    assert reg.predict_members(X[:4]).shape == (2, 4, 3)
    assert reg.score(X, target) > 0.5
    assert np.isfinite(reg.history_[-1, "valid_loss"])
    # Warm start: re-standardising the target keeps the predictions.
    reg.set_params(warm_start=True, lr=1e-12, max_epochs=1, train_split=None)
    before = reg.predict(X)
    reg.fit(X, target * 2 + 7)
    np.testing.assert_allclose(reg.predict(X), before, rtol=1e-4, atol=1e-3)
    clf = ResMLPClassifier(max_epochs=2, train_split=(X_val, Y_val), **FAST).fit(X, Y)
    assert np.isfinite(clf.history_[-1, "valid_loss"])
    with pytest.raises(ValueError, match="no label"):
        empty = np.c_[Y[:, :2], np.full(len(X), np.nan)]
        ResMLPClassifier(max_epochs=1, **FAST).fit(X, empty)
