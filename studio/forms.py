"""A Gradio form generated from a config dataclass, keyed by field name.

`edithf.config.describe_fields(cls)` gives name, type, default, help, choices, group and whether
the field is optional; each field becomes one component inside an accordion per group. Values
come back as a dict by name (never by position: kohya_ss's lesson), and
`edithf.config.config_from_dict` coerces and validates them exactly as the YAML file and the
command line would. `form_values` goes the other way (a preset YAML into the form).
"""
from __future__ import annotations

import gradio as gr
import yaml

from edithf.config import config_from_dict, describe_fields

AUTO = "auto (leave empty)"


def _is_auto_number(row: dict) -> bool:
    """An Optional[int | float] field: empty means None, which the config reads as "auto"."""
    return row["optional"] and row["type"] in ("int", "float")


def _text(row: dict, value) -> str:
    """A value as the form's text box shows it (lists as the CLI takes them: "a, b")."""
    if value is None:
        return ""
    if row["type"] == "list":
        return ", ".join(str(v) for v in value)
    if row["type"] == "dict":
        return yaml.safe_dump(value or {}).strip()
    return str(value)


def _component(row: dict, default):
    name, kind = row["name"], row["type"]
    common = dict(label=name, info=row["help"] or None, elem_id=f"field-{name}")
    if row["choices"]:
        multi = kind == "list"
        return gr.Dropdown(choices=row["choices"], value=default, multiselect=multi, **common)
    if kind == "bool":
        return gr.Checkbox(value=bool(default), **common)
    if _is_auto_number(row):
        # A text box, not gr.Number: a Number box has no empty state and the browser sends 0
        # for it once its accordion is opened, which silently turned `beta: auto` into beta 0.
        return gr.Textbox(value=_text(row, default), placeholder=AUTO, **common)
    if kind in ("int", "float"):
        return gr.Number(value=default, precision=0 if kind == "int" else None, **common)
    return gr.Textbox(value=_text(row, default), **common)


def build_form(cls, defaults: dict | None = None) -> dict[str, gr.components.Component]:
    """Components for every field of `cls`, grouped in accordions; returns {name: component}.
    Call inside a gr.Blocks context."""
    defaults = defaults or {}
    rows = describe_fields(cls)
    groups = list(dict.fromkeys(r["group"] for r in rows))
    fields: dict[str, gr.components.Component] = {}
    for i, group in enumerate(groups):
        with gr.Accordion(group, open=i == 0, elem_classes=["config-group"]):
            for row in (r for r in rows if r["group"] == group):
                fields[row["name"]] = _component(row, defaults.get(row["name"], row["default"]))
    return fields


def form_values(cls, values: dict) -> list:
    """Field values (a preset YAML's mapping; missing keys take the dataclass default) -> the
    form's values in field order, as each component shows them."""
    out = []
    for row in describe_fields(cls):
        value = values.get(row["name"], row["default"])
        if row["choices"] or row["type"] == "bool" or (row["type"] in ("int", "float") and not _is_auto_number(row)):
            out.append(value)
        else:
            out.append(_text(row, value))
    return out


def _clean(row: dict, value):
    if _is_auto_number(row):
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) and value == 0:
            return None  # a Number box's empty state (an API client, an older page): auto, not 0
    if row["type"] == "list" and isinstance(value, str) and not value.strip():
        return []
    if row["type"] == "dict" and isinstance(value, str):
        return yaml.safe_load(value) or {}
    if isinstance(value, float) and value.is_integer() and row["type"] == "int":
        return int(value)  # gr.Number gives 16.0 for an int field
    return value


def values_to_config(cls, names: list[str], values) -> object:
    """Form values (in the order of `names`) -> a validated config; ConfigError names the field."""
    by_name = dict(zip(names, values, strict=True))
    rows = {r["name"]: r for r in describe_fields(cls)}
    return config_from_dict(cls, {name: _clean(rows[name], value) for name, value in by_name.items()})
