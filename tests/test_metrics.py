import numpy as np
import pytest

from sklearn_isd import metrics as m


def test_system_accuracy_is_equation_1():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    pred = np.where(rng.random(200) < 0.7, y, (y + 1) % 3)
    observed = rng.random(200) < 0.3
    by_hand = (observed.sum() + np.sum((pred == y) & ~observed)) / 200
    assert m.system_accuracy(y, pred, observed) == pytest.approx(by_hand)
    inf = ~observed
    assert m.inference_accuracy(y, pred, observed) == pytest.approx(
        np.mean(pred[inf] == y[inf])
    )
    # The hybrid readout itself scores the same (measured labels are exact).
    hybrid = np.where(observed, y, pred)
    assert m.system_accuracy(y, hybrid, observed) == m.system_accuracy(
        y, pred, observed
    )
    assert np.isnan(m.inference_accuracy(y, pred, np.ones(200, bool)))


def test_regression_counterparts():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    pred = np.array([0.5, 1.0, 4.0, 3.1])
    observed = np.array([False, False, True, False])
    assert m.system_accuracy(y, pred, observed, tolerance=0.2) == 0.75
    assert m.inference_accuracy(y, pred, observed, tolerance=0.5) == 1.0
    assert m.system_mean_squared_error(y, pred, observed) == pytest.approx(
        (0.25 + 0 + 0 + 0.01) / 4
    )
    assert m.inference_mean_absolute_error(y, pred, observed) == pytest.approx(
        (0.5 + 0 + 0.1) / 3
    )
    assert m.system_mean_absolute_error(y, pred, observed) == pytest.approx(0.6 / 4)
    assert m.inference_mean_squared_error(y, pred, observed) == pytest.approx(0.26 / 3)


def test_shape_errors():
    with pytest.raises(ValueError, match="same length"):
        m.system_accuracy([0, 1], [0], [True, False])


def test_labels_to_target_and_scorer():
    history = {
        "fraction_observed": np.array([0.1, 0.2, 0.3, 0.4]),
        "system_score": np.array([0.8, 0.93, 0.96, 0.97]),
    }
    assert m.labels_to_target(history, 0.95) == 0.3
    assert m.labels_to_target(history, 0.99) == 1.0
    with pytest.raises(ValueError, match="simulated"):
        m.labels_to_target({"fraction_observed": np.ones(1)}, 0.9)

    class Screen:
        history_ = history
        target = 0.9

    assert m.make_screen_scorer()(Screen(), None, None) == -0.2
    assert m.make_screen_scorer(target=0.95)(Screen()) == -0.3
    assert m.make_screen_scorer("labels_at_stop")(Screen()) == -0.4
    assert m.make_screen_scorer("system_score")(Screen()) == 0.97
    with pytest.raises(ValueError, match="metric"):
        m.make_screen_scorer("recall")
