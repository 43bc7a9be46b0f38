#!/usr/bin/env bash
# Prepare a wheel folder for a bare GPU machine without internet that has Python 3.12, jax[cuda], flax, optax,
# orbax-checkpoint, numpy and scipy, but none of the packages below (what `python -m launch.benchmark accelerator`
# imports beyond those). Run it on a machine with PyPI access; then carry OUTDIR to the GPU machine and run
# tpu_scripts/wheels_install.sh OUTDIR there.
#   usage: tpu_scripts/wheels_prepare.sh OUTDIR            (e.g. accelerator/wheels: ignored by git)
# Versions: each package is pinned to the version installed where this runs (the one the tests passed with), else
# the newest. Total must stay within 64 MiB (the GPU machine's carry limit): ~48 MiB (50.4 MB) with the list below.
#
# MuJoCo Warp (impl="warp") is NOT included: warp-lang's manylinux wheel is ~149 MB (mujoco-warp itself ~2.5 MB),
# more than twice the 64 MiB limit, so the benchmark measures MJX with impl="jax" and records warp as skipped.
#
# trimesh + manifold3d are needed at import time (dexvlg_jax.objects, dexvlg_jax.render); coacd only to process
# objects (kept, 2.6 MB, as a fallback: run `python -m launch.benchmark accelerator --prepare --out DIR` on the CPU
# machine first so that the GPU run finds the processed objects cached in DIR/objects and never runs coacd).
set -euo pipefail
OUT=${1:?usage: tpu_scripts/wheels_prepare.sh OUTDIR}
PYVER=${PYVER:-3.12}
PYTHON=${PYTHON:-python}
PACKAGES=(
  mujoco mujoco-core mujoco-studio websockets glfw pyopengl   # C MuJoCo (sim backend "c", scene compilation)
  mujoco-mjx                                                  # MJX (pure Python)
  trimesh manifold3d coacd                                    # objects / render (trimesh: mjx needs it too)
  jaxtyping wadler-lindig                                     # shape annotations throughout
  ml-collections                                              # configs/eval/sim.py
  grain array-record portpicker psutil cloudpickle tqdm       # dexvlg_jax.train imports its input pipeline
  pillow                                                      # configs/eval/sim.py -> dexvlg_jax.eval -> viz
)
mkdir -p "$OUT"
SPECS=()
for p in "${PACKAGES[@]}"; do
  v=$("$PYTHON" -m pip show "$p" 2>/dev/null | sed -n 's/^Version: //p' || true)
  SPECS+=("${p}${v:+==$v}")
done
echo "downloading: ${SPECS[*]}"
"$PYTHON" -m pip download --quiet --only-binary=:all: --no-deps --python-version "$PYVER" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
  -d "$OUT" "${SPECS[@]}"
ls -la "$OUT"
TOTAL=$(du -sb "$OUT" | cut -f1)
echo "total: $TOTAL bytes ($(du -sh "$OUT" | cut -f1)) in $(ls "$OUT"/*.whl | wc -l) wheels"
if [ "$TOTAL" -gt $((64 * 1024 * 1024)) ]; then
  echo "ERROR: the wheel folder exceeds 64 MiB" >&2
  exit 1
fi
