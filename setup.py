"""Installs latens: query selection by sampling an auto-encoder's latent space."""

import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent

setup(
    name="latens",
    version="0.1.0",
    description=(
        "Choose which unlabeled images to label first by sampling an "
        "auto-encoder's latent space (reimplementation of Killeen, 'Query "
        "Selection based on Latent Space Sampling')."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["latens", "latens.*"]),
    package_data={"latens": ["_data/*.npz"]},
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        "tensorflow-datasets>=4.9",
        "numpy>=1.24",
        "scipy>=1.10",
        "matplotlib>=3.7",
        "absl-py>=1.4",
        "fastcluster>=1.2",
        "pillow>=10.0",
        "tqdm>=4.60",
    ],
    extras_require={
        "test": ["pytest>=7.0", "pytest-xdist>=3.0", "nbclient>=0.7", "nbformat>=5.7", "ipykernel>=6.0"],
    },
    entry_points={
        "console_scripts": ["latens-select=latens.select.cli:run"],
    },
)
