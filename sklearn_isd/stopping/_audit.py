"""Exact upper bounds on the errors of a finite population from an audit.

An audit draws ``m`` units uniformly without replacement from the ``n``
units of an inference set and counts their wrong predictions. These
functions turn the counts into an upper confidence bound on the total number
of wrong predictions in the whole inference set that holds with probability
at least ``1 - delta`` whatever the model and its calibration: the
randomness is that of the draw, which the screen controls.

- One outcome per unit (items of a 1-d screen, or one output of a matrix
  screen): the count of wrong units in the sample is hypergeometric, and
  :func:`hypergeometric_upper_bound` inverts its distribution exactly.
- Several outcomes per unit (groups acquired together, or all the cells of a
  matrix screen pooled): :func:`betting_upper_bound` bounds the population
  total of a bounded variable by a betting martingale for sampling without
  replacement (Waudby-Smith & Ramdas, 2020).
"""

import math

import numpy as np
from scipy.stats import hypergeom, norm

__all__ = ["betting_upper_bound", "hypergeometric_upper_bound"]


def hypergeometric_upper_bound(n_wrong, n_drawn, n_population, delta):
    """Exact upper confidence bound on the wrong units of a population.

    ``n_drawn`` units drawn uniformly without replacement from
    ``n_population`` held ``n_wrong`` wrong ones; returns the largest ``K``
    (wrong units in the population) that such a draw does not reject at
    level ``delta``: ``P(X <= n_wrong | K) > delta`` for the hypergeometric
    ``X``. Then ``P(K_true > bound) <= delta``.

    Parameters
    ----------
    n_wrong, n_drawn, n_population : int
        Wrong units in the sample, sample size, population size
        (``0 <= n_wrong <= n_drawn <= n_population``).
    delta : float
        Probability that the bound fails, in (0, 1).

    Returns
    -------
    bound : int
        In ``[n_wrong, n_population - (n_drawn - n_wrong)]``.

    Examples
    --------
    >>> from sklearn_isd.stopping import hypergeometric_upper_bound
    >>> hypergeometric_upper_bound(0, 100, 1000, 0.05)  # rule of three, finite
    28
    >>> hypergeometric_upper_bound(5, 5, 10, 0.05)
    10
    """
    x, m, n = int(n_wrong), int(n_drawn), int(n_population)
    if not 0 <= x <= m <= n:
        raise ValueError(
            f"Need 0 <= n_wrong <= n_drawn <= n_population; got {x}, {m}, {n}."
        )
    if not 0 < delta < 1:
        raise ValueError(f"delta must lie in (0, 1); got {delta!r}.")
    lo, hi = x, n - (m - x)  # the bound lies in [lo, hi]; lo is never rejected
    if hypergeom.cdf(x, n, hi, m) > delta:
        return hi
    while hi - lo > 1:  # invariant: lo not rejected, hi rejected
        mid = (lo + hi) // 2
        if hypergeom.cdf(x, n, mid, m) > delta:
            lo = mid
        else:
            hi = mid
    return lo


def betting_upper_bound(values, n_population, delta):
    """Upper confidence bound on a population total, from a WoR sample in [0, 1].

    ``values`` are the sampled units' values, scaled to [0, 1] (e.g. a
    group's wrong cells over the largest group size), in the order they were
    drawn, uniformly without replacement from ``n_population`` units. The
    bound on the population mean is the smallest ``mu`` at which a
    nonnegative martingale betting that the mean is below ``mu`` has grown
    to ``1 / delta`` (Waudby-Smith & Ramdas, "Confidence sequences for
    sampling without replacement", NeurIPS 2020): by Ville's inequality it
    fails with probability at most ``delta``. Bets are the predictable
    plug-in ones tuned for the sample size; the remaining population's mean
    given the draws so far is used, which is what sampling without
    replacement gains.

    Parameters
    ----------
    values : array-like of float in [0, 1]
        The sampled values, in draw order.
    n_population : int
        Units in the population.
    delta : float
        Probability that the bound fails, in (0, 1).

    Returns
    -------
    bound : float
        Upper bound on the population *total* (mean times ``n_population``),
        at most ``n_population``.
    """
    x = np.asarray(values, dtype=float)
    n, m = int(n_population), x.size
    if m == 0:
        return float(n)
    if np.any((x < 0) | (x > 1)) or m > n:
        raise ValueError("values must lie in [0, 1], at most n_population of them.")
    taken = np.concatenate([[0.0], np.cumsum(x)[:-1]])
    t = np.arange(m)
    # Predictable estimates of the mean and variance from the draws so far.
    mean_hat = (0.5 + taken) / (t + 1)
    sq = np.concatenate([[0.0], np.cumsum((x - mean_hat) ** 2)[:-1]])
    var_hat = (0.25 + sq) / (t + 1)
    lam = np.sqrt(2 * math.log(1 / delta) / (m * var_hat))
    log_target = math.log(1 / delta)

    def log_wealth(mu):
        # Mean of the units not drawn yet if the population mean were mu.
        rest = (n * mu - taken) / (n - t)
        if np.any(rest < 0):  # mu is impossible given what was drawn
            return math.inf
        rest = np.minimum(rest, 1.0)
        bet = np.minimum(lam, 0.75 / np.maximum(1.0 - rest, 1e-12))
        return float(np.max(np.cumsum(np.log1p(bet * (rest - x)))))

    lo, hi = float(x.mean()) * m / n, 1.0
    if log_wealth(hi) < log_target:
        return float(n)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if log_wealth(mid) >= log_target:
            hi = mid
        else:
            lo = mid
    return min(float(n), hi * n)


def planned_margin(p, n_population, n_drawn, delta):
    """Normal approximation of the hypergeometric bound's margin (planning).

    ``bound - p * n_population`` for an audit of ``n_drawn`` units of a
    population whose error rate is ``p``: used to size audits, never to
    certify.
    """
    if n_drawn <= 0:
        return math.inf
    fpc = math.sqrt(max(n_population - n_drawn, 0) / max(n_population - 1, 1))
    z = norm.ppf(1 - delta)
    sd = math.sqrt(max(p * (1 - p), 1e-12) / n_drawn) * fpc
    # + the discreteness of a count: about z^2 / 2 units on the rate scale
    return n_population * (z * sd + z * z / (2 * n_drawn))
