"""The `edithf` command line. Each verb lives in `edithf/commands/<module>.py` with
`add_arguments(parser)` and `run(args) -> int`, imported only when that verb runs, so
`edithf --help` is instant.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import sys

# verb -> (module under edithf.commands, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "build the synthetic demo benchmark (edithf demo build OUT)"),
    "data": ("data", "process raw annotations, import public benchmark layouts, validate a dataset"),
    "metrics": ("metrics", "SRCC/PLCC/KRCC/RMSE, within-group SRCC and pair accuracy of predictions"),
    "leaderboard": ("leaderboard", "per-editor / per-task leaderboards with Bradley-Terry CIs"),
    "score": ("score", "score one edit with any scorer, JSON out"),
    "predict": ("predict", "score a whole dataset with any scorer (batched, resumable)"),
    "scorers": ("scorers", "list the scorers of the registry with their metadata"),
    "sanity": ("sanity", "sanity probes of a scorer: black image, random instruction, identity edit ..."),
    "train": ("train", "train an EditHF evaluator (textual, pointwise, pairwise stages)"),
    "eval": ("eval", "evaluate a scorer on a public benchmark with its own protocol"),
    "reward": ("reward", "best-of-N selection and dataset curation with a scorer as reward"),
    "pairs": ("pairs", "build DPO preference pairs (Self-DPO: seeds of one editor; Global-DPO: human ranks)"),
    "dpo": ("dpo", "Diffusion-/Flow-DPO fine-tuning of a diffusers editing pipeline"),
    "studio": ("studio", "launch the Gradio studio (same as python app.py)"),
    "serve": ("serve", "serve a scorer's batched reward over HTTP on localhost (for online RL)"),
}


def _top_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {verb:<12} {help_}" for verb, (_, help_) in VERBS.items())
    parser = argparse.ArgumentParser(
        prog="edithf",
        description="EditHF: score, train and use text-guided image-edit evaluators.",
        epilog=f"commands:\n{lines}\n\n`edithf COMMAND --help` for the options of one command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", nargs="?", help="one of the commands below")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser


def parse_command(verb: str, argv: list[str]):
    """(the command's module, its parsed arguments) for `edithf VERB ARGV...`."""
    module = importlib.import_module(f"edithf.commands.{VERBS[verb][0]}")
    parser = argparse.ArgumentParser(prog=f"edithf {verb}", description=VERBS[verb][1])
    module.add_arguments(parser)
    # a command may keep an older spelling of its arguments (e.g. `edithf dpo CONFIG.yaml`)
    return module, parser.parse_args(getattr(module, "normalize_argv", list)(argv))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0
    if argv[0] == "--version":
        from edithf import __version__

        print(__version__)
        return 0
    verb = argv[0]
    if verb not in VERBS:
        top.print_usage(sys.stderr)
        print(f"edithf: unknown command {verb!r}; choose from {', '.join(VERBS)}", file=sys.stderr)
        return 2
    module, args = parse_command(verb, argv[1:])
    try:
        with _our_warnings_as_notes(verb):
            return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("edithf: interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, KeyError) as exc:
        # Our errors carry a message meant for the user; show it without a traceback.
        if _wants_traceback():  # EDITHF_TRACEBACK=1 shows the full traceback
            raise
        print(f"edithf {verb}: error: {exc}", file=sys.stderr)
        return 1


@contextlib.contextmanager
def _our_warnings_as_notes(verb: str):
    """While a command runs, EditHF's RuntimeWarnings (predictions missing for some edits, a
    dimension not judged ...) are notes for the user: one line on stderr, without the source file
    and line Python would print. Warnings from other libraries keep Python's format."""
    import os
    import warnings

    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, RuntimeWarning) and os.path.abspath(filename).startswith(package):
            print(f"edithf {verb}: note: {message}", file=file or sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = default


def _wants_traceback() -> bool:
    import os

    return os.environ.get("EDITHF_TRACEBACK", "") not in ("", "0")


if __name__ == "__main__":
    raise SystemExit(main())
