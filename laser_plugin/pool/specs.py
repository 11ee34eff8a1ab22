"""Reward-pool arm specifications: what each arm is and how to run it.

Compact flag form (``--reward_pool``), entries separated by commas, an optional ``@NAME`` suffix::

    hf:/models/rm_a@helpful, func:/work/verify_math.py, http://127.0.0.1:5000/get_reward@remote

* ``hf:PATH_OR_HUB_ID`` an OpenRLHF sequence-regression RM (``get_llm_for_sequence_regression``);
* ``func:FILE.py`` a file defining OpenRLHF's ``reward_func(queries, prompts, labels, **kw)``;
* ``http://...`` / ``https://...`` an endpoint speaking ``openrlhf.cli.serve_rm``'s ``/get_reward``.

``@NAME`` is taken as a name only when it is a plain word (``[A-Za-z0-9_.-]+``), so URLs with
credentials keep working; names default to the target's stem and are made unique. Per-arm options
(value_head_prefix, max_len, timeout_s, ...) need the file form: a ``.yaml``/``.yml``/``.json`` file
holding a list of arms, or ``{"defaults": {...}, "arms": [...]}``; each arm is a mapping with either
``spec: "hf:PATH@name"`` or ``kind`` + ``target``, plus options. Relative paths in a file resolve
against the file's folder when such a path exists there.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional, Union

ARM_KINDS = ("hf", "func", "http")
PARAM_DTYPES = ("auto", "bf16", "fp16", "fp32")  # auto: bf16 on GPU, the CPU dtype policy on CPU
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
VALID_FORMS = (
    "valid forms: 'hf:PATH_OR_HUB_ID[@name]', 'func:FILE.py[@name]', "
    "'http(s)://HOST:PORT/get_reward[@name]' (comma separated), or a .yaml/.yml/.json file of arms"
)


@dataclass
class ArmSpec:
    """One arm of the reward pool. Options that do not apply to an arm's kind are ignored."""

    kind: str
    target: str
    name: str = ""
    # hf: OpenRLHF loader options (None: the checkpoint config's value / OpenRLHF's default).
    value_head_prefix: Optional[str] = None
    param_dtype: str = "auto"
    attn_implementation: str = "sdpa"
    max_len: int = 2048
    normalize_reward: bool = False
    tokenizer_path: Optional[str] = None
    # None: use the RM's own chat template only when its tokenizer differs from the policy's.
    apply_chat_template: Optional[bool] = None
    # http
    timeout_s: float = 30.0
    retries: int = 2
    # all kinds
    batch_size: Optional[int] = None
    score_scale: float = 1.0
    func_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ARM_KINDS:
            raise ValueError(f"arm {self.name or self.target!r}: kind {self.kind!r} not in {ARM_KINDS}; {VALID_FORMS}")
        self.target = str(self.target).strip()
        if not self.target:
            raise ValueError(f"arm of kind {self.kind!r} has an empty target; {VALID_FORMS}")
        if self.kind == "func" and not self.target.endswith(".py"):
            raise ValueError(f"func arm {self.target!r}: target must be a .py file with reward_func; {VALID_FORMS}")
        if self.kind == "http" and not re.match(r"^https?://[^/\s]+", self.target):
            raise ValueError(f"http arm {self.target!r}: target must be an http(s):// URL; {VALID_FORMS}")
        if not self.name:
            self.name = default_arm_name(self.kind, self.target)
        if not _NAME_RE.match(self.name):
            raise ValueError(f"arm name {self.name!r} must match [A-Za-z0-9_.-]+")
        if self.param_dtype not in PARAM_DTYPES:
            raise ValueError(f"arm {self.name!r}: param_dtype {self.param_dtype!r} not in {PARAM_DTYPES}")
        for key in ("max_len", "retries", "batch_size"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or value < (0 if key == "retries" else 1)):
                raise ValueError(f"arm {self.name!r}: {key} must be a positive integer, got {value!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"arm {self.name!r}: timeout_s must be > 0, got {self.timeout_s!r}")
        if not isinstance(self.func_kwargs, dict):
            raise ValueError(f"arm {self.name!r}: func_kwargs must be a mapping")
        self.score_scale = float(self.score_scale)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def default_arm_name(kind: str, target: str) -> str:
    if kind == "http":
        host = re.sub(r"^https?://", "", target).split("/")[0]
        base = "http_" + host
    else:
        base = Path(target.rstrip("/")).stem or kind
    return re.sub(r"[^A-Za-z0-9_.-]", "_", base)


def _split_name(entry: str) -> tuple[str, str]:
    body, sep, name = entry.rpartition("@")
    if sep and body and _NAME_RE.match(name):
        return body, name
    return entry, ""


def parse_arm(entry: str, **options: Any) -> ArmSpec:
    """One compact entry (``hf:PATH[@name]``, ``func:FILE.py[@name]``, ``http(s)://URL[@name]``)."""
    raw = entry.strip()
    if not raw:
        raise ValueError(f"empty arm entry; {VALID_FORMS}")
    body, name = _split_name(raw)
    if body.startswith(("http://", "https://")):
        kind, target = "http", body
    elif ":" in body and body.split(":", 1)[0] in ("hf", "func"):
        kind, target = body.split(":", 1)
    else:
        raise ValueError(f"bad arm entry {raw!r}; {VALID_FORMS}")
    try:
        return ArmSpec(kind=kind, target=target, name=name or options.pop("name", ""), **options)
    except TypeError as exc:  # unknown option keys
        valid = sorted(f.name for f in fields(ArmSpec) if f.name not in ("kind", "target"))
        raise ValueError(f"bad options for arm {raw!r}: {exc}; valid options: {valid}") from None


def _resolve_relative(spec: ArmSpec, base_dir: Path) -> None:
    if spec.kind == "http":
        return
    for attr in ("target", "tokenizer_path"):
        value = getattr(spec, attr)
        if value and not Path(value).is_absolute() and (base_dir / value).exists():
            setattr(spec, attr, str(base_dir / value))


def _arm_from_mapping(item: Any, index: int, defaults: dict[str, Any], base_dir: Path) -> ArmSpec:
    if isinstance(item, str):
        spec = parse_arm(item, **defaults)
    elif isinstance(item, dict):
        opts = {**defaults, **item}
        compact = opts.pop("spec", None)
        if compact is not None:
            opts.pop("kind", None), opts.pop("target", None)
            spec = parse_arm(str(compact), **opts)
        elif "kind" in opts and "target" in opts:
            try:
                spec = ArmSpec(**opts)
            except TypeError as exc:
                valid = sorted(f.name for f in fields(ArmSpec))
                raise ValueError(f"arm #{index} {item!r}: {exc}; valid keys: {valid}") from None
        else:
            raise ValueError(f"arm #{index} {item!r} needs 'spec' or 'kind' + 'target'; {VALID_FORMS}")
    else:
        raise ValueError(f"arm #{index} must be a string or a mapping, got {item!r}; {VALID_FORMS}")
    _resolve_relative(spec, base_dir)
    return spec


def _load_file(path: Path) -> list[ArmSpec]:
    text = path.read_text()
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml  # only needed for YAML pool files

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parse error becomes a message naming the file
        raise ValueError(f"pool spec file {path}: cannot parse ({exc})") from exc
    defaults: dict[str, Any] = {}
    if isinstance(data, dict):
        defaults = dict(data.get("defaults") or {})
        unknown = set(data) - {"arms", "defaults"}
        if unknown or "arms" not in data:
            raise ValueError(f"pool spec file {path}: expected keys 'arms' (+ 'defaults'), got {sorted(data)}")
        data = data["arms"]
    if not isinstance(data, list) or not data:
        raise ValueError(f"pool spec file {path}: expected a non-empty list of arms; {VALID_FORMS}")
    return [_arm_from_mapping(item, i, defaults, path.parent) for i, item in enumerate(data)]


def parse_pool_spec(value: Union[str, Path, list, tuple]) -> list[ArmSpec]:
    """Arm specs from the compact flag value, a .yaml/.yml/.json file, or a list of entries."""
    if isinstance(value, (list, tuple)):
        specs = [s if isinstance(s, ArmSpec) else _arm_from_mapping(s, i, {}, Path.cwd()) for i, s in enumerate(value)]
    else:
        text = str(value).strip()
        if not text:
            raise ValueError(f"empty reward pool spec; {VALID_FORMS}")
        path = Path(text)
        if path.suffix in (".yaml", ".yml", ".json") and "," not in text:
            if not path.is_file():
                raise ValueError(f"pool spec file {text!r} does not exist")
            specs = _load_file(path)
        else:
            entries = [e for e in text.split(",")]
            if any(not e.strip() for e in entries):
                raise ValueError(f"empty entry in reward pool spec {text!r}; {VALID_FORMS}")
            specs = [parse_arm(e) for e in entries]
    if not specs:
        raise ValueError(f"reward pool spec has no arms; {VALID_FORMS}")
    return _dedupe(specs)


def _dedupe(specs: list[ArmSpec]) -> list[ArmSpec]:
    """Derived names get a numeric suffix on collision; two arms given the same name is an error."""
    counts: dict[str, int] = {}
    for spec in specs:
        counts[spec.name] = counts.get(spec.name, 0) + 1
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            if spec.name != default_arm_name(spec.kind, spec.target):
                raise ValueError(f"duplicate arm name {spec.name!r}: names given with @NAME must be unique")
            base, i = spec.name, 2
            while f"{base}_{i}" in seen or f"{base}_{i}" in counts:
                i += 1
            spec.name = f"{base}_{i}"
        seen.add(spec.name)
    return specs
