#!/usr/bin/env bash
# Train the bundled model's successor on a borrowed GPU machine in one call, inside its limits: one command of at most
# 10 minutes, no network, at most 8 files of 16 MiB back from $OUT. Prepared on a CPU; see the notes in README.md
# ("The bundled model").
#
# What travels: the repository, plus (named in the call's `carry`) data/emoji-32 (tools/render_emoji.py) and .whl/
# with the pure-Python wheels the machine lacks (diffusers, platformdirs, importlib_metadata):
#     python3 -m pip download --no-deps --only-binary=:all: -d .whl diffusers==0.42.1 platformdirs importlib_metadata
#     echo /.whl/ >> .git/info/exclude
# The call:   bash tools/gpu_train_emoji.sh [PRESET] [SECONDS] [TRAIN FLAGS...]   (defaults: large, 420), e.g.
#             bash tools/gpu_train_emoji.sh large 420 --batch-size 256 --lr 1e-3
# It measures the speed for a minute (PROBE_SECONDS), sizes a whole cosine schedule to the remaining SECONDS, trains,
# and packs the run (model, train_config.json, the last checkpoint's trainer_state.json, samples, log) as $OUT/run.tar,
# split into 15 MiB parts. Here: cat run.tar.part-* | tar x -C runs/ && python tools/bundle_model.py runs/emoji-32-gpu ...
set -euo pipefail
preset=${1:-large}
budget=${2:-420}
out=${OUT:-/tmp/gpu-out}
run=/tmp/runs/emoji-32-gpu
mkdir -p "$out" /tmp/runs

if ! python3 -c "import diffusers" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

train=(python3 -m ddpm_studio train data/emoji-32 --from-scratch "$preset" --config tools/emoji-32.train.json "${@:3}")

# the speed, measured: a minute of the same recipe, then stopped (SIGTERM checkpoints and exports first)
rm -rf /tmp/runs/probe
timeout --signal=TERM "${PROBE_SECONDS:-60}" "${train[@]}" --out /tmp/runs/probe --steps 100000 --checkpoint-every 100000 \
    --sample-every 100000 > /tmp/runs/probe.log 2>&1 || true
rate=$(grep -o '[0-9.]* img/s' /tmp/runs/probe.log | tail -1 | cut -d' ' -f1 || true)
if [ -z "$rate" ]; then
    echo "the probe measured no speed in ${PROBE_SECONDS:-60} s; its log:"; tail -20 /tmp/runs/probe.log; exit 1
fi
batch=$(python3 -c "import json; print(json.load(open('/tmp/runs/probe/train_config.json'))['batch_size'])")
steps=$(python3 -c "print(max(100, int($rate / $batch * $budget * 0.9)))")
echo "measured $rate img/s at batch $batch: $steps steps in about $budget s"

rm -rf "$run"
"${train[@]}" --out "$run" --steps "$steps" --checkpoint-every "$steps" --sample-every $((steps / 4 > 0 ? steps / 4 : 1)) \
    > "$run.log" 2>&1 || { tail -20 "$run.log"; exit 1; }
grep -v '^step' "$run.log" | tail -8
grep '^step' "$run.log" | tail -3

latest=$(ls -d "$run"/checkpoints/checkpoint-* | tail -1)
tar -C /tmp/runs -cf /tmp/runs/run.tar "emoji-32-gpu/model" "emoji-32-gpu/train_config.json" "emoji-32-gpu/samples" \
    "emoji-32-gpu/checkpoints/$(basename "$latest")/trainer_state.json" "emoji-32-gpu.log"
split -b 15M /tmp/runs/run.tar "$out/run.tar.part-"
ls -la "$out"
