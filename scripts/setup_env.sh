#!/usr/bin/env bash
# One idempotent set-up behind `make demo` / `make test` / `make test-oldest`:
#   1. a venv with the lock's Python (newest: 3.11, oldest: 3.8)
#   2. one tested stack, exactly as its lock file says (mmcv from a wheel
#      cache, else built from the sdist)
#   3. `pip install -e .` of this plugin (+ mmsegmentation for the tests)
#   4. Fashion-MNIST un-gzipped into $NNCLR_DATA_ROOT (default: data/fashion_mnist)
# A stamp file keyed on the requirement files makes a second run take seconds.
#
# STACK=newest (default, .venv) or STACK=oldest (.venv-oldest): which
# requirements/lock/$STACK.txt to install. The plugin's own requirements
# are ranges (requirements/runtime.txt); the locks make the two README
# commands reproducible.
#
# MMCV_OPS=required (make test, the default) needs mmcv's compiled ops: a
# cached full wheel, else a ~15 min build from the sdist. MMCV_OPS=optional
# (make demo) settles for mmcv without ops when no full wheel is cached
# (~10 s to build): pretraining, kNN and the demo use none of them. A later
# MMCV_OPS=required run replaces that build with the full one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STACK="${STACK:-newest}"
LOCK="requirements/lock/$STACK.txt"
[ -f "$LOCK" ] || { echo "[setup] ERROR: STACK=$STACK: no lock file $LOCK" >&2; exit 1; }
# Each lock names the Python it was made with ("# python: 3.8" line): the
# oldest stack is what OpenMMLab's install guides create (python=3.8).
PY_VERSION="$(sed -n 's/^# python: *//p' "$LOCK")"
PY_VERSION="${PY_VERSION:-3.11}"
if [ "$STACK" = newest ]; then
    VENV="${VENV:-$ROOT/.venv}"
    # torch >= 2.10 headers use C++20 features; mmcv 2.1.0 hard-codes c++17.
    CXX_STD=c++20
    WHEEL_SUBDIR=""
else
    VENV="${VENV:-$ROOT/.venv-$STACK}"
    CXX_STD=c++17
    # Wheel names do not say which torch an mmcv was built against: each
    # stack has its own cache folders.
    WHEEL_SUBDIR="/torch$(sed -n 's/^torch==\([0-9]*\.[0-9]*\).*/\1/p' "$LOCK")"
fi
SHARED_WHEELS="${SHARED_WHEELS:-$ROOT/../shared/wheels}$WHEEL_SUBDIR"
LOCAL_WHEELS="$ROOT/.cache/wheels/$STACK"
MMCV_VERSION="$(sed -n 's/^mmcv==//p' "$LOCK")"
MMCV_OPS="${MMCV_OPS:-required}"
LITE_WHEELS="$ROOT/.cache/wheels-no-ops/$STACK"
DATA_ROOT="${NNCLR_DATA_ROOT:-$ROOT/data/fashion_mnist}"
DEB_DIR="/usr/share/datasets/fashion-mnist"

log() { printf '[setup] %s\n' "$*"; }

# ---------------------------------------------------------------- venv
# python$PY_VERSION from PATH, else from pyenv's versions (its shims name
# every installed version but run only the selected one).
is_wanted_python() {
    "$1" -c "import sys, venv; sys.exit('%d.%d' % sys.version_info[:2] != '$PY_VERSION')" >/dev/null 2>&1
}
find_python() {
    local candidate
    for candidate in "python$PY_VERSION" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$PY_VERSION".*/bin/python"$PY_VERSION"; do
        if is_wanted_python "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}
if [ -x "$VENV/bin/python" ] && ! is_wanted_python "$VENV/bin/python"; then
    log "$VENV is not a Python $PY_VERSION venv ($LOCK asks for it): recreating it"
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    if [ -n "${PYTHON:-}" ] && ! is_wanted_python "$PYTHON"; then
        echo "[setup] ERROR: PYTHON=$PYTHON is not Python $PY_VERSION, which $LOCK is tested with" >&2
        exit 1
    fi
    PYTHON="${PYTHON:-$(find_python || true)}"
    [ -n "$PYTHON" ] || {
        echo "[setup] ERROR: Python $PY_VERSION not found ($LOCK is tested with it): install it" \
             "(pyenv install $PY_VERSION, or your system's python$PY_VERSION and python$PY_VERSION-venv)" \
             "or set PYTHON=/path/to/python$PY_VERSION" >&2
        exit 1
    }
    log "creating $VENV with $PYTHON ($("$PYTHON" -V 2>&1))"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)
# Some machines list package indexes that do not exist; pip warns once per
# package about them. Keep the set-up output readable.
quiet_pip() {
    "${PIP[@]}" "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}

# The stamp covers every file that decides what gets installed.
stamp_src=$(cat requirements/*.txt "$LOCK" setup.py scripts/setup_env.sh | sha256sum | cut -d' ' -f1)
STAMP="$VENV/.nnclr_plugin_setup"
has_mmcv_ops() {
    "$VENV/bin/python" -c "from mmcv.utils import ext_loader; ext_loader.load_ext('_ext', ['nms'])" >/dev/null 2>&1
}
# Whether the installed mmcv ships its compiled extension, without importing
# mmcv: right after a --no-deps install its dependencies (cv2, mmengine) are
# not there yet, so an import would fail for the wrong reason.
has_mmcv_ext_file() {
    "$VENV/bin/python" -c "import glob, importlib.util, os, sys; spec = importlib.util.find_spec('mmcv'); sys.exit(0 if spec and glob.glob(os.path.join(os.path.dirname(spec.origin), '_ext*.so')) else 1)" >/dev/null 2>&1
}
if [ -f "$STAMP" ] && [ "$MMCV_OPS" = required ] && ! has_mmcv_ops; then
    log "mmcv was installed without its compiled ops; installing the full build"
    rm -f "$STAMP"
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$stamp_src" ]; then
    log "environment up to date ($VENV)"
else
    mkdir -p "$LOCAL_WHEELS"
    FIND_LINKS=(--find-links "$LOCAL_WHEELS")
    [ -d "$SHARED_WHEELS" ] && FIND_LINKS+=(--find-links "$SHARED_WHEELS")

    log "installing build prerequisites"
    quiet_pip install -q --upgrade pip
    quiet_pip install -q -c "$LOCK" -r requirements/build.txt

    # mmcv 2.1.0 has no wheel for torch 2.14: take one from a cache or build it.
    if "${PIP[@]}" install -q --no-deps --no-index --force-reinstall "${FIND_LINKS[@]}" "mmcv==$MMCV_VERSION" 2>/dev/null \
            && has_mmcv_ext_file; then
        log "mmcv $MMCV_VERSION with ops from the wheel cache"
    elif [ "$MMCV_OPS" != required ]; then
        # Same package name and version, so the pinned requirements are met;
        # kept apart from the full wheels so it is never taken for one.
        if ! "${PIP[@]}" install -q --no-deps --no-index --find-links "$LITE_WHEELS" "mmcv==$MMCV_VERSION" 2>/dev/null; then
            log "no cached mmcv $MMCV_VERSION wheel with ops: building mmcv without ops (seconds; make test builds the ops)"
            build_dir="$(mktemp -d)"
            quiet_pip download -q --no-deps --no-build-isolation --no-binary :all: \
                -d "$build_dir" "mmcv==$MMCV_VERSION"
            tar -xzf "$build_dir"/mmcv-"$MMCV_VERSION".tar.gz -C "$build_dir"
            # Without ops mmcv's setup.py names the distribution mmcv-lite,
            # which would not satisfy mmpretrain's and mmdet's `mmcv`.
            sed -i "s/'mmcv' if os.getenv('MMCV_WITH_OPS', '1') == '1' else 'mmcv-lite'/'mmcv'/" \
                "$build_dir/mmcv-$MMCV_VERSION/setup.py"
            mkdir -p "$LITE_WHEELS"
            MMCV_WITH_OPS=0 "${PIP[@]}" wheel -q --no-build-isolation --no-deps \
                -w "$LITE_WHEELS" "$build_dir/mmcv-$MMCV_VERSION"
            rm -rf "$build_dir"
            "${PIP[@]}" install -q --no-deps --no-index --force-reinstall --find-links "$LITE_WHEELS" "mmcv==$MMCV_VERSION"
        fi
    else
        log "no cached mmcv $MMCV_VERSION wheel: building from the sdist (about 15 min on 2 cores)"
        build_dir="$(mktemp -d)"
        quiet_pip download -q --no-deps --no-build-isolation --no-binary :all: \
            -d "$build_dir" "mmcv==$MMCV_VERSION"
        tar -xzf "$build_dir"/mmcv-"$MMCV_VERSION".tar.gz -C "$build_dir"
        src="$build_dir/mmcv-$MMCV_VERSION"
        sed -i "s/-std=c++17/-std=$CXX_STD/g" "$src/setup.py"
        if command -v nvcc >/dev/null && command -v nvidia-smi >/dev/null && nvidia-smi >/dev/null 2>&1; then
            export FORCE_CUDA=1
            log "nvcc and a GPU found: building CUDA ops too"
        fi
        MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
            "${PIP[@]}" wheel -q --no-build-isolation --no-deps -w "$LOCAL_WHEELS" "$src"
        rm -rf "$build_dir"
        "${PIP[@]}" install -q --no-deps --no-index --force-reinstall --find-links "$LOCAL_WHEELS" "mmcv==$MMCV_VERSION"
    fi

    log "installing the $STACK stack ($LOCK) and the test requirements"
    quiet_pip install -q "${FIND_LINKS[@]}" -c "$LOCK" -r requirements/runtime.txt -r requirements/tests.txt
    log "installing nnclr_plugin (editable)"
    quiet_pip install -q --no-deps --no-build-isolation -e .
    echo "$stamp_src" > "$STAMP"
    log "environment ready"
fi

# The tests also cover the segmentation transfer configs; pretraining and
# the demo do not need mmsegmentation, so only `make test` installs it.
has_mmseg() {
    "$VENV/bin/python" -c "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('mmseg') else 1)" >/dev/null 2>&1
}
if [ "$MMCV_OPS" = required ] && ! has_mmseg; then
    log "installing the segmentation extra (requirements/segmentation.txt)"
    quiet_pip install -q -c "$LOCK" -r requirements/segmentation.txt
fi

# ---------------------------------------------------------------- data
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
have_all() { for f in "${FILES[@]}"; do [ -f "$DATA_ROOT/$f" ] || return 1; done; }

if have_all; then
    log "Fashion-MNIST ready in $DATA_ROOT"
    exit 0
fi
if [ ! -f "$DEB_DIR/${FILES[0]}.gz" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing Debian package dataset-fashion-mnist"
        apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; }
    else
        cat >&2 <<MSG
[setup] Fashion-MNIST is missing: looked for ${FILES[*]} in $DATA_ROOT
        and for the .gz files in $DEB_DIR.
        Get them with:   sudo apt-get install dataset-fashion-mnist   and re-run make,
        or put the four un-gzipped idx files in a folder and set NNCLR_DATA_ROOT to it.
MSG
        exit 0  # the environment itself is ready; data-dependent steps fail with the same hint
    fi
fi
mkdir -p "$DATA_ROOT"
for f in "${FILES[@]}"; do
    gunzip -c "$DEB_DIR/$f.gz" > "$DATA_ROOT/$f.tmp" && mv "$DATA_ROOT/$f.tmp" "$DATA_ROOT/$f"
done
log "Fashion-MNIST un-gzipped into $DATA_ROOT"
