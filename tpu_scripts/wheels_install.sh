#!/usr/bin/env bash
# Install the packages of a folder made by tpu_scripts/wheels_prepare.sh, without internet, then this repository
# (editable, no dependency resolution). Run from anywhere; the repository is this script's parent folder.
#   usage: tpu_scripts/wheels_install.sh WHEELDIR
# Afterwards:  python -m launch.benchmark accelerator --out accelerator/out   (from the repository root)
set -euo pipefail
WHEELS=${1:?usage: tpu_scripts/wheels_install.sh WHEELDIR}
PYTHON=${PYTHON:-python}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Every wheel in the folder, by file: pip resolves their dependencies against the folder and what is installed.
"$PYTHON" -m pip install --no-index --find-links "$WHEELS" "$WHEELS"/*.whl
if "$PYTHON" -c "import setuptools" 2>/dev/null; then
  "$PYTHON" -m pip install --no-index --no-deps --no-build-isolation -e "$ROOT"
else
  echo "setuptools absent: not installing the repository; run the commands from $ROOT (its packages import from there)"
fi
"$PYTHON" - <<'PY'
import importlib.util
for name in ("jax", "flax", "optax", "mujoco", "mujoco.mjx", "trimesh", "manifold3d", "jaxtyping", "ml_collections",
             "grain", "tqdm", "warp", "mujoco_warp"):
    try:
        found = importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        found = False
    print(f"{name:15s} {'ok' if found else 'missing'}")
import jax
print("jax", jax.__version__, jax.devices())
PY
