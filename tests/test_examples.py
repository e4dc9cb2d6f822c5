"""The gallery examples run in small settings and show what they claim.

Every script of ``examples/`` exposes ``main(**settings)``, which computes its
results without drawing; the tests below call it with small settings, check
the outcome the example's text describes, and call its plotting functions
(Agg backend), so that the examples cannot rot silently.

The tests of :func:`sklearn_isd.datasets.load_mnist`, which the noisy-label
example uses in its full setting, are at the end (with a mocked OpenML).
"""

import importlib.util
import warnings
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
from sklearn.utils import Bunch

from sklearn_isd.datasets import _mnist, load_mnist

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: Every example, with the test that runs it.
TESTED = {
    "images/plot_noisy_labels.py": "test_noisy_labels",
    "images/plot_partial_observability.py": "test_partial_observability",
    "molecules/plot_qm9_classification.py": "test_qm9_classification",
    "molecules/plot_qm9_regression_committee.py": "test_qm9_regression_committee",
    "molecules/plot_smiles_pipeline.py": "test_smiles_pipeline",
    "molecules/plot_matrix_screen.py": "test_matrix_screen",
    "model_selection/plot_grid_search_acquisition.py": "test_grid_search",
    "lab/plot_lab_in_the_loop.py": "test_lab_in_the_loop",
    "lab/plot_cli_campaign.py": "test_cli_campaign",
}


@pytest.fixture(autouse=True)
def _small_and_closed(monkeypatch):
    monkeypatch.delenv("SKLEARN_ISD_EXAMPLES_FULL", raising=False)
    yield
    plt.close("all")


def load_example(relative):
    """Import an example as a module: its ``__main__`` cells do not run."""
    path = EXAMPLES / relative
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_tested_and_has_main():
    scripts = sorted(
        str(p.relative_to(EXAMPLES)).replace("\\", "/")
        for p in EXAMPLES.glob("*/plot_*.py")
    )
    assert scripts == sorted(TESTED)
    assert (EXAMPLES / "README.txt").is_file()
    for relative in scripts:
        path = EXAMPLES / relative
        assert (path.parent / "README.txt").is_file(), path.parent
        source = path.read_text()
        assert "def main(**settings):" in source, relative
        assert "SETTINGS = dict(" in source, relative
        assert "SKLEARN_ISD_EXAMPLES_FULL" in source, relative
        assert TESTED[relative] in globals()


# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------


def test_noisy_labels():
    example = load_example("images/plot_noisy_labels.py")
    results = example.main(
        n_samples=800, batch_size=40, max_fraction=0.6, n_corrupted_digits=(2, 6)
    )
    agents = results["agents"]
    active = agents["active (least confidence)"]
    random = agents["random"]
    for rounds in agents.values():
        lengths = {key: len(values) for key, values in rounds.items()}
        assert len(set(lengths.values())) == 1, lengths
    # Inference set design: the active agent's inference set gets much easier...
    assert active["inference_score"][-1] > random["inference_score"][-1] + 0.15
    assert active["system_score"][-1] > random["system_score"][-1]
    # ...because it measures the mislabelled images first (Fig. 2)...
    half = len(active["fraction_observed"]) // 2
    assert active["mislabelled_acquired"][half] > random["mislabelled_acquired"][half]
    assert active["mislabelled_acquired"][-1] > 0.9
    # ...not because it generalises better (held-out test accuracy).
    assert abs(active["test_score"][-1] - random["test_score"][-1]) < 0.1
    # Fig. 4: at every level of noise, active ends ahead on the inference set.
    sweep = results["sweep"]
    for k in (2, 6):
        assert (
            sweep[k, "active (least confidence)"]["inference_score"][-1]
            > sweep[k, "random"]["inference_score"][-1]
        )
    example.plot_agents(agents, target=0.95)
    example.plot_mislabelled(agents)
    example.plot_sweep(sweep)


def test_partial_observability():
    example = load_example("images/plot_partial_observability.py")
    results = example.main(n_samples=800, batch_size=40, max_fraction=0.6)
    screens = results["screens"]
    active = screens["least confidence"].history_
    random = screens["random"].history_
    assert active["inference_score"][-1] > random["inference_score"][-1] + 0.05
    # The two final models generalise alike: the gain is in the inference set.
    scores = results["test_scores"]
    assert abs(scores["least confidence"] - scores["random"]) < 0.1
    share = example.share_measured_by_digit(
        screens["least confidence"], results["y_lib"], 0.5
    )
    assert share.shape == (10,) and np.all((share >= 0) & (share <= 1))


# ---------------------------------------------------------------------------
# Molecules
# ---------------------------------------------------------------------------


def test_qm9_classification():
    pytest.importorskip("rdkit")
    example = load_example("molecules/plot_qm9_classification.py")
    results = example.main(n_molecules=1500, batch_size=75, max_fraction=0.5)
    agents = results["agents"]
    assert set(agents) == {"active", "random", "dataset order"}
    final = {name: rounds["inference_score"][-1] for name, rounds in agents.items()}
    assert final["active"] > final["random"] + 0.03
    assert final["active"] > final["dataset order"] + 0.03
    # Fig. 5: the active agent measures the hard-to-predict molecules first.
    hard_share = results["hard_share"]
    assert 0 < results["hard"].sum() < 0.2 * len(results["hard"])
    assert hard_share["active"][-1] > hard_share["random"][-1] + 0.2
    example.plot_accuracy(agents, target=0.95)
    example.plot_hard_share(agents, hard_share)


def test_matrix_screen():
    pytest.importorskip("rdkit")
    example = load_example("molecules/plot_matrix_screen.py")
    results = example.main(n_molecules=2000, batch_size=50, max_fraction=0.5)
    cells = results["cells_to_target"]
    assert cells["active"] is not None
    assert cells["random"] is None or cells["active"] < 0.85 * cells["random"]
    active = results["histories"]["active"]
    # Cells are the cost: 6 targets per compound, minus the missing cells.
    assert (active["n_observed_cells"] < 6 * active["n_observed"]).all()
    assert (active["n_observed_cells"] > 5.5 * active["n_observed"]).all()
    screen = results["per_target"]
    if screen.termination_condition_ == "target_reached":
        bounds = [screen.history_[f"system_lower_bound_{j}"][-1] for j in range(6)]
        assert min(bounds) > 0.95
    example.plot_cells(results["histories"], results["names"], 0.95)


def test_qm9_regression_committee():
    pytest.importorskip("rdkit")
    pytest.importorskip("torch")
    example = load_example("molecules/plot_qm9_regression_committee.py")
    histories = example.main(n_molecules=1000, batch_size=100, max_fraction=0.6)
    # Fig. 7: measuring where the committee disagrees lowers the error of
    # what is left to predict.
    mse = {name: history["inference_mse"][-1] for name, history in histories.items()}
    assert mse["std"] < mse["random"]
    example.plot_histories(histories, target=0.9)
    # The ResMLP committee option runs too.
    histories = example.main(
        committee="resmlp", n_molecules=200, batch_size=100, max_fraction=0.5
    )
    assert len(histories["std"]["fraction_observed"]) == 1


def test_smiles_pipeline():
    pytest.importorskip("rdkit")
    pytest.importorskip("torch")
    example = load_example("molecules/plot_smiles_pipeline.py")
    results = example.main(n_molecules=600, max_epochs=5, batch_size=60, target=0.85)
    screen = results["screen"]
    history = screen.history_
    assert screen.termination_condition_ == "target_reached"
    assert history["system_lower_bound"][-1] > 0.85
    # The bound held: the true system accuracy is above it.
    assert history["system_score"][-1] >= history["system_lower_bound"][-1]
    assert screen.transduction_.shape == (600,)


# ---------------------------------------------------------------------------
# Model selection and the lab
# ---------------------------------------------------------------------------


def test_grid_search():
    pytest.importorskip("pandas")
    example = load_example("model_selection/plot_grid_search_acquisition.py")
    search = example.main(n_samples=600, n_splits=1, batch_size=30)
    table = example.results_table(search)
    assert set(table["acquisition"]) == {
        "least_confidence",
        "margin",
        "entropy",
        "random",
        "vote_entropy",
    }
    assert search.best_params_["acquisition"] != "random"
    # Random acquisition needs the most labels to reach the target.
    assert table["acquisition"].iloc[-1] == "random"
    example.plot_table(table)


def test_lab_in_the_loop():
    pytest.importorskip("rdkit")
    pytest.importorskip("pandas")
    example = load_example("lab/plot_lab_in_the_loop.py")
    # Without failed wells, the campaign run by hand (saved and reloaded on
    # the way) makes the same choices as fit with the lab as an oracle.
    results = example.main(n_molecules=600, plate_size=48, failure_rate=0.0)
    screen, by_fit = results["screen"], results["by_fit"]
    np.testing.assert_array_equal(screen.acquired_iter_, by_fit.acquired_iter_)
    np.testing.assert_array_equal(screen.transduction_, by_fit.transduction_)
    assert screen.termination_condition_ == "target_reached"
    # With failed wells, they are left out and measured later if needed.
    results = example.main(n_molecules=600, plate_size=48, failure_rate=0.1)
    screen, lab = results["screen"], results["lab"]
    assert screen.stop_
    assert screen.observed_mask_.sum() < lab.n_measured
    assert results["campaign_size"] > 0


def test_cli_campaign(tmp_path):
    pytest.importorskip("rdkit")
    example = load_example("lab/plot_cli_campaign.py")
    results = example.main(n_molecules=200, batch_size=40, folder=tmp_path)
    campaign, report = results["campaign"], results["report"]
    skipped = (campaign / "skipped.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in skipped[1:]] == ["row 7", "row 11"]
    assert {"readout.csv", "report.html", "screen.png"} <= {
        p.name for p in report.iterdir()
    }
    assert (campaign / "batch_000.csv").is_file()


# ---------------------------------------------------------------------------
# load_mnist, with a mocked OpenML
# ---------------------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch):
    """fetch_openml fails as it does without internet, and counts its calls."""
    calls = []

    def failing_fetch_openml(*args, **kwargs):
        calls.append((args, kwargs))
        raise URLError("no internet in tests")

    monkeypatch.setattr(_mnist, "fetch_openml", failing_fetch_openml)
    return calls


@pytest.fixture
def fake_openml(monkeypatch):
    """fetch_openml returns a tiny MNIST-like data set, and counts its calls."""
    calls = []
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, size=(12, 784)).astype(np.float64)
    target = np.array([str(d % 10) for d in range(12)], dtype=object)

    def fake_fetch_openml(name, **kwargs):
        calls.append((name, kwargs))
        return Bunch(data=data.copy(), target=target.copy())

    monkeypatch.setattr(_mnist, "fetch_openml", fake_fetch_openml)
    return calls, data


def test_load_mnist_falls_back_to_digits_offline(offline, tmp_path):
    with pytest.warns(UserWarning, match="returning scikit-learn's 8 x 8 digits"):
        mnist = load_mnist(data_home=tmp_path)
    assert len(offline) == 1
    assert mnist.source == "digits"
    assert mnist.image_shape == (8, 8)
    assert mnist.data.shape == (1797, 64)
    assert mnist.images.shape == (1797, 8, 8)
    assert mnist.target.dtype.kind == "i"
    np.testing.assert_array_equal(mnist.target_names, np.arange(10))
    with pytest.warns(UserWarning, match="fallback=False"):
        X, y = load_mnist(data_home=tmp_path, return_X_y=True)
    assert X.shape == (1797, 64) and y.shape == (1797,)


def test_load_mnist_without_fallback_says_how_to_get_it(offline, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning either
        with pytest.raises(OSError, match="no internet in tests") as info:
            load_mnist(data_home=tmp_path, fallback=False)
    message = str(info.value)
    assert "internet access" in message
    assert str(tmp_path / "mnist" / "mnist_784.npz") in message


def test_load_mnist_download_if_missing_false(offline, tmp_path):
    with pytest.raises(OSError, match="download_if_missing is False"):
        load_mnist(data_home=tmp_path, download_if_missing=False, fallback=False)
    with pytest.warns(UserWarning, match="not cached"):
        mnist = load_mnist(data_home=tmp_path, download_if_missing=False)
    assert mnist.source == "digits"
    assert offline == []  # never tried to download


def test_load_mnist_fetches_once_then_reads_its_cache(fake_openml, tmp_path):
    calls, data = fake_openml
    mnist = load_mnist(data_home=tmp_path)
    assert len(calls) == 1
    name, kwargs = calls[0]
    assert name == "mnist_784"
    assert kwargs["version"] == 1 and kwargs["data_home"] == tmp_path
    assert mnist.source == "mnist_784"
    assert mnist.image_shape == (28, 28)
    assert mnist.images.shape == (12, 28, 28)
    np.testing.assert_array_equal(mnist.data, data)
    np.testing.assert_array_equal(mnist.target, np.arange(12) % 10)
    assert (tmp_path / "mnist" / "mnist_784.npz").is_file()
    # The second call reads the cache, even offline.
    again = load_mnist(data_home=tmp_path, download_if_missing=False, fallback=False)
    assert len(calls) == 1
    np.testing.assert_array_equal(again.data, data)
    np.testing.assert_array_equal(again.target, mnist.target)
    # The cache holds no pickle.
    with np.load(tmp_path / "mnist" / "mnist_784.npz", allow_pickle=False) as npz:
        assert set(npz.files) == {"data", "target"}


def test_load_mnist_as_frame(fake_openml, tmp_path):
    pd = pytest.importorskip("pandas")
    mnist = load_mnist(data_home=tmp_path, as_frame=True)
    assert isinstance(mnist.data, pd.DataFrame)
    assert mnist.data.shape == (12, 784)
    assert list(mnist.data.columns[:2]) == ["pixel1", "pixel2"]
    assert isinstance(mnist.target, pd.Series)
    assert list(mnist.frame.columns[-1:]) == ["target"]
    X, y = load_mnist(data_home=tmp_path, as_frame=True, return_X_y=True)
    assert X.shape == (12, 784) and len(y) == 12
