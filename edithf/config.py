"""One config dataclass drives the YAML file, the command line and the studio's form (TRL-style).

A config is a flat dataclass whose fields carry `metadata={"help": ..., "choices": [...]}`:

    @dataclass
    class TrainConfig:
        lr: float = field(default=1e-4, metadata={"help": "peak learning rate"})

    cfg = load_config(TrainConfig, "run.yaml", ["lr=3e-4", "stages=[pointwise,pairwise]"])
    config_to_yaml(cfg)        # the resolved YAML, as shown before a launch
    describe_fields(TrainConfig)   # what a form or --help needs: name, type, default, help, choices
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Sequence

import yaml


class ConfigError(ValueError):
    """A config value or key that does not fit; the message names it."""


def _field_type(cls, f: dataclasses.Field):
    hints = typing.get_type_hints(cls)
    return hints.get(f.name, f.type)


def _unwrap_optional(tp):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def coerce(value: Any, tp, name: str = "value"):
    """Convert a YAML/CLI value to the field's declared type, or raise ConfigError."""
    tp, optional = _unwrap_optional(tp)
    if value is None or (optional and isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
        if optional or tp is Any:
            return None
        raise ConfigError(f"{name} cannot be empty")
    origin = typing.get_origin(tp)
    try:
        if tp is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("true", "1", "yes", "on"):
                    return True
                if low in ("false", "0", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if tp in (int, float, str):
            if tp is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return tp(value)
        if origin in (list, tuple, typing.Sequence) or tp in (list, tuple):
            if isinstance(value, str):
                value = yaml.safe_load(value) if value.strip().startswith("[") else value.split(",")
            if not isinstance(value, (list, tuple)):
                value = [value]
            # "to_q, to_k" and "[to_q, ' to_k']" both mean ["to_q", "to_k"]: a kept space would
            # make an item that matches nothing (a LoRA target, a stage name).
            value = [v.strip() if isinstance(v, str) else v for v in value]
            value = [v for v in value if v != ""]
            args = typing.get_args(tp)
            inner = args[0] if args else Any
            items = [coerce(v, inner, name) if inner is not Any else v for v in value]
            return tuple(items) if (origin is tuple or tp is tuple) else items
        if origin is dict or tp is dict:
            if isinstance(value, str):
                value = yaml.safe_load(value)
            if not isinstance(value, dict):
                raise ValueError(value)
            return dict(value)
        if origin is typing.Literal:
            if value not in typing.get_args(tp):
                raise ValueError(value)
            return value
    except (TypeError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{name}: cannot read {value!r} as {getattr(tp, '__name__', tp)}") from exc
    return value


def describe_fields(cls) -> list[dict]:
    """One dict per field: name, type (a short string), default, help, choices, group, optional."""
    rows = []
    for f in dataclasses.fields(cls):
        tp, optional = _unwrap_optional(_field_type(cls, f))
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = None
        origin = typing.get_origin(tp)
        kind = "list" if origin in (list, tuple) or tp in (list, tuple) else getattr(tp, "__name__", str(tp))
        choices = f.metadata.get("choices")
        if origin is typing.Literal:
            choices, kind = list(typing.get_args(tp)), "str"
        rows.append({
            "name": f.name,
            "type": kind,
            "default": default,
            "help": f.metadata.get("help", ""),
            "choices": list(choices) if choices else None,
            "group": f.metadata.get("group", "general"),
            "optional": optional,  # Optional[...]: empty means None ("auto", the field's help says what)
        })
    return rows


def _check_choices(cls, values: dict) -> None:
    for row in describe_fields(cls):
        v = values.get(row["name"])
        if row["choices"] and v is not None:
            items = v if isinstance(v, (list, tuple)) else [v]
            bad = [x for x in items if x not in row["choices"]]
            if bad:
                raise ConfigError(f"{row['name']}: {bad} not among {row['choices']}")


def config_from_dict(cls, values: dict):
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"unknown key(s) for {cls.__name__}: {unknown}; known: {sorted(names)}")
    kwargs = {k: coerce(v, _field_type(cls, names[k]), k) for k, v in values.items()}
    _check_choices(cls, kwargs)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{cls.__name__}: {exc}") from exc


def parse_overrides(overrides: Sequence[str]) -> dict:
    """["lr=3e-4", "stages=[a,b]"] -> {"lr": "3e-4", "stages": "[a,b]"} (coerced later)."""
    out = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not key=value")
        out[key.strip()] = value
    return out


# The example configs of the checkout (configs/ beside edithf/): `edithf train configs/train_demo.yaml`
# from another folder (a scratch folder for the README tour) still finds them.
EXAMPLE_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _config_file(path: Path) -> Path:
    """`path`, or for a missing `configs/NAME` the checkout's example config of that name (with a
    note saying so)."""
    if path.exists():
        return path
    example = EXAMPLE_CONFIGS / path.relative_to("configs") if path.parts[:1] == ("configs",) else None
    if example is None or not example.is_file():
        raise ConfigError(f"config file not found: {path}")
    import warnings

    warnings.warn(f"{path} is not in this folder; using the example config {example}", RuntimeWarning,
                  stacklevel=3)
    return example


def load_config(cls, path: str | Path | None = None, overrides: Sequence[str] | dict = ()):
    """YAML file (optional) + overrides ("key=value" strings or a dict) -> a config instance."""
    values: dict = {}
    if path is not None:
        path = _config_file(Path(path))
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping of key: value")
        values.update(loaded)
    values.update(overrides if isinstance(overrides, dict) else parse_overrides(overrides))
    return config_from_dict(cls, values)


def config_to_dict(cfg) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


def config_to_yaml(cfg) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True)
