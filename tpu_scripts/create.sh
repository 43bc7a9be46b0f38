#!/usr/bin/env bash
# Create a TPU VM or pod slice.
#   usage: tpu_scripts/create.sh NAME ZONE ACCELERATOR_TYPE [RUNTIME_VERSION]
#   e.g.   tpu_scripts/create.sh dexvlg-v4-32 us-central2-b v4-32
#          EXTRA_FLAGS="--spot" tpu_scripts/create.sh dexvlg-v5p-32 us-east5-a v5p-32 v2-alpha-tpuv5
# EXTRA_FLAGS is split on spaces and passed to `gcloud compute tpus tpu-vm create` (e.g. --spot, --preemptible,
# --network=...). Training resumes from its last checkpoint after a preemption: rerun tpu_scripts/run.sh.
set -euo pipefail
NAME=${1:?TPU name}
ZONE=${2:?zone}
TYPE=${3:?accelerator type, e.g. v4-8, v4-32, v5p-32 or v5litepod-16}
VERSION=${4:-tpu-ubuntu2204-base}
read -r -a EXTRA <<< "${EXTRA_FLAGS:-}"
gcloud compute tpus tpu-vm create "$NAME" --zone="$ZONE" --accelerator-type="$TYPE" --version="$VERSION" \
  "${EXTRA[@]}"
