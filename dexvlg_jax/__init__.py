"""dexvlg_jax: JAX-native DexVLG (language-guided dexterous grasping with the LEAP Hand).

Stages, one subpackage each, data flowing one way:
geometry -> hand -> objects -> grasp -> sim -> render -> data -> models -> train -> viz.
Import the stage you need (e.g. `from dexvlg_jax import hand`); nothing heavy runs at import time.
"""
__version__ = "0.1.0"
