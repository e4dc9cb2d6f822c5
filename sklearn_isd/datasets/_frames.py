"""What the loaders share to return pandas objects (``as_frame=True``)."""


def import_pandas(option):
    """The pandas module, or an ImportError saying that ``option`` needs it."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            f"{option} needs pandas: `pip install sklearn-isd[data]`."
        ) from exc
    return pd
