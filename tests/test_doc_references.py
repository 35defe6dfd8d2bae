"""Every repository path the project cites exists: in code (comments, docstrings, messages),
in docs/*.md and README.md, and in the `--help` texts of every command. Also every
"docs/X.md section N" names a numbered section of that page, every relative Markdown link
resolves, and every dotted `edithf.module.name` a doc cites is a module (and a name in it)."""
from __future__ import annotations

import argparse
import ast
import importlib
import io
import re
import tokenize
from pathlib import Path

import pytest

from edithf.cli import VERBS, _top_parser

ROOT = Path(__file__).parents[1]
TOP_DIRS = ("docs", "configs", "benchmarks", "edithf", "studio", "notebooks", "tests", "scripts")
EXTENSIONS = ("md", "yaml", "yml", "py", "ipynb", "sh", "toml", "json", "png")
# a path inside the repository: starts with one of its top folders, ends with a known extension
REPO_PATH = re.compile(
    rf"(?<![\w./~-])((?:{'|'.join(TOP_DIRS)})/[\w./-]*?\.(?:{'|'.join(EXTENSIONS)}))(?![\w/-])")
SECTION = re.compile(r"(docs/[\w-]+\.md),? section (\d+)")
MD_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
DOTTED = re.compile(r"`(edithf(?:\.\w+)+)")


def source_files() -> list[Path]:
    files = [ROOT / "app.py", ROOT / "README.md", ROOT / "pyproject.toml"]
    for top in ("edithf", "studio", "tests", "benchmarks", "scripts", "configs", "docs", "notebooks"):
        for pattern in ("*.py", "*.md", "*.yaml", "*.sh", "*.ipynb"):
            files += (ROOT / top).rglob(pattern)
    return sorted(f for f in files if f.is_file())


def docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def help_texts() -> dict[str, str]:
    """`edithf --help` and the --help of every verb and sub-verb, built in-process."""
    texts = {"edithf": _top_parser().format_help()}

    def walk(name: str, parser: argparse.ArgumentParser) -> None:
        texts[name] = parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, subparser in action.choices.items():
                    walk(f"{name} {sub}", subparser)

    for verb, (module, help_) in VERBS.items():
        parser = argparse.ArgumentParser(prog=f"edithf {verb}", description=help_)  # as edithf.cli builds it
        importlib.import_module(f"edithf.commands.{module}").add_arguments(parser)
        walk(f"edithf {verb}", parser)
    return texts


def missing_paths(text: str) -> list[str]:
    return sorted({p for p in REPO_PATH.findall(text) if not (ROOT / p).exists()})


def comments_and_docstrings(source: str) -> str:
    """What a test file says in prose: its other strings are fixtures, not citations."""
    comments = [tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT]
    nodes = [n for n in ast.walk(ast.parse(source))
             if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    return "\n".join(comments + [doc for n in nodes if (doc := ast.get_docstring(n))])


def cited_text(file: Path) -> str:
    """The whole file, except in tests/*.py (see comments_and_docstrings)."""
    text = file.read_text(errors="replace")
    return comments_and_docstrings(text) if file.suffix == ".py" and file.parent.name == "tests" else text


def test_paths_cited_in_code_docs_and_configs_exist():
    missing = {}
    for file in source_files():
        if file == Path(__file__):
            continue
        found = missing_paths(cited_text(file))
        if found:
            missing[str(file.relative_to(ROOT))] = found
    assert not missing, f"cited paths that are not in the repository: {missing}"


def test_paths_cited_in_help_texts_exist():
    missing = {name: found for name, text in help_texts().items() if (found := missing_paths(text))}
    assert not missing, f"--help texts cite paths that are not in the repository: {missing}"


def test_help_texts_cover_every_verb():
    texts = help_texts()
    assert set(VERBS) <= {name.split()[1] for name in texts if " " in name}
    assert all(text.strip() for text in texts.values())


def test_cited_sections_exist():
    wrong = []
    for file in source_files():
        for page, number in SECTION.findall(file.read_text(errors="replace")):
            target = ROOT / page
            if not target.exists() or not re.search(rf"^## {number}\. ", target.read_text(), re.M):
                wrong.append(f"{file.relative_to(ROOT)}: {page} section {number}")
    assert not wrong, f"cited sections that do not exist: {sorted(set(wrong))}"


def test_relative_markdown_links_resolve():
    broken = []
    for page in docs():
        for target in MD_LINK.findall(page.read_text()):
            if "://" not in target and not target.startswith("mailto:") and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, f"broken links: {broken}"


def _module_and_rest(dotted: str) -> tuple[Path | None, list[str]]:
    """The source file of the longest module prefix of `dotted`, and the names after it."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:n])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate, parts[n:]
    return None, parts


def test_dotted_names_in_docs_exist():
    wrong = []
    for page in docs():
        for dotted in set(DOTTED.findall(page.read_text())):
            module, rest = _module_and_rest(dotted)
            if module is None or len(rest) > 2 or (rest and not re.search(rf"\b{rest[0]}\b", module.read_text())):
                wrong.append(f"{page.relative_to(ROOT)}: {dotted}")
    assert not wrong, f"docs cite modules or names that do not exist: {sorted(wrong)}"


@pytest.mark.parametrize("text, expected", [
    ("see docs/nowhere.md and configs/train_tiny.yaml.", ["docs/nowhere.md"]),
    ("runs/x/config.yaml, demo/edits.parquet, ~/edithf/x.py, https://x.org/docs/y.md", []),
    ("(`edithf/dpo/missing_module.py`)", ["edithf/dpo/missing_module.py"]),
])
def test_the_path_pattern_finds_repository_paths_only(text, expected):
    assert missing_paths(text) == expected
