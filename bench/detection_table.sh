#!/bin/bash
# detection_table.sh — the detection results table of docs/detection.md from trained checkpoints:
# each detector's checkpoint run over the test split by `deepc dettest` (the same numbers as
# `deepc deteval` on the results file), one markdown row per model with box AP@[.5:.95], AP50,
# AP75, mask AP and AP50 (Mask R-CNN) and the inference time per image.
#
#   bench/detection_table.sh [--data DIR] [--threads N] MODEL=CHECKPOINT ...
#   e.g. bench/detection_table.sh yolo_mini=/work/runs/yolo/best.safetensors \
#            faster_rcnn=/work/runs/frcnn/best.safetensors mask_rcnn=/work/runs/mask/best.safetensors
#
# Inference time is what dettest measures: the forward passes, decoding and NMS (and mask pasting),
# over batches, without reading the images; for fast_rcnn and rcnn the selective search is given
# separately and in total.  Run it on an otherwise idle machine: the times are wall clock.
set -euo pipefail
data=/work/detdata
threads=2
deepc=${DEEPC:-build/deepc}
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        *=*) break ;;
        *) echo "detection_table.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: detection_table.sh [--data DIR] [--threads N] MODEL=CHECKPOINT ..." >&2; exit 2; }
echo "| model | box AP@[.5:.95] | AP50 | AP75 | mask AP | mask AP50 | inference ms/image |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for pair in "$@"; do
    model=${pair%%=*}
    ckpt=${pair#*=}
    out=$(mktemp)
    "$deepc" dettest --checkpoint "$ckpt" --data "$data" --split test --threads "$threads" >"$out"
    box=$(grep '^AP@\[.5:.95\]' "$out" | head -1)
    mask=$(grep '^mask AP@\[.5:.95\]' "$out" | head -1 || true)
    ms=$(grep -E '^(selective search .*with it|inference) ' "$out" | tail -1 | grep -oE '[0-9.]+ ms per image' | tail -1)
    ap=$(echo "$box" | awk '{print $2}')
    ap50=$(echo "$box" | awk '{print $4}')
    ap75=$(echo "$box" | awk '{print $6}')
    map=-; map50=-
    if [ -n "$mask" ]; then
        map=$(echo "$mask" | awk '{print $3}')
        map50=$(echo "$mask" | awk '{print $5}')
    fi
    echo "| $model | $ap | $ap50 | $ap75 | $map | $map50 | ${ms% ms per image} |"
    rm -f "$out"
done
