#!/bin/sh
# Builds a godwit Python plugin into a WebAssembly component with its manifest embedded.
#
#   sh build.sh PROJECT_DIR OUT_WASM
#
# PROJECT_DIR holds the plugin's app.py (which defines `WitWorld`, see the SDK's README)
# and its godwit-plugin.toml, whose `world = "..."` picks the WIT world to build.
#
# The toolchain (componentize-py, pinned in requirements.txt beside this script) is
# installed on first use into a virtualenv, by default `.venv` beside this script; set
# GODWIT_PYTHON_VENV to use another location (tests point it at a shared one). The install
# runs under `flock` on "$VENV.lock", so several builds started at once install it once,
# and none of them uses a half-done install.
#
# Other settings: PYTHON (default python3) makes the virtualenv; GODWIT (default godwit)
# is the godwit binary that embeds the manifest (`godwit plugin pack`).
set -eu

usage() {
    echo "usage: sh build.sh PROJECT_DIR OUT_WASM" >&2
    exit 2
}
[ $# -eq 2 ] || usage

SDK=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
PROJECT=$1
OUT=$2

MANIFEST=$PROJECT/godwit-plugin.toml
[ -f "$MANIFEST" ] || {
    echo "build.sh: $MANIFEST not found: PROJECT_DIR must hold the plugin's godwit-plugin.toml" >&2
    exit 1
}
[ -f "$PROJECT/app.py" ] || {
    echo "build.sh: $PROJECT/app.py not found: the plugin's code goes in app.py, which defines WitWorld" >&2
    exit 1
}
WORLD=$(sed -n 's/^[[:space:]]*world[[:space:]]*=[[:space:]]*"\([a-z-]*\)".*/\1/p' "$MANIFEST" | head -n 1)
case $WORLD in
    backfill | data-step | validator | notifier) ;;
    "")
        echo "build.sh: $MANIFEST has no world = \"...\" line in [plugin]: set it to backfill, data-step, validator or notifier" >&2
        exit 1
        ;;
    *)
        echo "build.sh: $MANIFEST says world = \"$WORLD\": use backfill, data-step, validator or notifier" >&2
        exit 1
        ;;
esac

if [ -d "$SDK/wit" ]; then
    WIT=$SDK/wit
elif [ -d "$SDK/../../wit" ]; then
    WIT=$(CDPATH= cd -- "$SDK/../../wit" && pwd)
else
    echo "build.sh: no WIT files: expected $SDK/wit (a vendored SDK) or $SDK/../../wit (the godwit repository)" >&2
    exit 1
fi

# The toolchain, installed once under a lock. `.ready` holds the requirements it was
# installed from and is written last: without it (or with other requirements) the
# virtualenv is incomplete or stale, and is made again.
VENV=${GODWIT_PYTHON_VENV:-$SDK/.venv}
PYTHON=${PYTHON:-python3}
REQUIREMENTS=$SDK/requirements.txt
WANT=$(grep -v '^[[:space:]]*#' "$REQUIREMENTS" | tr -d ' \r' | grep -v '^$' | tr '\n' ' ' | sed 's/ $//')
ready() {
    [ -f "$VENV/.ready" ] && [ "$(cat "$VENV/.ready")" = "$WANT" ] && [ -x "$VENV/bin/componentize-py" ]
}
if ! ready; then
    command -v flock >/dev/null 2>&1 || {
        echo "build.sh: flock not found: install util-linux" >&2
        exit 1
    }
    mkdir -p "$(dirname -- "$VENV")"
    (
        flock 9
        if ! ready; then
            command -v "$PYTHON" >/dev/null 2>&1 || {
                echo "build.sh: $PYTHON not found: install Python 3.9 or newer with venv and pip, or set PYTHON" >&2
                exit 1
            }
            echo "build.sh: installing $WANT into $VENV (once)" >&2
            rm -rf "$VENV"
            "$PYTHON" -m venv "$VENV" || {
                echo "build.sh: $PYTHON -m venv failed: install the venv module (e.g. apt-get install python3-venv)" >&2
                exit 1
            }
            "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" || {
                echo "build.sh: pip could not install $WANT: check the network or a pip index (pip config list)" >&2
                exit 1
            }
            printf '%s' "$WANT" >"$VENV/.ready"
        fi
    ) 9>"$VENV.lock"
fi

GODWIT=${GODWIT:-godwit}
command -v "$GODWIT" >/dev/null 2>&1 || {
    echo "build.sh: $GODWIT not found: put godwit on PATH or set GODWIT=/path/to/godwit (it embeds the manifest)" >&2
    exit 1
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/godwit-py-build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

# componentize-py bundles CPython and the modules app.py imports into one component,
# snapshotted after `import app`. It runs them from copies, so that the bytecode it
# writes lands in $TMP rather than in the project, which it sees without its output,
# toolchain and vendored SDK.
mkdir "$TMP/app" "$TMP/sdk"
(cd "$PROJECT" && tar -cf - --exclude=./.godwit-sdk --exclude=./dist --exclude=./.venv \
    --exclude=./node_modules --exclude=./.git --exclude=__pycache__ .) | tar -C "$TMP/app" -xf -
cp -Rp "$SDK/godwit" "$TMP/sdk/godwit"
find "$TMP/sdk" -name __pycache__ -prune -exec rm -rf {} +
# Its errors are Python tracebacks; a Rust backtrace under them only hides them.
if ! env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$VENV/bin/componentize-py" -d "$WIT" -w "$WORLD" \
    componentize -p "$TMP/app" -p "$TMP/sdk" app -o "$TMP/plugin.wasm" >"$TMP/componentize.log" 2>&1; then
    cat "$TMP/componentize.log" >&2
    if grep -q "has no attribute 'WitWorld'" "$TMP/componentize.log"; then
        echo "build.sh: app.py must end with \`WitWorld = godwit.export(YourPlugin)\`, YourPlugin subclassing the godwit base class of world $WORLD" >&2
    fi
    echo "build.sh: componentize-py could not build $PROJECT/app.py for world $WORLD (its output is above)" >&2
    exit 1
fi

mkdir -p "$(dirname -- "$OUT")"
"$GODWIT" plugin pack "$TMP/plugin.wasm" --manifest "$MANIFEST" -o "$OUT" >/dev/null
SIZE=$(wc -c <"$OUT" | tr -d ' ')
echo "built $OUT ($WORLD, $((SIZE / 1048576)) MiB)"
