#!/usr/bin/env bash
# Follow the log of a run started with tpu_scripts/run.sh.
#   usage: tpu_scripts/tail.sh NAME ZONE [WORKER] [LINES]
# WORKER defaults to 0 (the process that prints metrics and the progress bar); "all" prints every worker's
# last LINES lines once instead of following.
set -euo pipefail
NAME=${1:?TPU name}
ZONE=${2:?zone}
WORKER=${3:-0}
LINES=${4:-100}
if [ "$WORKER" = "all" ]; then
  gcloud compute tpus tpu-vm ssh "$NAME" --zone="$ZONE" --worker=all \
    --command "echo \"== \$(hostname)\"; tail -n $LINES ~/dexvlg_run.log"
else
  gcloud compute tpus tpu-vm ssh "$NAME" --zone="$ZONE" --worker="$WORKER" \
    --command "tail -n $LINES -f ~/dexvlg_run.log"
fi
