"""Plots of hybrid screens, following scikit-learn's Display convention.

:class:`ScreenDisplay` draws the rounds of a screen against the labels spent:
the lower bound on the system accuracy that decides when to stop, the batch
accuracy that feeds it, and, for simulations, the true system and inference
accuracies. matplotlib is imported only when something is drawn, so this
module imports without it.
"""

import warnings
from collections.abc import Mapping

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .utils._compat import check_matplotlib_support

__all__ = ["ScreenDisplay"]

#: Curves drawn when ``metrics=None``, in this order, if the history has them.
DEFAULT_METRICS = (
    "system_lower_bound",
    "batch_score",
    "system_score",
    "inference_score",
)

#: Legend name and line style of the known history keys; one screen keeps
#: one color for all its curves, so the styles tell the metrics apart.
_METRIC_STYLES = {
    "system_lower_bound": ("system lower bound", {"linestyle": "-", "linewidth": 2}),
    "batch_score": (
        "batch score",
        {"linestyle": ":", "linewidth": 1, "marker": "o", "markersize": 3},
    ),
    "system_score": ("true system score", {"linestyle": "--", "linewidth": 1.5}),
    "inference_score": ("true inference score", {"linestyle": "-.", "linewidth": 1}),
}
_OTHER_STYLE = {"linestyle": "-", "linewidth": 1, "marker": "x", "markersize": 3}

X_KEY = "fraction_observed"


def _metric_name(key):
    return _METRIC_STYLES[key][0] if key in _METRIC_STYLES else key.replace("_", " ")


class ScreenDisplay:
    """Rounds of a hybrid screen: bounds and scores against labels spent.

    It is recommended to create a display with :meth:`from_estimator` (a
    fitted :class:`~sklearn_isd.HybridScreenCV`) or :meth:`from_history` (a
    saved ``history_``). All parameters are stored as attributes.

    The x axis is ``fraction_observed``, the labels spent as a share of the
    library. Every curve of one display has the same color (the next one of
    the axes' color cycle), and each metric has its own line style, so that
    several screens drawn on the same axes (pass ``ax=display.ax_`` and a
    ``label`` for each) share one legend.

    Parameters
    ----------
    history : dict of array-like
        One entry per acquired batch, as in ``HybridScreenCV.history_``;
        it needs ``fraction_observed`` and the keys to draw. A
        :class:`pandas.DataFrame` of it, or lists loaded from JSON (None
        for missing values), work too.
    target : float or None, default=None
        The system accuracy the screen aimed at; drawn as a horizontal line
        and used to mark the first round in which the true ``system_score``
        reached it.
    termination_condition : str or None, default=None
        Why the screen stopped (``HybridScreenCV.termination_condition_``);
        the stop is marked when it is ``"target_reached"``.
    label : str or None, default=None
        Name of the screen in the legend (e.g. ``"least confidence"``); each
        curve is labeled ``"<label>: <metric>"``. None labels curves by
        metric only.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The curve of each history key drawn, keyed by history key.
    target_line_ : matplotlib Line2D or None
        The horizontal line at ``target``; None if not drawn.
    stop_line_ : matplotlib Line2D or None
        The vertical line at the ``fraction_observed`` of the last round, drawn
        when the screen stopped because its bound reached the target; None
        otherwise.
    true_reached_line_ : matplotlib Line2D or None
        The vertical line at the first round in which the true
        ``system_score`` was at least ``target`` (simulations only); None if
        not drawn or never reached.
    ax_ : matplotlib Axes
        Axes with the curves.
    figure_ : matplotlib Figure
        Figure containing the axes.

    See Also
    --------
    sklearn_isd.HybridScreenCV : The screen whose ``history_`` is drawn.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_isd.plotting import ScreenDisplay
    >>> history = {
    ...     "fraction_observed": [0.05, 0.10, 0.15],
    ...     "batch_score": [float("nan"), 0.90, 1.00],
    ...     "system_lower_bound": [0.05, 0.80, 0.96],
    ... }
    >>> display = ScreenDisplay(history=history, target=0.95,
    ...                         termination_condition="target_reached")
    >>> display.plot()
    <...>
    >>> sorted(display.lines_)
    ['batch_score', 'system_lower_bound']
    >>> plt.show()
    """

    def __init__(self, *, history, target=None, termination_condition=None, label=None):
        self.history = history
        self.target = target
        self.termination_condition = termination_condition
        self.label = label

    # ------------------------------------------------------------------
    # Constructors
    # ------------------------------------------------------------------
    @classmethod
    def from_estimator(cls, screen, *, ax=None, label=None, metrics=None, **kwargs):
        """Plot the rounds of a fitted :class:`~sklearn_isd.HybridScreenCV`.

        Only public fitted attributes are read: ``history_``,
        ``termination_condition_``, ``n_iter_``, and the ``target``
        parameter.

        Parameters
        ----------
        screen : HybridScreenCV
            A fitted screen (by ``fit``, or by ``ask``/``tell``).
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure and axes. Pass the
            ``ax_`` of another display to overlay screens.
        label : str or None, default=None
            Name of the screen in the legend.
        metrics : str, list of str or None, default=None
            History keys to draw; see :meth:`plot`.
        **kwargs : dict
            Passed to :meth:`plot`: ``show_target``, ``show_stop``, and
            matplotlib keyword arguments for the curves.

        Returns
        -------
        display : ScreenDisplay
            The display, with ``ax_``, ``figure_`` and ``lines_`` set.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the screen is not fitted.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sklearn.datasets import make_classification
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn_isd import HybridScreenCV
        >>> from sklearn_isd.plotting import ScreenDisplay
        >>> X, y = make_classification(n_samples=600, random_state=0)
        >>> screens = {
        ...     name: HybridScreenCV(LogisticRegression(), acquisition=acq,
        ...                          batch_size=30, random_state=0).fit(X, y)
        ...     for name, acq in [("least confidence", "least_confidence"),
        ...                       ("random", "random")]
        ... }
        >>> display = ScreenDisplay.from_estimator(
        ...     screens["least confidence"], label="least confidence")
        >>> display = ScreenDisplay.from_estimator(
        ...     screens["random"], ax=display.ax_, label="random")
        >>> plt.show()
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(screen)
        if not hasattr(screen, "history_"):
            raise TypeError(
                f"{cls.__name__}.from_estimator expects a fitted HybridScreenCV "
                f"(with a history_ attribute); got {type(screen).__name__}."
            )
        history = {key: np.array(values) for key, values in screen.history_.items()}
        n_rounds = len(history.get(X_KEY, ()))
        n_iter = getattr(screen, "n_iter_", n_rounds)
        if n_iter != n_rounds:
            warnings.warn(
                f"The screen acquired {n_iter} batches but its history_ records "
                f"{n_rounds} (the refit after the last batch has not succeeded "
                "yet); the plot shows the recorded rounds.",
                UserWarning,
                stacklevel=2,
            )
        display = cls(
            history=history,
            target=getattr(screen, "target", None),
            termination_condition=getattr(screen, "termination_condition_", None),
            label=label,
        )
        return display.plot(ax=ax, metrics=metrics, **kwargs)

    @classmethod
    def from_history(
        cls,
        history,
        *,
        target=None,
        termination_condition=None,
        label=None,
        ax=None,
        metrics=None,
        **kwargs,
    ):
        """Plot a saved history of a screen, without the screen.

        Parameters
        ----------
        history : dict of array-like or pandas.DataFrame
            A ``HybridScreenCV.history_`` (or a copy loaded from disk); it
            needs ``fraction_observed``.
        target : float or None, default=None
            The screen's target, drawn as a horizontal line.
        termination_condition : str or None, default=None
            Why the screen stopped; ``"target_reached"`` marks the stop.
        label : str or None, default=None
            Name of the screen in the legend.
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure and axes.
        metrics : str, list of str or None, default=None
            History keys to draw; see :meth:`plot`.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : ScreenDisplay
            The display, with ``ax_``, ``figure_`` and ``lines_`` set.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sklearn_isd.plotting import ScreenDisplay
        >>> history = {
        ...     "fraction_observed": [0.05, 0.10, 0.15],
        ...     "system_lower_bound": [0.05, 0.80, 0.96],
        ...     "system_score": [0.85, 0.95, 0.99],
        ... }
        >>> display = ScreenDisplay.from_history(
        ...     history, target=0.95, termination_condition="target_reached",
        ...     label="saved screen")
        >>> float(display.stop_line_.get_xdata()[0])
        0.15
        >>> plt.show()
        """
        check_matplotlib_support(f"{cls.__name__}.from_history")
        display = cls(
            history=history,
            target=target,
            termination_condition=termination_condition,
            label=label,
        )
        return display.plot(ax=ax, metrics=metrics, **kwargs)

    # ------------------------------------------------------------------
    # Drawing
    # ------------------------------------------------------------------
    def _validated_history(self):
        history = self.history
        if not (isinstance(history, Mapping) or hasattr(history, "items")):
            raise TypeError(
                "history must be a dict of 1-d arrays (HybridScreenCV.history_) "
                f"or a DataFrame of it; got {type(history).__name__}."
            )
        history = {key: np.asarray(values) for key, values in history.items()}
        if X_KEY not in history:
            raise ValueError(
                f"history has no {X_KEY!r} entry (the x axis); it has "
                f"{sorted(history)}."
            )
        lengths = {key: values.shape for key, values in history.items()}
        n = history[X_KEY].shape
        if len(n) != 1 or any(shape != n for shape in lengths.values()):
            raise ValueError(
                "history must hold 1-d arrays of equal length, one entry per "
                f"round; got shapes {lengths}."
            )
        if n[0] == 0:
            raise ValueError("history is empty: the screen recorded no round yet.")
        return history

    def _resolve_metrics(self, history, metrics):
        available = sorted(key for key in history if key != X_KEY)
        if metrics is None:
            metrics = [
                key
                for key in DEFAULT_METRICS
                if key in history and not np.all(np.isnan(_as_float(history[key])))
            ]
            if not metrics:
                raise ValueError(
                    f"The history has none of the default metrics "
                    f"{list(DEFAULT_METRICS)} with a value; pass metrics=... among "
                    f"the available keys {available}."
                )
            return metrics
        if isinstance(metrics, str):
            metrics = [metrics]
        metrics = list(dict.fromkeys(metrics))
        if not metrics:
            raise ValueError(
                f"metrics is empty; pass None or some of the history keys {available}."
            )
        unknown = [key for key in metrics if key not in available]
        if unknown:
            raise ValueError(
                f"Unknown metrics {unknown}: the history has no such entry. "
                f"Available keys: {available}."
            )
        return metrics

    def plot(
        self, ax=None, *, metrics=None, show_target=True, show_stop=True, **kwargs
    ):
        """Plot the rounds of the screen.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure and axes. Drawing several
            displays on the same axes overlays them, with a shared legend.
        metrics : str, list of str or None, default=None
            History keys to draw against ``fraction_observed``. None draws
            ``system_lower_bound`` (the KL bound), ``batch_score``, and, when
            present (simulations), the true ``system_score`` and
            ``inference_score``, leaving out those that are NaN in every
            round. A key missing from the history raises a ValueError that
            lists the available keys.
        show_target : bool, default=True
            Draw a horizontal line at ``target`` (when it is not None).
        show_stop : bool, default=True
            Draw a vertical line at the last round when
            ``termination_condition`` is ``"target_reached"``, and one at the
            first round in which the true ``system_score`` was at least
            ``target`` (when the history has it).
        **kwargs : dict
            Keyword arguments passed to matplotlib's ``plot`` for every
            curve; they override the defaults (e.g. ``color``).

        Returns
        -------
        display : ScreenDisplay
            This display, with ``ax_``, ``figure_``, ``lines_``,
            ``target_line_``, ``stop_line_`` and ``true_reached_line_`` set.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sklearn_isd.plotting import ScreenDisplay
        >>> history = {"fraction_observed": [0.1, 0.2],
        ...            "system_lower_bound": [0.7, 0.96]}
        >>> display = ScreenDisplay(history=history, target=0.95).plot(
        ...     show_target=False, color="tab:green")
        >>> display.target_line_ is None
        True
        >>> plt.show()
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        history = self._validated_history()
        keys = self._resolve_metrics(history, metrics)

        if ax is None:
            # Wide enough for the legend, drawn beside the axes.
            _, ax = plt.subplots(figsize=(9.0, 4.8), layout="constrained")
        self.ax_ = ax
        self.figure_ = ax.figure

        x = _as_float(history[X_KEY])
        prefix = "" if self.label is None else f"{self.label}: "
        color = self._plot_curves(ax, x, history, keys, prefix, kwargs)
        marker_color = color if color is not None else "0.3"
        self.target_line_ = None
        if show_target and self.target is not None:
            self.target_line_ = self._plot_target(ax)
        self.stop_line_ = None
        self.true_reached_line_ = None
        if show_stop:
            self._plot_stops(ax, x, history, prefix, marker_color)
        _format_axes(ax)
        return self

    def _plot_curves(self, ax, x, history, keys, prefix, kwargs):
        """One curve per metric in ``lines_``; returns the color of this screen."""
        color = kwargs.get("color")
        self.lines_ = {}
        for key in keys:
            name, style = _METRIC_STYLES.get(key, (_metric_name(key), _OTHER_STYLE))
            line_kw = {**style, "label": prefix + name}
            if color is not None:
                line_kw["color"] = color
            line_kw.update(kwargs)
            (line,) = ax.plot(x, _as_float(history[key]), **line_kw)
            # The first curve takes the next color of the axes' cycle; the
            # other curves of this screen (and its markers) keep it.
            color = line.get_color() if color is None else color
            self.lines_[key] = line
        return color

    def _plot_target(self, ax):
        """The horizontal line at ``target``, labelled once per axes."""
        target_label = f"target = {self.target:g}"
        existing = {artist.get_label() for artist in ax.get_lines()}
        return ax.axhline(
            self.target,
            color="0.2",
            linestyle="--",
            linewidth=1,
            label=target_label if target_label not in existing else "_target",
        )

    def _plot_stops(self, ax, x, history, prefix, color):
        """Vertical lines at the stop and where the true score reached target."""
        if self.termination_condition == "target_reached":
            self.stop_line_ = ax.axvline(
                x[-1],
                color=color,
                linestyle="-",
                linewidth=1,
                alpha=0.7,
                label=f"{prefix}stop (bound reached target)",
            )
        if self.target is not None and "system_score" in history:
            reached = np.flatnonzero(_as_float(history["system_score"]) >= self.target)
            if reached.size:
                self.true_reached_line_ = ax.axvline(
                    x[reached[0]],
                    color=color,
                    linestyle=":",
                    linewidth=1.5,
                    label=f"{prefix}true system score reached target",
                )


def _format_axes(ax):
    """Axis labels, the x axis in percent from 0, the legend beside the axes."""
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set(xlabel="labels spent (% of the library)", ylabel="score")
    ax.set_xlim(left=0.0, auto=True)  # the x axis starts at no label spent
    if ax.get_legend_handles_labels()[0]:
        # Outside the axes: with a few screens overlaid, the legend would
        # hide the curves.
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0.0,
            fontsize="small",
        )


def _as_float(values):
    """A history column as floats, with None (e.g. from JSON) as NaN."""
    return np.asarray(values, dtype=float)
