"""Command line of sklearn-isd: ``sklearn-isd`` or ``python -m sklearn_isd``."""

import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
