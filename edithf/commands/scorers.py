"""`edithf scorers`: the registry of scorers with their metadata. Also the `--scorer` option
every command that takes a scorer shares (`--model` is kept as an alias)."""
from __future__ import annotations

import dataclasses
import json
import os
import sys

SCORER_ENV = "EDITHF_SCORER"  # the default scorer of the commands that need a judgement


def add_scorer_argument(parser, default: str | None = "classic", help_: str | None = None,
                        required: bool = False) -> None:
    """`--scorer NAME` (alias `--model`): the judge, a registry name (`edithf scorers`)."""
    parser.add_argument("--scorer", "--model", dest="scorer", default=default, required=required,
                        help=help_ or f"the scorer (the judge): a registry name, see `edithf scorers`; default {default}")


def add_judging_scorer_argument(parser) -> None:
    """`--scorer` for commands whose result is a judgement of instruction following (preference
    pairs): the trained evaluator, from EDITHF_SCORER when not given; required otherwise."""
    default = os.environ.get(SCORER_ENV) or None
    add_scorer_argument(parser, default=default, help_=(
        "the scorer that judges the edits, normally a trained evaluator `edithf:<run>/best`; default: "
        f"${SCORER_ENV} ({default or 'unset'}). Weight-free scorers (classic, dummy ...) ignore the instruction"))


def require_judging_scorer(name: str | None, command: str) -> str:
    """The scorer name, or an error saying how to give one; a warning on stderr when the scorer
    cannot read the instruction (its pairs would not reward instruction following)."""
    from edithf.evaluators.registry import get_info

    if not name:
        raise ValueError(f"{command} needs a scorer: --scorer edithf:<run>/best (a trained evaluator), or set "
                         f"{SCORER_ENV}; `--scorer classic` only if pairs that ignore the instruction are meant")
    if not get_info(name).reads_prompt:
        print(f"warning: scorer {name!r} is weight-free and ignores the instruction: its preferences reward "
              "image statistics / similarity to the source, not following the prompt", file=sys.stderr)
    return name


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the metadata as JSON")


def run(args) -> int:
    from edithf.evaluators.registry import list_evaluators

    infos = [dataclasses.asdict(info) for info in list_evaluators()]
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    print(text_table(infos))
    return 0


# (column, how it reads from the info dict): what a scorer judges first, then what it needs
COLUMNS = (
    ("name", lambda i: i["name"] + (":<path>" if i["takes_argument"] else "")),
    ("judges", lambda i: ",".join(i["dimensions"])),
    ("reads prompt", lambda i: _yes(i["reads_prompt"])),
    ("range", lambda i: f"{i['score_range'][0]:g}-{i['score_range'][1]:g}"),
    ("higher better", lambda i: _yes(i["higher_is_better"])),
    ("needs weights", lambda i: _yes(i["needs_weights"])),
    ("needs gpu", lambda i: _yes(i["needs_gpu"])),
    ("levels", lambda i: _yes(i["gives_levels"])),
    ("description", lambda i: i["description"]),
)


def _yes(flag) -> str:
    return "yes" if flag else "no"


def text_table(infos: list[dict]) -> str:
    """One line per scorer, columns as wide as their widest cell (the description is last, unpadded)."""
    cells = [[read(info) for _, read in COLUMNS] for info in infos]
    heads = [head for head, _ in COLUMNS]
    widths = [max(len(row[c]) for row in [heads, *cells]) for c in range(len(heads) - 1)]
    return "\n".join(" ".join([*(v.ljust(w) for v, w in zip(row, widths)), row[-1]]).rstrip()
                     for row in [heads, *cells])
