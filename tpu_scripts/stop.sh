#!/usr/bin/env bash
# Stop a run started with tpu_scripts/run.sh on every worker: SIGTERM to the recorded process, which makes the
# trainer save a checkpoint at the current step and exit (as on a preemption).
#   usage: tpu_scripts/stop.sh NAME ZONE
set -euo pipefail
NAME=${1:?TPU name}
ZONE=${2:?zone}
gcloud compute tpus tpu-vm ssh "$NAME" --zone="$ZONE" --worker=all \
  --command "if [ -f ~/dexvlg_run.pid ]; then kill -TERM \$(cat ~/dexvlg_run.pid) || true; fi"
