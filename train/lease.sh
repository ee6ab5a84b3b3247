#!/bin/bash
# One lease: three fine-tunes of the bundled model side by side on one GPU, all ending,
# exported, by END seconds after this script starts.
#   r256:   3x256 (the bundled shape), peak 2e-4
#   r384:   3x384 widened from the bundled model (train.widen), peak 2e-4
#   r384hi: the same 3x384 start, peak 4e-4 (the new units start from random draws)
# The script of the 2026-12-04 evening lease (docs/training.md), run on the device machine as
#   END=540 bash train/lease.sh   with carry/pack.zip (the packed corpora, zipped) and .whl
# carried; OUT is where the device tool collects the models and logs.
# Env: PY, OUT, END (seconds from start to the last export), TRAIN, VALID, RUNS, EXTRA,
# NOWHL=1 (run here, without installing the carried wheels).
set -u
PY=${PY:-python3}
END=${END:-555}
RUNS=${RUNS:-/tmp/runs}
T0=$(date +%s)
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
export XLA_PYTHON_CLIENT_MEM_FRACTION=0.28
if [ -d .whl ] && [ -z "${NOWHL:-}" ]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD
fi
nvidia-smi -L 2>/dev/null
[ -d carry/pack ] || $PY -m zipfile -e carry/pack.zip carry
P=carry/pack
source "$(dirname "${BASH_SOURCE[0]}")/packed_list.sh"
TRAIN=${TRAIN:-$(packed_list $P corpus kokoro_en fresh)}  # bin/train's stage 11 list
VALID=${VALID:-"$P/kokoro_en/valid_heldout_voices.jsonl $P/corpus/valid_heldout_voices.jsonl"}
COMMON="--minutes 60 --ema 0.999 --warmup-steps 200 --vtlp 0.1 --channel-eq 8
    --band-limit 0.3 --smooth-spectrum 0.3 --feature-cache $RUNS/features
    --train $TRAIN --valid $VALID ${EXTRA:-}"
mkdir -p "$RUNS" "$OUT"
NAMES="r256 r384 r384hi"
# The runs' logs and curves, without features, checkpoints or models, as one file in OUT.
save_logs() {
    tar czf "$OUT/.logs.tgz" -C "$RUNS" --exclude features --exclude '*.msgpack' \
        --exclude '*.streamasr' . 2> /dev/null && mv "$OUT/.logs.tgz" "$OUT/logs.tgz"
}
left() { awk -v e="$END" -v t0="$T0" -v now="$(date +%s)" 'BEGIN { printf "%.3f", (e - (now - t0)) / 60 }'; }

$PY -m train.widen streamasr/assets/default.streamasr "$RUNS/wide384.streamasr" \
    --rnn-hidden 384 > "$RUNS/widen.log" 2>&1 &
$PY -m train --workdir "$RUNS/r256" --init streamasr/assets/default.streamasr \
    --peak-lr 2e-4 --deadline "$(left)" --export "$OUT/r256.streamasr" $COMMON \
    > "$RUNS/r256.out" 2>&1 &
# The others start once the first has featurised the training list (the cache is shared).
until ls "$RUNS"/features 2> /dev/null | grep -v tmp | grep -q npz; do
    sleep 2
    if ! jobs %2 > /dev/null 2>&1; then echo "r256 ended early"; break; fi
done
wait %1
echo "features ready at $(( $(date +%s) - T0 )) s"
for run in r384:2e-4 r384hi:4e-4; do
    name=${run%%:*}
    $PY -m train --workdir "$RUNS/$name" --init "$RUNS/wide384.streamasr" \
        --peak-lr "${run#*:}" --deadline "$(left)" --export "$OUT/$name.streamasr" $COMMON \
        > "$RUNS/$name.out" 2>&1 &
done
# Insurance against a run that overruns the call: the model as of its last validation.
(
    while sleep 45; do
        for name in $NAMES; do
            f="$RUNS/$name/latest.streamasr"
            [ -f "$f" ] && cp "$f" "$OUT/.tmp" && mv "$OUT/.tmp" "$OUT/latest_$name.streamasr"
        done
        save_logs
    done
) &
copier=$!
wait $(jobs -p | grep -v "^$copier$")
kill $copier 2> /dev/null
wait $copier 2> /dev/null
rm -f "$OUT/.tmp" "$OUT/.logs.tgz"  # what the copier was writing when it was stopped
for name in $NAMES; do
    [ -f "$OUT/$name.streamasr" ] && rm -f "$OUT/latest_$name.streamasr"
    tail -c 2000 "$RUNS/$name.out" | tr '\r' '\n' | grep -v "^ *[0-9]*%" | tail -5
done
save_logs
ls -la "$OUT"
echo "done at $(( $(date +%s) - T0 )) s"
