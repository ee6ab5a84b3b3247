# Sourced by bin/train and train/lease.sh: the one home of how a packed training list weighs
# its corpora (docs/training.md, "Training on a borrowed GPU machine").
#   packed_list PACK CORPUS...   prints each corpus's train.jsonl under PACK, then every
#                                corpus's train.short.jsonl twice (short utterances three times)
packed_list() {
    local pack=$1 corpus
    shift
    for corpus in "$@"; do printf '%s ' "$pack/$corpus/train.jsonl"; done
    for corpus in "$@" "$@"; do printf '%s ' "$pack/$corpus/train.short.jsonl"; done
}
