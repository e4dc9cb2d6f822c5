"""Confidence bounds on a Bernoulli mean: the paper's KL bound (Eq. 5) and its kin."""

import math
from numbers import Real

import numpy as np
from scipy.special import rel_entr

__all__ = ["bernoulli_kl", "clopper_pearson_lower_bound", "kl_lower_bound"]

_BISECTION_STEPS = 64


def bernoulli_kl(p, q):
    """Kullback-Leibler divergence ``KL(Bernoulli(p) || Bernoulli(q))``.

    Uses the conventions ``0 log 0 = 0`` and ``x log(x / 0) = inf`` for
    ``x > 0``, so it is exact at the edges ``p, q in {0, 1}``.

    Parameters
    ----------
    p, q : array-like of float in [0, 1]
        Success probabilities; broadcast against each other.

    Returns
    -------
    kl : ndarray or float
        The divergence in nats, ``>= 0``, ``inf`` where ``q`` puts zero mass
        on an outcome that ``p`` does not.

    Examples
    --------
    >>> from sklearn_isd.stopping import bernoulli_kl
    >>> float(bernoulli_kl(0.5, 0.5))
    0.0
    >>> round(float(bernoulli_kl(1.0, 0.5)), 6)
    0.693147
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    return rel_entr(p, q) + rel_entr(1.0 - p, 1.0 - q)


def clopper_pearson_lower_bound(mean, n, delta):
    """One-sided exact binomial (Clopper-Pearson) lower bound on a mean.

    For ``k = mean * n`` successes in ``n`` independent Bernoulli(``mu``)
    trials, returns the ``delta`` quantile of ``Beta(k, n - k + 1)``, so that
    ``P(mu < bound) <= delta``; 0 when ``k = 0``. Tighter than
    :func:`kl_lower_bound`, which relaxes the same binomial tail by the
    Chernoff inequality.

    Parameters
    ----------
    mean : array-like of float in [0, 1]
        Observed fractions of successes.
    n : array-like of int > 0
        Number of trials.
    delta : array-like of float in (0, 1)
        Probability that the bound fails.

    Returns
    -------
    bound : ndarray or float

    Examples
    --------
    >>> from sklearn_isd.stopping import clopper_pearson_lower_bound
    >>> round(clopper_pearson_lower_bound(1.0, 50, 0.05), 4)  # = 0.05 ** (1/50)
    0.9418
    """
    from scipy.stats import beta

    mean = np.asarray(mean, dtype=float)
    n = np.asarray(n, dtype=float)
    delta = np.asarray(delta, dtype=float)
    if np.any(~((mean >= 0) & (mean <= 1))) or np.any(~(n > 0)):
        raise ValueError("mean must lie in [0, 1] and n must be positive.")
    if np.any(~((delta > 0) & (delta < 1))):
        raise ValueError(f"delta must lie in the open interval (0, 1); got {delta!r}.")
    k = np.round(mean * n)
    bound = np.where(k > 0, beta.ppf(delta, np.maximum(k, 1), n - k + 1), 0.0)
    return float(bound) if bound.ndim == 0 else bound


def _kl_lower_bound_scalar(mean, n, delta):
    """kl_lower_bound for Python scalars: the same bisection without arrays.

    The stopping rules call the bound once per round; plain floats make that
    call about ten times cheaper than 0-d arrays.
    """
    if not 0.0 <= mean <= 1.0:
        raise ValueError(f"mean must lie in [0, 1]; got {mean!r}.")
    if not n > 0:
        raise ValueError(f"n must be positive; got {n!r}.")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must lie in the open interval (0, 1); got {delta!r}.")
    budget = math.log(1.0 / delta) / n
    if mean == 0.0:
        return 0.0

    def kl(q):
        out = mean * math.log(mean / q) if q > 0 else math.inf
        if mean < 1.0:
            out += (1.0 - mean) * math.log((1.0 - mean) / (1.0 - q))
        return out

    lo, hi = 0.0, mean
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if kl(mid) <= budget:
            hi = mid
        else:
            lo = mid
    return lo


def kl_lower_bound(mean, n, delta):
    """Lower confidence bound on a Bernoulli mean (paper Eq. 5).

    Returns ``alpha = min {a in [0, 1] : KL(mean, a) <= log(1 / delta) / n}``,
    the Chernoff (KL) lower bound: if ``mean`` is the average of ``n``
    independent Bernoulli(``mu``) draws, ``P(mu < alpha) <= delta``
    (Lattimore & Szepesvari 2020, p. 135).

    The bound is computed by bisection on ``[0, mean]``, where
    ``a -> KL(mean, a)`` decreases from ``KL(mean, 0)`` to 0, and the lower
    end of the final bracket is returned, so the result never exceeds the
    exact bound (width of the bracket below ``1e-15``). Edges are exact:
    ``mean = 0`` gives 0 and ``mean = 1`` gives ``delta ** (1 / n)``.

    Parameters
    ----------
    mean : array-like of float in [0, 1]
        Observed accuracies (fractions of successes).
    n : array-like of int or float > 0
        Number of trials behind each mean.
    delta : array-like of float in (0, 1)
        Probability that the bound fails.

    Returns
    -------
    alpha : ndarray or float
        The lower bounds, broadcast over the inputs; a float for scalar input.

    Raises
    ------
    ValueError
        If ``mean`` is outside [0, 1], ``n`` is not positive or ``delta`` is
        outside (0, 1).

    Examples
    --------
    >>> from sklearn_isd.stopping import kl_lower_bound
    >>> round(kl_lower_bound(1.0, 50, 0.05), 4)  # = 0.05 ** (1 / 50)
    0.9418
    >>> round(kl_lower_bound(0.9, 200, 0.05), 4)
    0.8403
    """
    if all(isinstance(v, Real) for v in (mean, n, delta)):
        return _kl_lower_bound_scalar(float(mean), float(n), float(delta))
    mean = np.asarray(mean, dtype=float)
    n = np.asarray(n, dtype=float)
    delta = np.asarray(delta, dtype=float)
    if np.any(~((mean >= 0) & (mean <= 1))):
        raise ValueError(f"mean must lie in [0, 1]; got {mean!r}.")
    if np.any(~(n > 0)):
        raise ValueError(f"n must be positive; got {n!r}.")
    if np.any(~((delta > 0) & (delta < 1))):
        raise ValueError(f"delta must lie in the open interval (0, 1); got {delta!r}.")
    mean, n, delta = np.broadcast_arrays(mean, n, delta)
    budget = np.log(1.0 / delta) / n
    lo = np.zeros(mean.shape)
    hi = mean.copy()
    # Invariant: KL(mean, hi) <= budget and, unless lo == 0, KL(mean, lo) > budget.
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        inside = bernoulli_kl(mean, mid) <= budget
        hi = np.where(inside, mid, hi)
        lo = np.where(inside, lo, mid)
    alpha = np.where(bernoulli_kl(mean, 0.0) <= budget, 0.0, lo)
    return float(alpha) if alpha.ndim == 0 else alpha
