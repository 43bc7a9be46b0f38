"""dexvlg_jax: a JAX-native reimplementation of DexVLG (language-guided dexterous grasping)."""
from setuptools import find_packages, setup

setup(
    name="dexvlg_jax",
    version="0.1.0",
    description="JAX reimplementation of DexVLG: data engine, PaliGemma + flow-matching grasp model, MJX evaluation",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["dexvlg_jax", "dexvlg_jax.*", "launch", "launch.*", "configs", "configs.*"]),
    package_data={"dexvlg_jax": ["hand/assets/*.xml", "data/assets/*"]},
    include_package_data=True,
    install_requires=[
        "jax>=0.4.35",
        "flax>=0.10",
        "optax>=0.2.4",
        "orbax-checkpoint>=0.11",
        "mujoco>=3.3",
        "mujoco-mjx>=3.3",
        "trimesh>=4.5",
        "charset-normalizer>=3",  # trimesh needs it to read OBJ files with non-UTF-8 comments (not its own dependency)
        "grain>=0.2.10",
        "array-record>=0.7",
        "ml-collections>=1.0",
        "coacd>=1.0.5",
        "manifold3d>=3.0",
        "point-cloud-utils>=0.34",  # watertightening: fast generalized winding numbers, closest points (libigl)
        "scipy>=1.13",
        "jaxtyping>=0.2.36",
        "tqdm>=4.66",
        "rtree>=1.3",
        "sentencepiece>=0.2",
        "numpy>=1.26",
        "pillow>=10",
        "matplotlib>=3.8",
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3.5", "nbclient>=0.10", "nbformat>=5.10", "ipykernel>=6.29"],
        # Independent references for cross-checks (CPU torch is enough).
        "oracle": ["torch>=2.4", "transformers>=4.46", "safetensors>=0.4"],
    },
    entry_points={"console_scripts": ["dexvlg=launch.cli:main"]},
)
