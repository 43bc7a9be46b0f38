#!/usr/bin/env bash
# Create a TPU VM or pod slice.
#   usage: tpu_scripts/create.sh NAME ZONE ACCELERATOR_TYPE [RUNTIME_VERSION]
#   e.g.   tpu_scripts/create.sh dexvlg-v4-32 us-central2-b v4-32
# Add --spot or --preemptible through EXTRA_FLAGS; training resumes from its last checkpoint after preemption.
set -euo pipefail
NAME=${1:?TPU name}; ZONE=${2:?zone}; TYPE=${3:?accelerator type, e.g. v4-8 or v5litepod-16}
VERSION=${4:-tpu-ubuntu2204-base}
gcloud compute tpus tpu-vm create "$NAME" --zone="$ZONE" --accelerator-type="$TYPE" --version="$VERSION" ${EXTRA_FLAGS:-}
