"""Data sets and corruptions for hybrid-screen experiments.

- :func:`load_qm9`: QM9 SMILES with their HOMO-LUMO gap, as the paper's
  balanced classification task (gap above :data:`QM9_GAP_MEDIAN`) or as
  regression. A 10,000-molecule subset ships with the package; the full set
  is read from a local file or downloaded once into a cache.
- :func:`load_qm9_panel`: QM9 molecules x several binary properties (the gap
  and RDKit descriptors, median-split), a label matrix standing in for a
  compound x gene screen (matrix screens).
- :func:`load_mnist`: MNIST from OpenML, cached; offline it falls back to
  scikit-learn's digits with a warning.
- :func:`corrupt_labels` and :func:`crop_images`: the paper's noisy-label and
  partial-observability variants of image data sets (MNIST, digits).
"""

from ._corruptions import corrupt_labels, crop_images
from ._mnist import load_mnist
from ._panel import PANEL_PROPERTIES, load_qm9_panel
from ._qm9 import QM9_GAP_MEDIAN, load_qm9

__all__ = [
    "PANEL_PROPERTIES",
    "QM9_GAP_MEDIAN",
    "corrupt_labels",
    "crop_images",
    "load_mnist",
    "load_qm9",
    "load_qm9_panel",
]
