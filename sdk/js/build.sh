#!/bin/sh
# Build a godwit JavaScript plugin into a WebAssembly component.
#
#   sh build.sh PROJECT_DIR OUT_WASM
#
# PROJECT_DIR holds the plugin's entry module (app.js, or app.ts) and its
# godwit-plugin.toml, whose `world = "..."` line names the world to build. The entry is
# bundled with this SDK (godwit.js) by esbuild, turned into a component by
# componentize-js, and the manifest is embedded with `godwit plugin pack`.
#
# Environment:
#   GODWIT_JS_TOOLCHAIN  where the pinned toolchain (esbuild, componentize-js) is installed
#                        with npm from this SDK's package-lock.json on first use;
#                        default: .toolchain beside this script. Several builds at once
#                        install it only once (flock).
#   GODWIT               the godwit binary used for `plugin pack` (default: godwit on PATH).
#   NPM                  the npm binary (default: npm on PATH).
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: sh build.sh PROJECT_DIR OUT_WASM" >&2
    exit 2
fi

SDK=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$1" && pwd)
OUT=$2
GODWIT=${GODWIT:-godwit}
NPM=${NPM:-npm}

MANIFEST="$PROJECT/godwit-plugin.toml"
if [ ! -f "$MANIFEST" ]; then
    echo "build.sh: $MANIFEST is missing: a plugin project needs its godwit-plugin.toml" >&2
    exit 1
fi
WORLD=$(sed -n 's/^[[:space:]]*world[[:space:]]*=[[:space:]]*"\([a-z-]*\)".*/\1/p' "$MANIFEST" | head -n 1)
case "$WORLD" in
    backfill | data-step | validator | notifier) ;;
    *)
        echo "build.sh: $MANIFEST has no world = \"backfill\" | \"data-step\" | \"validator\" | \"notifier\" line" >&2
        exit 1
        ;;
esac

ENTRY=
for f in app.js app.mjs app.ts; do
    if [ -f "$PROJECT/$f" ]; then
        ENTRY="$PROJECT/$f"
        break
    fi
done
if [ -z "$ENTRY" ]; then
    echo "build.sh: no app.js in $PROJECT: the plugin's entry module must be app.js (or app.ts)" >&2
    exit 1
fi

if [ -d "$SDK/wit" ]; then
    WIT="$SDK/wit"
elif [ -d "$SDK/../../wit" ]; then
    WIT=$(cd "$SDK/../../wit" && pwd)
else
    echo "build.sh: no WIT found: expected $SDK/wit (a vendored copy) or $SDK/../../wit (the godwit repo)" >&2
    exit 1
fi

if ! command -v "$GODWIT" >/dev/null 2>&1; then
    echo "build.sh: cannot find godwit (\"$GODWIT\"), needed for \`godwit plugin pack\`: put it on PATH or set GODWIT" >&2
    exit 1
fi

# The toolchain, pinned by package-lock.json, installed once. The stamp holds the lock
# file's digest, and is written last, after the install was moved into place.
TOOLCHAIN=${GODWIT_JS_TOOLCHAIN:-$SDK/.toolchain}
STAMP="$TOOLCHAIN/.godwit-installed"
WANT=$(cksum <"$SDK/package-lock.json")
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    if ! command -v "$NPM" >/dev/null 2>&1; then
        echo "build.sh: npm is missing: install Node.js 20 or newer (with npm) to build JavaScript plugins" >&2
        exit 1
    fi
    if ! command -v flock >/dev/null 2>&1; then
        echo "build.sh: flock is missing (util-linux); it guards the toolchain install" >&2
        exit 1
    fi
    mkdir -p "$(dirname "$TOOLCHAIN")"
    (
        flock 9
        if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
            echo "build.sh: installing the JavaScript toolchain into $TOOLCHAIN (once)" >&2
            rm -rf "$TOOLCHAIN.partial"
            mkdir -p "$TOOLCHAIN.partial"
            cp "$SDK/package.json" "$SDK/package-lock.json" "$TOOLCHAIN.partial/"
            # `npm install` on a copy of package.json and package-lock.json installs the
            # locked versions. (`npm ci` would refuse a lock that lacks the platform
            # packages of other systems, as a lock written through a mirror may.)
            if ! (cd "$TOOLCHAIN.partial" && "$NPM" install --no-audit --no-fund --loglevel=error >&2); then
                echo "build.sh: \`npm install\` failed in $TOOLCHAIN.partial; see above (is the npm registry reachable?)" >&2
                exit 1
            fi
            rm -rf "$TOOLCHAIN"
            mv "$TOOLCHAIN.partial" "$TOOLCHAIN"
            printf '%s\n' "$WANT" >"$STAMP"
        fi
    ) 9>"$TOOLCHAIN.lock"
fi
BIN="$TOOLCHAIN/node_modules/.bin"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/godwit-js-build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# One ES module: the plugin and the SDK; the host's interfaces stay imports.
"$BIN/esbuild" "$ENTRY" --bundle --format=esm --platform=neutral --target=es2022 \
    --alias:godwit-sdk="$SDK/godwit.js" \
    --external:'godwit:*' --external:'wasi:*' \
    --log-level=warning --outfile="$TMP/plugin.js" || {
    echo "build.sh: esbuild could not bundle $ENTRY; see above" >&2
    exit 1
}

# componentize-js reads the WIT through a sandbox that sees only relative paths under
# the working directory.
mkdir "$TMP/wit"
cp "$WIT"/*.wit "$TMP/wit/"
(cd "$TMP" && "$BIN/componentize-js" plugin.js --wit wit --world-name "$WORLD" \
    --disable http fetch-event --out component.wasm >"$TMP/componentize.log" 2>&1) || {
    cat "$TMP/componentize.log" >&2
    echo "build.sh: componentize-js could not build $ENTRY as a $WORLD component; see above" >&2
    exit 1
}

mkdir -p "$(dirname "$OUT")"
"$GODWIT" plugin pack "$TMP/component.wasm" --manifest "$MANIFEST" -o "$OUT" >/dev/null
echo "built $OUT: $WORLD plugin from $ENTRY ($(wc -c <"$OUT" | tr -d ' ') bytes)"
