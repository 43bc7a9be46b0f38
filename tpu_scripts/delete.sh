#!/usr/bin/env bash
# Delete a TPU VM / pod.   usage: tpu_scripts/delete.sh NAME ZONE
set -euo pipefail
gcloud compute tpus tpu-vm delete "${1:?TPU name}" --zone="${2:?zone}" --quiet
