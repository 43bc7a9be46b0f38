#!/usr/bin/env bash
# Run one launch/ command on every worker of a TPU VM / pod, in the background (each process calls
# jax.distributed.initialize() itself; the workdir should be a gs:// path all workers share).
#   usage: tpu_scripts/run.sh NAME ZONE -- python3 -m launch.train --config configs/train/paligemma_3b.py \
#              --workdir gs://BUCKET/runs/dexvlg_3b
# Output goes to ~/dexvlg_run.log on each worker (follow it with tpu_scripts/tail.sh), the process id to
# ~/dexvlg_run.pid (tpu_scripts/stop.sh sends it SIGTERM: the trainer saves a checkpoint and exits).
# Rerunning the same train command resumes from the newest checkpoint in the workdir.
set -euo pipefail
NAME=${1:?TPU name}
ZONE=${2:?zone}
shift 2
if [ "${1:-}" = "--" ]; then
  shift
fi
if [ "$#" -eq 0 ]; then
  echo "usage: $0 NAME ZONE -- COMMAND [ARGS...]" >&2
  exit 2
fi
CMD=$(printf '%q ' "$@")
gcloud compute tpus tpu-vm ssh "$NAME" --zone="$ZONE" --worker=all --command \
  "cd ~/dexvlg_jax && nohup $CMD > ~/dexvlg_run.log 2>&1 < /dev/null & echo \$! > ~/dexvlg_run.pid"
