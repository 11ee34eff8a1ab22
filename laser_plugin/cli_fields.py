"""Command lines generated from config dataclasses: each option is a field, its help in the field's
metadata, its validation in the dataclass's ``__post_init__`` (run once, when the config is built).

    @dataclass
    class LoopConfig:
        rounds: int = option(2, "DPO rounds")
        save_samples: bool = option(True, "write per-round samples")    # -> --PREFIXno_save_samples

    add_options(parser, LoopConfig, prefix="laser.")                    # --laser.rounds, ...
    LoopConfig(**option_values(LoopConfig, vars(ns), prefix="laser."))

The argparse type comes from the annotation (``Optional[X]`` -> X, ``tuple[X, ...]`` -> ``nargs="+"``),
a bool that defaults to False is a switch, one that defaults to True a ``no_<name>`` switch; a field
whose type is a dataclass contributes its own options (its metadata ``flag`` names them). Fields
without help are not options. Pure stdlib: every layer may use it.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
import warnings
from typing import Any, Iterable, Optional

_HELP, _FLAG, _CHOICES, _OLD = "help", "flag", "choices", "old_names"


def option(default: Any = dataclasses.MISSING, help: str = "", *, flag: Optional[str] = None,
           choices: Optional[Iterable[Any]] = None, default_factory: Any = dataclasses.MISSING,
           old_names: Iterable[str] = ()) -> Any:
    """A dataclass field that is also a command-line option (``flag``: its name when not the field's;
    ``old_names``: earlier names of the option, still accepted with a deprecation warning)."""
    metadata = {_HELP: help, _FLAG: flag, _CHOICES: tuple(choices) if choices is not None else None,
                _OLD: tuple(old_names)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _is_option(f: dataclasses.Field) -> bool:
    return _HELP in f.metadata


def _unwrap(kind: Any) -> tuple[Any, bool]:
    """(element type, is a list) of an annotation: Optional[X] -> X, tuple[X, ...] / list[X] -> X."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    origin = typing.get_origin(kind)
    if origin is typing.Union and len(args) == 1:
        return _unwrap(args[0])
    if origin in (tuple, list):
        return (args[0] if args else str), True
    return kind, False


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _negated(f: dataclasses.Field, kind: Any) -> bool:
    """A bool that defaults to True: its switch turns it off."""
    return kind is bool and _default(f) is True


def _flag_name(f: dataclasses.Field, kind: Any) -> str:
    return f.metadata.get(_FLAG) or (f"no_{f.name}" if _negated(f, kind) else f.name)


def _fields(cls: type) -> Iterable[tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        inner, _ = _unwrap(kind)
        if dataclasses.is_dataclass(inner):
            yield from _fields(inner)
        elif _is_option(f):
            yield f, kind


def add_options(parser: Any, cls: type, *, prefix: str = "", dashes: bool = False, unset_default: bool = False,
                skip: Iterable[str] = ()) -> None:
    """Add an option per field of ``cls`` (and of its dataclass fields) to ``parser`` (or an argument
    group). ``prefix`` starts every flag and dest (``laser.`` -> ``--laser.rounds``); ``dashes``
    writes ``--output-dir`` for ``output_dir``; ``unset_default``: every default None, so that a
    caller can tell what was given (the dataclass then supplies the default)."""
    skip = set(skip)
    for f, kind in _fields(cls):
        if f.name in skip:
            continue
        inner, is_list = _unwrap(kind)
        name = _flag_name(f, inner)
        flag = "--" + prefix + (name.replace("_", "-") if dashes else name)
        default = None if unset_default else (False if _negated(f, inner) else _default(f))
        kwargs: dict[str, Any] = {"dest": prefix + name, "default": default, "help": _help(f, inner)}
        if inner is bool:
            kwargs.update(action="store_true")
        else:
            kwargs.update(type=inner, choices=f.metadata.get(_CHOICES))
            if is_list:
                kwargs.update(nargs="+", default=None if default is None else list(default))
        old = ["--" + prefix + n for n in f.metadata.get(_OLD, ())]
        if old:
            kwargs["action"] = _renamed(flag, kwargs.pop("action", "store"))
        parser.add_argument(flag, *old, **kwargs)


def _renamed(flag: str, action: str) -> type:
    """An argparse action that warns when the option is given under an earlier name."""
    base = argparse._StoreTrueAction if action == "store_true" else argparse._StoreAction

    class Renamed(base):  # type: ignore[misc, valid-type]
        def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
            if option_string != flag:
                warnings.warn(f"{option_string} is renamed {flag}; the old name will be removed",
                              FutureWarning, stacklevel=2)
            super().__call__(parser, namespace, values, option_string)

    return Renamed


def _help(f: dataclasses.Field, kind: Any) -> Optional[str]:
    """The field's help, its default appended (the dataclass's, also where the parser's is None)."""
    text = f.metadata[_HELP] or ""
    value = _default(f)
    if kind is not bool and value is not None:
        shown = " ".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)
        text = f"{text} (default: {shown})".strip()
    return text.replace("%", "%%") or None  # argparse formats help with %


def option_values(cls: type, values: dict[str, Any], *, prefix: str = "", skip: Iterable[str] = (),
                  given_only: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``cls`` from parsed ``values`` (``vars(namespace)``), nested dataclass
    fields built; ``given_only``: leave out options whose value is None (not given)."""
    skip = set(skip)
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        inner, is_list = _unwrap(hints[f.name])
        if f.name in skip:
            continue
        if dataclasses.is_dataclass(inner):
            out[f.name] = inner(**option_values(inner, values, prefix=prefix, given_only=given_only))
            continue
        if not _is_option(f):
            continue
        key = prefix + _flag_name(f, inner)
        if key not in values or (given_only and values[key] is None):
            continue
        value = values[key]
        if _negated(f, inner):
            value = not value  # --no_<name>
        elif is_list and value is not None:
            value = tuple(value)
        out[f.name] = value
    return out


def option_names(cls: type, skip: Iterable[str] = ()) -> list[str]:
    """The flag names (without prefix) of ``cls``'s options."""
    skip = set(skip)
    return [_flag_name(f, _unwrap(kind)[0]) for f, kind in _fields(cls) if f.name not in skip]


__all__ = ["add_options", "option", "option_names", "option_values"]
