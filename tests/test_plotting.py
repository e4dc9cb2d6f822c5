"""Tests of sklearn_isd.plotting.ScreenDisplay."""

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from sklearn_isd import HybridScreenCV
from sklearn_isd.plotting import ScreenDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DEFAULT_KEYS = ["system_lower_bound", "batch_score", "system_score", "inference_score"]


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=600, random_state=0)


@pytest.fixture(scope="module")
def screen(data):
    X, y = data
    return HybridScreenCV(LogisticRegression(), batch_size=30, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def random_screen(data):
    X, y = data
    return HybridScreenCV(
        LogisticRegression(), acquisition="random", batch_size=30, random_state=0
    ).fit(X, y)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_from_estimator_lines_follow_history(screen):
    display = ScreenDisplay.from_estimator(screen)
    history = screen.history_

    assert isinstance(display, ScreenDisplay)
    assert list(display.lines_) == DEFAULT_KEYS
    for key, line in display.lines_.items():
        assert isinstance(line, matplotlib.lines.Line2D)
        assert line.axes is display.ax_
        assert_array_equal(line.get_xdata(), history["fraction_observed"])
        assert_array_equal(line.get_ydata(), history[key])
    assert display.figure_ is display.ax_.figure
    assert display.target == screen.target
    assert display.termination_condition == screen.termination_condition_
    assert "labels spent" in display.ax_.get_xlabel()

    # One screen, one color: the metrics differ by line style.
    colors = {line.get_color() for line in display.lines_.values()}
    assert len(colors) == 1
    styles = {line.get_linestyle() for line in display.lines_.values()}
    assert len(styles) == len(DEFAULT_KEYS)


def test_target_stop_and_true_reached_markers(screen):
    assert screen.termination_condition_ == "target_reached"
    display = ScreenDisplay.from_estimator(screen)
    history = screen.history_

    assert_allclose(display.target_line_.get_ydata(), [screen.target] * 2)
    last = history["fraction_observed"][-1]
    assert_allclose(display.stop_line_.get_xdata(), [last, last])

    first = np.flatnonzero(history["system_score"] >= screen.target)[0]
    reached = history["fraction_observed"][first]
    assert_allclose(display.true_reached_line_.get_xdata(), [reached, reached])
    # The screen pays for its guarantee: it stops after the true score got there.
    assert reached <= last


def test_markers_can_be_hidden(screen):
    display = ScreenDisplay.from_estimator(screen, show_target=False, show_stop=False)
    assert display.target_line_ is None
    assert display.stop_line_ is None
    assert display.true_reached_line_ is None


def test_no_stop_marker_unless_target_reached(screen):
    display = ScreenDisplay.from_history(
        screen.history_, target=screen.target, termination_condition="max_fraction"
    )
    assert display.stop_line_ is None
    assert display.target_line_ is not None


def test_overlay_two_screens_shares_one_legend(screen, random_screen):
    first = ScreenDisplay.from_estimator(screen, label="least confidence")
    second = ScreenDisplay.from_estimator(random_screen, ax=first.ax_, label="random")

    assert second.ax_ is first.ax_
    assert second.figure_ is first.figure_
    texts = legend_texts(first.ax_)
    for key in DEFAULT_KEYS:
        name = first.lines_[key].get_label().split(": ", 1)[1]
        entries = [text for text in texts if text.endswith(f": {name}")]
        assert entries == [f"least confidence: {name}", f"random: {name}"]
    # The shared target is in the legend once.
    assert sum(text.startswith("target") for text in texts) == 1

    # Each screen keeps its own color, and its own data.
    assert (
        first.lines_["system_lower_bound"].get_color()
        != second.lines_["system_lower_bound"].get_color()
    )
    assert_array_equal(
        second.lines_["system_lower_bound"].get_xdata(),
        random_screen.history_["fraction_observed"],
    )
    # The x axis covers both screens.
    right = first.ax_.get_xlim()[1]
    assert right >= random_screen.history_["fraction_observed"][-1]
    assert right >= screen.history_["fraction_observed"][-1]


def test_from_history_without_screen(screen):
    saved = {key: values.tolist() for key, values in screen.history_.items()}
    saved["batch_score"][0] = None  # JSON null for the initial batch's NaN

    display = ScreenDisplay.from_history(
        saved,
        target=0.95,
        termination_condition="target_reached",
        label="saved",
        metrics=["system_lower_bound", "batch_score"],
    )

    assert list(display.lines_) == ["system_lower_bound", "batch_score"]
    assert_allclose(
        display.lines_["batch_score"].get_ydata(),
        screen.history_["batch_score"],
        equal_nan=True,
    )
    assert display.lines_["system_lower_bound"].get_label() == (
        "saved: system lower bound"
    )
    assert display.stop_line_ is not None


def test_from_history_of_a_real_screen_without_simulation_keys():
    history = {
        "fraction_observed": np.array([0.1, 0.2, 0.3]),
        "batch_score": np.array([np.nan, 0.8, 1.0]),
        "system_lower_bound": np.array([0.1, 0.6, 0.96]),
    }
    display = ScreenDisplay.from_history(history, target=0.95)
    assert list(display.lines_) == ["system_lower_bound", "batch_score"]
    assert display.true_reached_line_ is None
    assert display.stop_line_ is None


def test_constructor_only_stores_and_plot_returns_self(screen):
    history = screen.history_
    display = ScreenDisplay(history=history, target=0.9, label="x")
    assert display.history is history
    assert not hasattr(display, "ax_")

    fig, ax = plt.subplots()
    assert display.plot(ax=ax, metrics="system_score") is display
    assert display.ax_ is ax
    assert display.figure_ is fig
    assert list(display.lines_) == ["system_score"]


def test_plot_kwargs_reach_the_curves(screen):
    display = ScreenDisplay.from_estimator(screen, color="tab:green", linewidth=3)
    for line in display.lines_.values():
        assert line.get_color() == "tab:green"
        assert line.get_linewidth() == 3
    assert display.stop_line_.get_color() == "tab:green"


def test_not_fitted_screen_raises():
    with pytest.raises(NotFittedError):
        ScreenDisplay.from_estimator(HybridScreenCV(LogisticRegression()))


def test_unknown_metric_names_available_keys(screen):
    with pytest.raises(ValueError, match="no_such_key") as excinfo:
        ScreenDisplay.from_estimator(screen, metrics=["system_score", "no_such_key"])
    message = str(excinfo.value)
    for key in ("system_lower_bound", "batch_score", "fit_time", "n_observed"):
        assert key in message


@pytest.mark.parametrize(
    "history, match",
    [
        ({"batch_score": [0.5]}, "fraction_observed"),
        ({"fraction_observed": [0.1, 0.2], "batch_score": [0.5]}, "equal length"),
        ({"fraction_observed": [], "system_lower_bound": []}, "empty"),
        ({"fraction_observed": [0.1], "fit_time": [0.1]}, "default metrics"),
    ],
)
def test_invalid_history(history, match):
    with pytest.raises(ValueError, match=match):
        ScreenDisplay.from_history(history)


def test_import_does_not_import_matplotlib():
    code = (
        "import sys\n"
        "import sklearn_isd.plotting\n"
        "assert 'matplotlib' not in sys.modules, sorted(\n"
        "    m for m in sys.modules if m.startswith('matplotlib'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_stepwise_screen_still_running(data):
    X, y = data
    screen = HybridScreenCV(LogisticRegression(), batch_size=30, random_state=0)
    for _ in range(2):
        indices = screen.ask(X)
        screen.tell(indices, y[indices])
    assert screen.termination_condition_ is None

    display = ScreenDisplay.from_estimator(screen, label="lab")
    assert display.stop_line_ is None
    assert_array_equal(
        display.lines_["system_lower_bound"].get_xdata(),
        screen.history_["fraction_observed"],
    )
    # ask/tell without y: no true scores to draw.
    assert list(display.lines_) == ["system_lower_bound", "batch_score"]
