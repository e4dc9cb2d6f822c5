"""Corruptions that make hard examples, as in the paper's MNIST experiments."""

import math
from numbers import Real

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["corrupt_labels", "crop_images"]


def corrupt_labels(y, classes, *, random_state=None):
    """Shuffle the labels of the items of some classes among themselves.

    The paper's noisy labelling function (Figs. 2-4, "shuffled labels for 6,
    8 and 9 digits"): the items whose label is in ``classes`` receive a
    random permutation of their labels, so each of those classes keeps its
    size but its labels no longer follow the inputs. Other items are
    untouched.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels.

    classes : label or array-like of labels
        The classes whose labels are shuffled, e.g. ``[6, 8, 9]``. Classes
        absent from ``y`` are ignored.

    random_state : int, RandomState instance or None, default=None
        Seeds the permutation (see :term:`Glossary <random_state>`).

    Returns
    -------
    y_corrupted : ndarray of shape (n_samples,)
        A copy of ``y`` with the labels of the listed classes permuted;
        ``y`` itself is not modified.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_isd.datasets import corrupt_labels
    >>> y = np.array([0, 6, 8, 9, 1, 6, 9, 8])
    >>> y_noisy = corrupt_labels(y, [6, 8, 9], random_state=0)
    >>> bool((y_noisy[[0, 4]] == y[[0, 4]]).all())
    True
    >>> sorted(y_noisy[[1, 2, 3, 5, 6, 7]].tolist())
    [6, 6, 8, 8, 9, 9]
    """
    y_corrupted = np.array(y, copy=True)
    if y_corrupted.ndim != 1:
        raise ValueError(f"y must be 1-d, got an array of shape {y_corrupted.shape}.")
    rng = check_random_state(random_state)
    selected = np.flatnonzero(np.isin(y_corrupted, np.atleast_1d(classes)))
    y_corrupted[selected] = y_corrupted[rng.permutation(selected)]
    return y_corrupted


def crop_images(X, keep_fraction, *, image_shape=None):
    """Keep the top rows of each image and set the rest to zero.

    The paper's partial-observability setting (Fig. 3b, "the bottom two
    thirds of the images have been cropped out" is ``keep_fraction=1/3``).

    Parameters
    ----------
    X : array-like of shape (n_samples, height * width)
        Flattened images, row-major (as in ``load_digits().data`` or MNIST).

    keep_fraction : float in [0, 1]
        Fraction of the image rows to keep, from the top. The number of rows
        kept is ``round(keep_fraction * height)``.

    image_shape : tuple of (int, int), default=None
        ``(height, width)`` of the images. ``None`` assumes square images
        (``height = width = sqrt(n_features)``).

    Returns
    -------
    X_cropped : ndarray of shape (n_samples, height * width)
        A copy of ``X`` (same dtype) whose bottom rows are zero.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_isd.datasets import crop_images
    >>> X = np.ones((1, 9))
    >>> crop_images(X, 1 / 3).reshape(3, 3)
    array([[1., 1., 1.],
           [0., 0., 0.],
           [0., 0., 0.]])
    """
    X_cropped = np.array(X, copy=True)
    if X_cropped.ndim != 2:
        raise ValueError(
            "X must be 2-d of shape (n_samples, height * width), got shape "
            f"{X_cropped.shape}."
        )
    if (
        not isinstance(keep_fraction, Real)
        or isinstance(keep_fraction, bool)
        or not 0 <= keep_fraction <= 1
    ):
        raise ValueError(f"keep_fraction must be in [0, 1], got {keep_fraction!r}.")
    n_features = X_cropped.shape[1]
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"Cannot infer the image shape: {n_features} features is not a "
                "square number; pass image_shape=(height, width)."
            )
        height, width = side, side
    else:
        height, width = (int(v) for v in image_shape)
        if height * width != n_features:
            raise ValueError(
                f"image_shape={tuple(image_shape)} has {height * width} pixels "
                f"but X has {n_features} features."
            )
    n_keep = int(round(keep_fraction * height))
    X_cropped[:, n_keep * width :] = 0
    return X_cropped
