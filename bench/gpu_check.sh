#!/usr/bin/env bash
# bench/gpu_check.sh: iqa's GPU path checked on a GPU, in one call, under 8 minutes.
#
#   bench/gpu_check.sh                 # on a machine with an NVIDIA GPU and torch with CUDA
#   bench/gpu_check.sh --cpu-dry-run   # every step on the CPU: proves the script end to end
#   bench/gpu_check.sh --budget 420    # seconds for all steps (default 450)
#
# Needs no internet: what is missing is installed only from wheels in .whl/
# (fetched beforehand on a machine with internet by bench/fetch_gpu_wheels.sh,
# ignored by git, carried with the run). Steps, each time-boxed:
#   1 env     python, nvidia-smi, torch and whether it sees CUDA (stops here if not)
#   2 deps    pytest, pytorch-msssim, Pillow, spec images: from .whl/ when missing
#   3 build   the C extension (the CPU reference; without a compiler: the torch CPU path)
#   4 tests   pytest -m cuda (tests/test_cuda.py, test_metrics_misc.py::test_cpu_cuda_agreement)
#   5 parity  max |GPU - CPU| on the spec pairs, every metric and loss, forward and gradient,
#             float64 (<= 1e-6) and float32 (documented bounds, bench/README.md)
#   6 speed   Gpix/s of batched same-size SSIM / MS-SSIM at 1080p, forward and
#             forward+backward, against pytorch-msssim on the same GPU
#   7 oom     the runner's out-of-memory halving with most of the GPU memory taken
# Prints a summary; writes the full log to $OUT/gpu_check.log when $OUT is set.
# Exit status 0 only when every step passed.
set -u -o pipefail

cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
DRY=${IQA_GPU_DRY:-0}
BUDGET=450
STEP=""
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu-dry-run) DRY=1 ;;
        --budget) shift; BUDGET=${1:?--budget needs seconds} ;;
        --step) shift; STEP=${1:?} ;;  # internal: one shell step, run by run_step under timeout
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)"; exit 2 ;;
    esac
    shift
done
PY=${PYTHON:-$(command -v python3 || command -v python)}
[ -n "$PY" ] || { echo "FATAL: no python on PATH"; exit 2; }
if [ -z "$STEP" ]; then
    LOG=${OUT:+$OUT/gpu_check.log}
    LOG=${LOG:-$(mktemp -t iqa-gpu-check.XXXXXX.log)}
    : > "$LOG"
    SHIM=$(mktemp -d -t iqa-gpu-shim.XXXXXX)  # a stand-in skimage.data goes here if needed (deps step)
    trap 'rm -rf "$SHIM"' EXIT
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}:$SHIM"
    export IQA_GPU_DRY=$DRY IQA_GPU_SHIM=$SHIM IQA_GPU_LOG=$LOG
else
    SHIM=$IQA_GPU_SHIM
    LOG=$IQA_GPU_LOG
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
if [ "$DRY" = 1 ]; then
    DEV=cpu
    SPEED_ARGS=(--size 270x480 --pairs 2 --repeat 2)
    OOM_ARGS=(--size 270x480 --pairs 8)
else
    DEV=cuda
    SPEED_ARGS=(--size 1080x1920 --pairs 16 --repeat 5)
    OOM_ARGS=(--size 1080x1920 --pairs 16)
fi
WHEELS="$ROOT/.whl"
declare -a NAMES STATUS TIMES
FAILED=0

log() { echo "$@" | tee -a "$LOG"; }

# run_step NAME TIMEOUT CMD...: time-boxed by its own timeout and by what is left of the budget
run_step() {
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET - SECONDS))
    NAMES+=("$name")
    if [ "$left" -lt 15 ]; then
        log "=== $name: SKIPPED (out of time: ${left}s of the ${BUDGET}s budget left)"
        STATUS+=("skipped (time)"); TIMES+=(0); FAILED=1
        return 1
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    log ""
    log "=== $name (at most ${limit}s) $(date -u +%H:%M:%S)"
    local t0=$SECONDS rc
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    TIMES+=($((SECONDS - t0)))
    if [ "$rc" = 0 ]; then STATUS+=("ok")
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then STATUS+=("TIMED OUT after ${limit}s"); FAILED=1
    else STATUS+=("FAILED (exit $rc)"); FAILED=1
    fi
    return "$rc"
}

summary() {
    log ""
    log "=== summary ($([ "$DRY" = 1 ] && echo 'CPU dry run' || echo 'GPU'), ${SECONDS}s of ${BUDGET}s; log: $LOG)"
    for i in "${!NAMES[@]}"; do
        log "$(printf '  %-7s %5ss  %s' "${NAMES[$i]}" "${TIMES[$i]}" "${STATUS[$i]}")"
    done
    log "$([ "$FAILED" = 0 ] && echo 'GPU CHECK: PASSED' || echo 'GPU CHECK: FAILED')"
}

# has MODULE: importable (IQA_GPU_HIDE=a,b pretends those are missing, to test the install paths)
has() {
    case ",${IQA_GPU_HIDE:-}," in *",$1,"*) return 1 ;; esac
    "$PY" -c "import $1" >/dev/null 2>&1
}

# --- 1 env
env_step() {
    echo "repo: $ROOT ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git')), python: $PY"
    if command -v nvidia-smi >/dev/null; then
        timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv || true
    else
        echo "nvidia-smi: not found"
    fi
    if ! has torch; then
        local w
        w=$(ls "$WHEELS"/torch-*.whl 2>/dev/null | head -1)
        if [ -n "$w" ]; then
            echo "torch missing: installing $w"
            "$PY" -m pip install --no-index --find-links "$WHEELS" "$w" || return 1
        else
            echo "torch is not installed and .whl/ has no torch wheel: nothing to check"
            return 1
        fi
    fi
    "$PY" -c "import numpy" || { echo "numpy is missing (put a wheel in .whl/: bench/fetch_gpu_wheels.sh --with-numpy)"; return 1; }
    "$PY" bench/gpu_check.py env --device "$DEV"
}

# --- 2 deps
deps_step() {
    local pkg mod missing=()
    for pair in pytest:pytest pytorch_msssim:pytorch-msssim PIL:pillow; do
        mod=${pair%%:*}; pkg=${pair#*:}
        has "$mod" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "missing: ${missing[*]}; installing from $WHEELS"
        if [ -d "$WHEELS" ]; then
            local with_deps=() pkg
            for pkg in "${missing[@]}"; do
                if [ "$pkg" = pytorch-msssim ]; then  # its only dependency is torch: never let pip touch torch
                    "$PY" -m pip install --quiet --no-index --find-links "$WHEELS" --no-deps "$pkg" || echo "$pkg: not installed"
                else
                    with_deps+=("$pkg")
                fi
            done
            [ ${#with_deps[@]} = 0 ] || "$PY" -m pip install --quiet --no-index --find-links "$WHEELS" "${with_deps[@]}" \
                || echo "${with_deps[*]}: not installed"
        else
            echo "no .whl/ folder (run bench/fetch_gpu_wheels.sh where there is internet, carry .whl)"
        fi
    fi
    if ! has skimage; then  # the spec pairs come from scikit-image's bundled images
        if [ -f "$WHEELS/spec_images.npz" ]; then
            mkdir -p "$SHIM/skimage"
            : > "$SHIM/skimage/__init__.py"
            cat > "$SHIM/skimage/data.py" <<PYEOF
"""Stand-in for skimage.data (bench/gpu_check.sh): the two bundled images the spec pairs use."""
import numpy as _np
_IMAGES = _np.load("$WHEELS/spec_images.npz")
def camera():
    return _IMAGES["camera"].copy()
def astronaut():
    return _IMAGES["astronaut"].copy()
PYEOF
            echo "scikit-image missing: spec images from .whl/spec_images.npz (a stand-in skimage.data in $SHIM)"
        else
            echo "scikit-image missing and no .whl/spec_images.npz: parity and tests cannot build the spec pairs"
        fi
    fi
    local still=()
    for mod in pytest pytorch_msssim PIL; do has "$mod" || still+=("$mod"); done
    "$PY" -c "from skimage import data; data.camera()" >/dev/null 2>&1 || still+=("skimage.data")
    echo "still missing: ${still[*]:-nothing}"
    [ ${#still[@]} = 0 ] || [ "${still[*]}" = "pytorch_msssim" ]  # without the peer only its rows are missing
}

# --- 3 build
build_step() {
    if ! command -v "${CC:-gcc}" >/dev/null && ! command -v cc >/dev/null; then
        echo "no C compiler: the CPU reference is iqa's torch CPU path (the same numbers to ~1e-15)"
        return 0
    fi
    "$PY" setup.py -q build_ext --inplace 2>&1 | tail -5
    "$PY" -c "from iqa_cli.metrics import _cpu; print('C extension:', 'built' if _cpu.available() else 'not built: torch CPU path')"
}

case "$STEP" in
    env) env_step; exit $? ;;
    deps) deps_step; exit $? ;;
    build) build_step; exit $? ;;
    "") ;;
    *) echo "unknown step $STEP"; exit 2 ;;
esac

run_step env 60 "$0" --step env || { summary; exit 1; }
run_step deps 90 "$0" --step deps
run_step build 120 "$0" --step build
run_step tests 150 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests/ -rs
run_step parity 120 "$PY" bench/gpu_check.py parity --device "$DEV"
run_step speed 150 "$PY" bench/gpu_check.py speed --device "$DEV" "${SPEED_ARGS[@]}"
run_step oom 120 "$PY" bench/gpu_check.py oom --device "$DEV" "${OOM_ARGS[@]}"
summary
exit "$FAILED"
