"""A Gradio form generated from a config dataclass, keyed by field name.

`edithf.config.describe_fields(cls)` gives name, type, default, help, choices and group; each
field becomes one component inside an accordion per group. Values come back as a dict by
name (never by position: kohya_ss's lesson), and `edithf.config.config_from_dict` coerces and
validates them exactly as the YAML file and the command line would.
"""
from __future__ import annotations

import gradio as gr
import yaml

from edithf.config import config_from_dict, describe_fields


def _component(row: dict, default_override=None):
    name, kind, default = row["name"], row["type"], row["default"]
    if default_override is not None:
        default = default_override
    common = dict(label=name, info=row["help"] or None, elem_id=f"field-{name}")
    if row["choices"]:
        multi = kind == "list"
        return gr.Dropdown(choices=row["choices"], value=default, multiselect=multi, **common)
    if kind == "bool":
        return gr.Checkbox(value=bool(default), **common)
    if kind in ("int", "float"):
        return gr.Number(value=default, precision=0 if kind == "int" else None, **common)
    if kind in ("list", "dict"):
        # Lists are typed as the CLI takes them: "1, 2" or "[1, 2]"; dicts as YAML.
        text = ", ".join(str(v) for v in default) if kind == "list" else yaml.safe_dump(default or {}).strip()
        return gr.Textbox(value=text, **common)
    return gr.Textbox(value="" if default is None else str(default), **common)


def build_form(cls, defaults: dict | None = None) -> dict[str, gr.components.Component]:
    """Components for every field of `cls`, grouped in accordions; returns {name: component}.
    Call inside a gr.Blocks context."""
    defaults = defaults or {}
    rows = describe_fields(cls)
    groups = list(dict.fromkeys(r["group"] for r in rows))
    fields: dict[str, gr.components.Component] = {}
    for i, group in enumerate(groups):
        with gr.Accordion(group, open=i == 0):
            for row in (r for r in rows if r["group"] == group):
                fields[row["name"]] = _component(row, defaults.get(row["name"]))
    return fields


def _clean(value):
    """gr.Number gives 16.0 for an int field; config_from_dict wants 16."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def values_to_config(cls, names: list[str], values) -> object:
    """Form values (in the order of `names`) -> a validated config; ConfigError names the field."""
    by_name = dict(zip(names, values, strict=True))
    kinds = {r["name"]: r["type"] for r in describe_fields(cls)}
    cleaned = {}
    for name, value in by_name.items():
        if kinds[name] == "list" and isinstance(value, str) and not value.strip():
            value = []
        elif kinds[name] == "dict" and isinstance(value, str):
            value = yaml.safe_load(value) or {}
        cleaned[name] = _clean(value)
    return config_from_dict(cls, cleaned)

