#!/usr/bin/env bash
# Install the project on every worker of a TPU VM / pod from a git URL (or copy a checkout with scp first).
#   usage: tpu_scripts/install.sh NAME ZONE REPO_URL [BRANCH]
set -euo pipefail
NAME=${1:?TPU name}; ZONE=${2:?zone}; REPO=${3:?git url of this repository}; BRANCH=${4:-main}
gcloud compute tpus tpu-vm ssh "$NAME" --zone="$ZONE" --worker=all --command "
  set -e
  python3 -m pip install -U pip
  rm -rf ~/dexvlg_jax && git clone -b $BRANCH $REPO ~/dexvlg_jax
  python3 -m pip install -U 'jax[tpu]'
  python3 -m pip install -e ~/dexvlg_jax
  python3 -c 'import jax; print(jax.process_index(), jax.device_count())'
"
