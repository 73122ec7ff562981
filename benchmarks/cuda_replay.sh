#!/usr/bin/env bash
# cuda_replay.sh: the consumer's replay with LeRobot's model on CUDA, on the workplace's GPU machine
# (docs/consuming.md, "Across devices"). With GROOT_PARITY_DEVICE=cuda: `python -m consumer.cli` on
# fixtures/golden-variants, benchmarks/bf16_envelope.py --dtype float32 on fixtures/golden (per-stage
# max/mean |diff| against the fp32 CPU original), then the CLI on fixtures/golden. The CPU figures to set
# them against are the same commands without GROOT_PARITY_DEVICE. The consumer turns TF32 off before the
# model touches the GPU (torch_hooks/cuda_settings.py); each GPU result's notes say so. Each step has a
# timeout (75 + 90 + 170 s): at most about 7 minutes in all; on the 16-core H200 machine expect 2 to 3.
#
# That machine has no network. Its python3 (/opt/torch/.venv: torch 2.11.0+cu130) lacks lerobot and
# its import chain and has transformers 5.17 with tokenizers 0.23.2 (transformers 5.5.4, which lerobot
# 0.6.1 is locked with, needs tokenizers<=0.23.0), so the missing wheels travel in the ignored folder
# .whl/ at the repo root: lerobot 0.6.1, transformers 5.5.4, tokenizers 0.22.2, diffusers 0.39.0,
# datasets 4.8.5, dill 0.4.1, multiprocess 0.70.19, gymnasium 1.4.0, farama-notifications 0.0.6,
# draccus 0.11.6, mergedeep 1.3.4, dm-tree 0.1.10, peft 0.21.2, pytz 2026.6 (the consumer lock's
# versions; `pip download --no-deps` for cp312 manylinux x86_64, about 24 MB). PyAV (about 40 MB) does
# not fit the 64 MiB tree: benchmarks/av_stub.py stands in for it when `import av` fails there (nothing
# on the parity path decodes video). numpy stays the machine's (2.5.2; lerobot pins <2.3, unenforced).
#
# Run through the device tool from the repo root, with .whl carried:
#   run(command="set -o pipefail; bash benchmarks/cuda_replay.sh 2>&1 | tee $OUT/log.txt",
#       carry=[".whl"], timeout_s=480)
# Everything comes back flat in $OUT, 7 files (the tool returns at most 8): log.txt (the tee above),
# env.txt (versions, GPU, pip freeze), golden-variants.txt and golden.txt (the CLI's output),
# envelope-fp32.txt (the table), reports.tar.gz (the two JSON reports), status.txt (each step's exit
# status and seconds). A step's failure (the CLI exits 1 when a check fails, 124 on its timeout) is
# recorded, never fatal; the script stops only when the environment cannot be set up.
# Dry run of the logic without a GPU: PY=<python 3.12> CUDA_REPLAY_DEVICE=cpu CUDA_REPLAY_SKIP_INSTALL=1
# OUT=/tmp/out bash benchmarks/cuda_replay.sh, with the wheels already installed in CUDA_REPLAY_SITE.
set -euo pipefail

: "${OUT:?OUT is unset: run this through the device tool, or set OUT to an empty folder}"
PY=${PY:-python3}
DEVICE=${CUDA_REPLAY_DEVICE:-cuda}
SITE=${CUDA_REPLAY_SITE:-/tmp/site}
STUB=/tmp/avstub
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
export NO_ALBUMENTATIONS_UPDATE=1 HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

step() { echo; echo "=== $* ($(date -u +%H:%M:%S) UTC)"; }

step "install the carried wheels into $SITE"
if [ -z "${CUDA_REPLAY_SKIP_INSTALL:-}" ]; then
    ls .whl/*.whl >/dev/null || { echo "no .whl/*.whl here: carry .whl (see this script's header)"; exit 2; }
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
fi
export PYTHONPATH="$SITE:$PWD"
if ! "$PY" -c "import av" 2>/dev/null; then
    echo "no PyAV here: benchmarks/av_stub.py stands in for it"
    mkdir -p "$STUB/av" "$STUB/av-0.0.0+stub.dist-info"
    cp benchmarks/av_stub.py "$STUB/av/__init__.py"
    printf 'Metadata-Version: 2.1\nName: av\nVersion: 0.0.0+stub\n' >"$STUB/av-0.0.0+stub.dist-info/METADATA"
    export PYTHONPATH="$SITE:$STUB:$PWD"
fi

step "environment"
{
    echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown); device $DEVICE; PYTHONPATH=$PYTHONPATH"
    nvidia-smi -L || echo "nvidia-smi: not available"
    "$PY" - <<'EOF'
import importlib.metadata as md
import platform
import sys

print("python", platform.python_version(), sys.executable)
for name in ("torch", "transformers", "lerobot", "tokenizers", "huggingface_hub", "safetensors", "numpy",
             "diffusers", "datasets", "peft", "accelerate", "torchvision", "pandas", "pyarrow", "regex", "av"):
    try:
        print(f"{name} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name} MISSING")
import torch

print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))
import transformers  # its import-time dependency check (tokenizers, huggingface-hub, regex, ...)
import lerobot.policies.groot.modeling_groot  # noqa: F401  the whole import chain the checks use
import lerobot.policies.groot.processor_groot  # noqa: F401
import consumer.cli  # noqa: F401

print("imports ok: transformers", transformers.__version__)
EOF
    echo
    "$PY" -m pip list --format=freeze 2>/dev/null || true
} 2>&1 | tee "$OUT/env.txt"

status() { echo "$1 rc=$2 seconds=$3" | tee -a "$OUT/status.txt"; }
run_step() {  # name, timeout seconds, output file, command...: never fatal, status recorded
    local name=$1 limit=$2 out=$3 started rc=0
    shift 3
    step "$name"
    started=$(date +%s)
    timeout --kill-after=15 "$limit" "$@" >"$out" 2>&1 || rc=$?
    tail -n 25 "$out"
    status "$name" "$rc" "$(($(date +%s) - started))"
}

mkdir -p /tmp/cuda-replay-reports
export GROOT_PARITY_DEVICE=$DEVICE GROOT_PARITY_REPORT_DIR=/tmp/cuda-replay-reports
# smallest first, the largest last: a slow machine loses the tail, not the envelope
run_step golden-variants 75 "$OUT/golden-variants.txt" "$PY" -m consumer.cli --dir fixtures/golden-variants

step "envelope-fp32 (its per-artifact lines and load logs go to this log, the table to envelope-fp32.txt)"
started=$(date +%s)
rc=0
timeout --kill-after=15 90 "$PY" benchmarks/bf16_envelope.py --dir fixtures/golden --dtype float32 \
    2>&1 >"$OUT/envelope-fp32.txt" || rc=$?
cat "$OUT/envelope-fp32.txt"
status envelope-fp32 "$rc" "$(($(date +%s) - started))"

run_step golden 170 "$OUT/golden.txt" "$PY" -m consumer.cli --dir fixtures/golden

tar -czf "$OUT/reports.tar.gz" -C /tmp cuda-replay-reports
step "done"
cat "$OUT/status.txt"
