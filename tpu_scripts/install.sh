#!/usr/bin/env bash
# Install the project on every worker of a TPU VM / pod from a git URL.
#   usage: tpu_scripts/install.sh NAME ZONE REPO_URL [BRANCH]
# Each worker gets a fresh clone in ~/dexvlg_jax, jax[tpu] and the package (editable); the last line prints
# "process_index device_count" per worker as a check (device_count is the whole slice's chip count).
set -euo pipefail
NAME=${1:?TPU name}
ZONE=${2:?zone}
REPO=${3:?git url of this repository}
BRANCH=${4:-main}
REMOTE=$(cat <<REMOTE_EOF
set -e
python3 -m pip install -U pip
rm -rf ~/dexvlg_jax
git clone -b $(printf '%q' "$BRANCH") $(printf '%q' "$REPO") ~/dexvlg_jax
python3 -m pip install -U 'jax[tpu]'
python3 -m pip install -e ~/dexvlg_jax
python3 -c 'import jax; print(jax.process_index(), jax.device_count())'
REMOTE_EOF
)
gcloud compute tpus tpu-vm ssh "$NAME" --zone="$ZONE" --worker=all --command "$REMOTE"
