"""latens: choose which unlabeled images to label first.

An auto-encoder maps every image to a low-dimensional code; a sampling
strategy over those codes picks the images to annotate. This package is also
the reference reimplementation of Killeen, "Query Selection based on Latent
Space Sampling".
"""

__version__ = "0.1.0"
