#!/usr/bin/env bash
# Run one launch/ command on every worker of a TPU pod (each process calls jax.distributed.initialize()).
#   usage: tpu_scripts/run.sh NAME ZONE -- python -m launch.train --config configs/train/<name>.py --workdir gs://BUCKET/run
# Logs go to ~/dexvlg_run.log on each worker; `tail` worker 0 with: tpu_scripts/run.sh NAME ZONE -- tail -f ~/dexvlg_run.log
set -euo pipefail
NAME=${1:?TPU name}; ZONE=${2:?zone}; shift 2
[ "${1:-}" = "--" ] && shift
CMD="$*"
gcloud compute tpus tpu-vm ssh "$NAME" --zone="$ZONE" --worker=all --command "cd ~/dexvlg_jax && nohup $CMD > ~/dexvlg_run.log 2>&1 &"
