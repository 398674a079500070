#!/usr/bin/env bash
# Everything issue 11 measures on a GPU, in two calls that fit a lent machine's 10-minute limit.
#
#   bash benchmarks/gpu_session.sh speed  OUT   # gpu_speed.py: levers, CLI it/s  (~5 min)
#   bash benchmarks/gpu_session.sh adapt  OUT   # adapt sweep + a from-scratch teacher piece (~5 min)
#
# Inputs, in a git-ignored folder that travels with the repository (GPU=.gpu by default):
#   $GPU/train/      the noisy training photos (polyu-train-noisy, cut losslessly with jpegtran)
#   $GPU/labels/     their pseudo-labels: `hushframe label $GPU/train --teacher "$TEACHER" -o $GPU/labels`
#                    on a machine with PyAV (the GPU machine has none)
#   $GPU/student.safetensors   the deployed student (`hushframe import-weights ...1.00m-sidd.pth`)
#   $GPU/devA/       the selection split of the paired set (first 20 polyu-dev pairs): learning
#                    curves and the keep-the-better decision; the rest is measured afterwards, here
#   $GPU/scratch/    (optional) a from-scratch teacher run brought back from an earlier session
# Results go to OUT (at most 8 files come back): JSON, logs, the adapted students, the teacher checkpoint.
set -uo pipefail
mode=${1:?speed or adapt}; out=${2:?output folder}
GPU=${GPU:-.gpu}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python -m pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1 || python -m pip install -q --no-deps -e .
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader

if [ "$mode" = speed ]; then
  timeout ${SPEED_LIMIT:-270} python benchmarks/gpu_speed.py --data "$GPU/train" --steps 20 --cli-steps 200 --json "$out/gpu_speed.json" \
    2>&1 | tee "$out/speed.log"
  exit 0
fi

# adapt: three settings of the same command side by side (lr 1e-4 / 3e-5 with the anchor, 1e-4 without) (the GPU is shared, each ~1/4 of it),
# and one piece of a from-scratch teacher. Minutes are capped so the call ends in time.
runs=${RUNS:-/tmp/runs}
mkdir -p "$runs"
adapt() {  # name lr crop batch steps anchor
  timeout ${LIMIT:-450} python -m hushframe.toolkit.cli.main adapt "$GPU/train" -s "$GPU/student.safetensors" -t "labels:$GPU/labels" \
    --val "$GPU/devA" --pairs "$GPU/devA" --device cuda -o "$runs/$1" --lr "$2" --crop "$3" --batch "$4" \
    --distill-steps "$5" --anchor "$6" > "$runs/adapt-$1.log" 2>&1
}
adapt lr1e-4 1e-4 128 8 ${STEPS:-3000} 0.2 &
adapt lr3e-5 3e-5 128 8 ${STEPS:-3000} 0.2 &
adapt lr1e-4-a0 1e-4 128 8 ${STEPS:-3000} 0 &
if [ -d "$GPU/scratch" ]; then resume=--resume; cp -r "$GPU/scratch" "$runs/scratch"; else resume=; fi
python -m hushframe.toolkit.cli.main train "$GPU/train" -o "$runs/scratch" --recipe atbsn-sidd --device cuda \
  --val "$GPU/devA" --set teacher.max_minutes=${SCRATCH_MIN:-4} --set teacher.val_every=1000 --set teacher.val_images=20 \
  --set teacher.checkpoint_every=1000 --set teacher.compile=${SCRATCH_COMPILE:-false} $resume > "$runs/scratch.log" 2>&1 &
wait
for r in lr1e-4 lr3e-5 lr1e-4-a0; do
  cp "$runs/$r/student-adapted.safetensors" "$out/student-$r.safetensors" 2>/dev/null
  { echo "== $r"; cat "$runs/$r/distill-log.csv" 2>/dev/null; cat "$runs/$r/adapt-report.json" 2>/dev/null; echo; } >> "$out/adapt-curves.txt"
  { echo "== $r"; tail -c 4000 "$runs/adapt-$r.log"; } >> "$out/logs.txt"
done
{ echo "== scratch"; cat "$runs/scratch/teacher-log.csv" 2>/dev/null; } >> "$out/adapt-curves.txt"
{ echo "== scratch"; tail -c 4000 "$runs/scratch.log"; } >> "$out/logs.txt"
# Only the newest checkpoint travels back (a file may be at most 16 MiB).
latest=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['dir'])" "$runs/scratch/checkpoints/teacher/latest.json" 2>/dev/null)
[ -n "$latest" ] && tar -C "$runs" -cf "$out/scratch.tar" "scratch/checkpoints/teacher/$latest" scratch/checkpoints/teacher/latest.json scratch/teacher-log.csv
ls -la "$out"
