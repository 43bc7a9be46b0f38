#!/usr/bin/env bash
# Delete a TPU VM / pod (checkpoints on gs:// are kept).
#   usage: tpu_scripts/delete.sh NAME ZONE
set -euo pipefail
NAME=${1:?TPU name}
ZONE=${2:?zone}
gcloud compute tpus tpu-vm delete "$NAME" --zone="$ZONE" --quiet
