"""LoRA targets as peft matches them, checked before peft wraps a model: an item of the targets
that matches no module would leave the layers it meant silently untrained (peft itself only
refuses targets that match nothing at all). Used by the EditHF model and the DPO trainer.

Targets come in peft's two forms: a list of module names (an item matches a module of that name
or whose dotted name ends with `.item`: `to_q`, `to_out.0`), or one regex string that must match
a module's full name (`re.fullmatch`); its items are its top-level alternatives (`A|B|C`).
"""
from __future__ import annotations

import contextlib
import re
import warnings

from edithf.config import ConfigError


@contextlib.contextmanager
def quiet_peft():
    """Around peft wrapping or loading a transformers model: peft reads transformers' deprecated
    `is_gradient_checkpointing` alias, a FutureWarning on every load that our user can do nothing
    about."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


def regex_alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex: `a|(b|c)` -> ["a", "(b|c)"] (escapes, groups and
    character classes are kept whole)."""
    parts, start, depth, in_class, i = [], 0, 0, False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 1  # skip the escaped character
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]":
                i += 1  # "[]...]": a leading ] belongs to the class
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    return parts + [pattern[start:]]


def target_items(targets) -> list[str]:
    """The items of a target spec: a list's names, or a regex string's top-level alternatives."""
    return regex_alternatives(targets) if isinstance(targets, str) else list(targets)


def matches_item(name: str, item: str, regex: bool) -> bool:
    """Does the module `name` match one target item, as peft decides it."""
    return bool(re.fullmatch(item, name)) if regex else name == item or name.endswith(f".{item}")


def matches_targets(name: str, targets) -> bool:
    """Does the module `name` get LoRA under these targets (a regex string or a list of names)."""
    regex = isinstance(targets, str)
    return any(matches_item(name, item, regex) for item in target_items(targets))


def check_lora_targets(module, targets, what: str) -> None:
    """Every item of `targets` must match a module of `module` (a torch module; `what` names it in
    the error, which also lists the names of its linear layers to choose from)."""
    import torch

    regex = isinstance(targets, str)
    names = [n for n, _ in module.named_modules() if n]
    missing = [t for t in target_items(targets) if not any(matches_item(n, t, regex) for n in names)]
    if missing:
        leaves = sorted({n.rsplit(".", 1)[-1] for n, m in module.named_modules() if isinstance(m, torch.nn.Linear)})
        form = " (alternatives of the regex, matched against full module names)" if regex else ""
        raise ConfigError(f"lora_targets {missing}{form} match no module of the {what}; "
                          f"its linear layers are named {leaves[:20]}")
