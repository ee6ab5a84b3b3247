#!/usr/bin/env bash
# Install the Debian text-to-speech engines and English text packages that train/corpus draws on.
#
# Why: the synthetic training corpus needs many distinct voices and plenty of English text, and
# Debian ships both. Idempotent: only missing packages are installed, and it prints nothing when
# everything is already present. A package that cannot be installed is reported and skipped; the
# corpus then lacks those voices (train/corpus/voices.py detects what is installed).
#
# Licences (read from /usr/share/doc/<pkg>/copyright; verdicts in train/corpus/voices.py): MBROLA
# us1/us2/us3/en1 may be used to synthesise speech with mbrola, free of charge (not sold without
# permission); pico is Apache-2.0 (binary language files, redistributable); RHVoice alan/bdl/clb/slt
# are LGPL-2.1+. rhvoice-english also carries evgeniy-eng and lyubov (CC-BY-NC-ND-4.0): installed
# with the package but never used (voices.py leaves them out). A package whose licence forbids
# this use would go in SKIP_PACKAGES; none does. python3-torch (BSD-3-Clause, CPU only) runs
# Silero, the held-out evaluation engine (train/corpus/silero.py), under the system Python.
# wordnet-base (WordNet 3.0 licence: any use, notice kept) gives the evaluation sentences of
# train/corpus/wordnet.py.
set -u

SUITE=bookworm
CONTRIB_LIST=/etc/apt/sources.list.d/streamasr-contrib-non-free.sources

PACKAGES=(
    espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
    mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1
    libttspico-utils rhvoice rhvoice-english
    sox fortune-mod fortunes bible-kjv fillets-ng-data pocketsphinx-testdata alsa-utils
    codec2-examples klettres-data ktuberling-data asterisk-core-sounds-en-wav asterisk-core-sounds-en
    python3-torch wordnet-base
)
# Packages whose licence forbids training a speech recogniser with their output: none found so far.
SKIP_PACKAGES=()

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

is_skipped() {
    local p
    for p in "${SKIP_PACKAGES[@]+"${SKIP_PACKAGES[@]}"}"; do
        [ "$p" = "$1" ] && return 0
    done
    return 1
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_skipped "$pkg" && continue
    is_installed "$pkg" || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

echo "setup_tts: missing: ${missing[*]}"

# The mirror URL this machine already uses for bookworm main (deb822 or one-line format).
mirror_url() {
    local url=""
    if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
        url=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / '"$SUITE"'( |$)/ {print u; exit}' \
            /etc/apt/sources.list.d/*.sources 2>/dev/null)
    fi
    if [ -z "$url" ] && [ -f /etc/apt/sources.list ]; then
        url=$(awk '$1=="deb" && $3=="'"$SUITE"'" {print $2; exit}' /etc/apt/sources.list)
    fi
    echo "${url:-http://deb.debian.org/debian}"
}

contrib_enabled() {
    grep -rhsE "^[^#]*(Components:.*|deb .*$SUITE.*)contrib" \
        /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | grep -q non-free
}

if ! contrib_enabled; then
    url=$(mirror_url)
    echo "setup_tts: enabling contrib non-free from $url"
    $SUDO tee "$CONTRIB_LIST" >/dev/null <<EOF
Types: deb
URIs: $url
Suites: $SUITE $SUITE-updates
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "setup_tts: WARNING: apt-get update failed; trying anyway" >&2

APT_OPTS=(-y -qq --no-install-recommends)
if ! $SUDO apt-get install "${APT_OPTS[@]}" "${missing[@]}" >/dev/null 2>&1; then
    # One at a time, so that one uninstallable package does not block the others.
    for pkg in "${missing[@]}"; do
        if ! $SUDO apt-get install "${APT_OPTS[@]}" "$pkg" >/dev/null 2>&1; then
            echo "setup_tts: WARNING: could not install $pkg; the corpus will lack it" >&2
        fi
    done
fi

for pkg in "${missing[@]}"; do
    is_installed "$pkg" || echo "setup_tts: WARNING: $pkg is not installed" >&2
done
echo "setup_tts: done"
