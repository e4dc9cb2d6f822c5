"""MNIST through OpenML, with a cache and an offline fallback to digits."""

import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import fetch_openml, get_data_home, load_digits
from sklearn.utils import Bunch

from ..utils._files import atomic_write
from ._frames import import_pandas

__all__ = ["load_mnist"]

MNIST_OPENML_NAME = "mnist_784"
MNIST_OPENML_VERSION = 1
MNIST_IMAGE_SHAPE = (28, 28)
DIGITS_IMAGE_SHAPE = (8, 8)

_CACHE_FILE = "mnist_784.npz"

_DESCR = """\
.. _mnist_dataset:

MNIST handwritten digits
------------------------

70,000 grey-scale images of handwritten digits, 28 x 28 pixels, fetched from
OpenML (``mnist_784``, version 1). Rows 0-59,999 are the original training
set and rows 60,000-69,999 the original test set; the paper's MNIST
experiments screen the training set and split the test set in halves for
early stopping and held-out evaluation.

**Data Set Characteristics:**

=================  ==============================================
Samples            70,000 (60,000 train + 10,000 test, in order)
Features           784 pixels (28 x 28, row-major), 0-255
Classes            10 (digits 0-9)
=================  ==============================================

.. rubric:: References

- Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based learning
  applied to document recognition. Proceedings of the IEEE 86(11),
  2278-2324 (1998).
"""


def _cache_path(data_home):
    return Path(get_data_home(data_home)) / "mnist" / _CACHE_FILE


def _read_cache(path):
    with np.load(path, allow_pickle=False) as npz:
        return npz["data"].astype(np.float64), npz["target"].astype(np.int64)


def _write_cache(path, data, target):
    """Write pixels and labels as a compressed .npz, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(
        path,
        lambda handle: np.savez_compressed(
            handle, data=data.astype(np.uint8), target=target.astype(np.uint8)
        ),
        binary=True,
    )


def _fetch(data_home, cache_path):
    """Fetch MNIST from OpenML (or sklearn's OpenML cache) and cache it."""
    mnist = fetch_openml(
        MNIST_OPENML_NAME,
        version=MNIST_OPENML_VERSION,
        data_home=data_home,
        cache=True,
        as_frame=False,
        parser="liac-arff",
    )
    data = np.asarray(mnist.data, dtype=np.float64)
    target = np.asarray(mnist.target).astype(np.int64)
    try:
        _write_cache(cache_path, data, target)
    except OSError as exc:  # a read-only data_home must not lose the data
        warnings.warn(
            f"MNIST was fetched but could not be cached at {cache_path} ({exc}).",
            UserWarning,
            stacklevel=3,
        )
    return data, target


def _how_to_get_mnist(cache_path):
    return (
        "To get MNIST, run sklearn_isd.datasets.load_mnist() once with internet "
        f"access: it fetches '{MNIST_OPENML_NAME}' from OpenML "
        f"(https://www.openml.org/d/554) and caches it at {cache_path}. On a "
        "machine without internet access, copy that file (or the 'openml' "
        "folder of a scikit-learn data home where fetch_openml('mnist_784', "
        "version=1) has run) into the same place, or pass data_home= pointing "
        "to a copy."
    )


def _bunch(data, target, *, image_shape, source, feature_names, descr, as_frame):
    frame = None
    if as_frame:
        pd = import_pandas("as_frame=True")
        frame = pd.DataFrame(data, columns=feature_names)
        frame["target"] = target
        data = frame[feature_names]
        target = frame["target"]
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        images=np.asarray(data, dtype=np.float64).reshape(-1, *image_shape),
        image_shape=image_shape,
        feature_names=feature_names,
        target_names=np.arange(10),
        source=source,
        DESCR=descr,
    )


def load_mnist(
    *,
    data_home=None,
    as_frame=False,
    return_X_y=False,
    download_if_missing=True,
    fallback=True,
):
    """Load MNIST (OpenML ``mnist_784``), or scikit-learn's digits offline.

    =================  =====================================================
    Samples total      70,000 (MNIST: 60,000 train then 10,000 test);
                       1,797 (digits fallback)
    Features           784 pixels, 28 x 28, values 0-255 (MNIST);
                       64 pixels, 8 x 8, values 0-16 (digits)
    Classes            10 (digits 0-9)
    =================  =====================================================

    MNIST is read from a cache, ``get_data_home(data_home)/mnist/
    mnist_784.npz``, written by the first successful call. Without it, the
    data is fetched with :func:`sklearn.datasets.fetch_openml` (``"mnist_784"``,
    version 1), which reuses scikit-learn's own OpenML cache in ``data_home``
    when it holds the data set and downloads it (about 15 MB) otherwise.

    **Offline fallback.** When MNIST can be neither read from the cache nor
    fetched (no internet access, or ``download_if_missing=False`` without a
    cache) and ``fallback`` is True, a :class:`UserWarning` says so and the
    function returns :func:`sklearn.datasets.load_digits` instead: 1,797
    digits of 8 x 8 pixels (values 0 to 16), in the same format. Check
    ``source`` (``"mnist_784"`` or ``"digits"``) or ``image_shape`` to tell
    which one you got, or pass ``fallback=False`` to get an error instead.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder of the caches; see :func:`sklearn.datasets.get_data_home`.

    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame (one column per pixel),
        ``target`` a pandas Series and ``frame`` a DataFrame of both (needs
        pandas).

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    download_if_missing : bool, default=True
        If False, do not fetch MNIST when it is not in the cache: fall back
        to digits (``fallback=True``) or raise an :class:`OSError`.

    fallback : bool, default=True
        Whether to return the digits data set, with a warning, when MNIST is
        not available. If False, raise an :class:`OSError` that says how to
        get MNIST.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (n_samples, n_pixels) or DataFrame
            Flattened images, row-major, as float64.
        target : ndarray of int of shape (n_samples,) or Series
            The digit of each image.
        frame : DataFrame or None
            Only when ``as_frame=True``: pixels and target.
        images : ndarray of shape (n_samples, height, width)
            The images.
        image_shape : tuple of int
            ``(28, 28)`` for MNIST, ``(8, 8)`` for digits; pass it to
            :func:`~sklearn_isd.datasets.crop_images`.
        feature_names : list of str
            Pixel names.
        target_names : ndarray of shape (10,)
            The digits 0 to 9.
        source : str
            ``"mnist_784"``, or ``"digits"`` after a fallback.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True
        Pixels and digits.

    Raises
    ------
    OSError
        If MNIST is not available and ``fallback`` is False; the message says
        how to get it.

    Warns
    -----
    UserWarning
        When MNIST is not available and the digits data set is returned
        instead.

    See Also
    --------
    sklearn.datasets.load_digits : the 8 x 8 digits of the fallback.
    sklearn_isd.datasets.corrupt_labels : the paper's noisy labels.
    sklearn_isd.datasets.crop_images : the paper's partial observability.

    Examples
    --------
    >>> from sklearn_isd.datasets import load_mnist
    >>> mnist = load_mnist()  # doctest: +SKIP
    >>> mnist.source, mnist.image_shape, mnist.data.shape  # doctest: +SKIP
    ('mnist_784', (28, 28), (70000, 784))
    """
    cache_path = _cache_path(data_home)
    error = None
    if cache_path.exists():
        data, target = _read_cache(cache_path)
    elif download_if_missing:
        try:
            data, target = _fetch(data_home, cache_path)
        except (OSError, ValueError) as exc:  # URLError, timeouts, OpenMLError
            error = f"fetching it from OpenML failed: {exc!r}"
    else:
        error = f"it is not cached at {cache_path} and download_if_missing is False"

    if error is None:
        names = [f"pixel{i}" for i in range(1, data.shape[1] + 1)]
        bunch = _bunch(
            data,
            target,
            image_shape=MNIST_IMAGE_SHAPE,
            source=MNIST_OPENML_NAME,
            feature_names=names,
            descr=_DESCR,
            as_frame=as_frame,
        )
    elif not fallback:
        raise OSError(
            f"MNIST is not available: {error}. {_how_to_get_mnist(cache_path)}"
        )
    else:
        warnings.warn(
            f"MNIST is not available ({error}); returning scikit-learn's 8 x 8 "
            "digits data set (1,797 images, pixel values 0-16) instead. "
            "Pass fallback=False to raise an error. " + _how_to_get_mnist(cache_path),
            UserWarning,
            stacklevel=2,
        )
        digits = load_digits()
        bunch = _bunch(
            digits.data,
            digits.target.astype(np.int64),
            image_shape=DIGITS_IMAGE_SHAPE,
            source="digits",
            feature_names=list(digits.feature_names),
            descr=digits.DESCR,
            as_frame=as_frame,
        )
    if return_X_y:
        return bunch.data, bunch.target
    return bunch
