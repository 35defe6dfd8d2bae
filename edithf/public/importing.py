"""`import_benchmark`: a benchmark's published files -> a checked dataset folder."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from edithf.data.dataset import DatasetError, check_output, load_dataset, write_output_marker
from edithf.public.base import COMPARISON_COLUMNS, ImportFormatError, Imported
from edithf.utils.io import atomic_dir, write_table


def import_benchmark(fmt: str, src, out, **options) -> Path:
    """Import `src` (a file or folder in the published layout of `fmt`) into the dataset folder
    `out` (written atomically; an existing `out` is replaced only if EditHF wrote it, and never
    when it is or contains `src`). The written folder is validated like `edithf data validate`:
    an import that would write a dataset the validator rejects fails instead. Returns `out`; the
    report lands in `out/import_report.json`."""
    from edithf.public import get_benchmark

    bench = get_benchmark(fmt)
    unknown = sorted(k for k, v in options.items() if v is not None and k not in bench.import_options)
    if unknown:
        raise ValueError(f"{fmt} takes no import option {unknown}"
                         + (f"; it takes {list(bench.import_options)}" if bench.import_options else ""))
    options = {k: v for k, v in options.items() if v is not None}
    # absolute once, here: importers join relative paths found in the files onto it
    src, out = Path(src).absolute(), Path(out)
    if not src.exists():
        raise FileNotFoundError(f"benchmark source not found: {src}")
    check_output(out, src)
    with atomic_dir(out) as tmp:
        result = bench.importer(src, tmp, **options)
        if not result.edits:
            raise ImportFormatError(src, "nothing to import: no edit had all its images")
        _write(result, tmp, fmt, src)
        try:
            load_dataset(tmp)
        except DatasetError as exc:
            raise ImportFormatError(src, f"the imported dataset would not be valid ({exc}); fix the source "
                                    "files (or the column map) and import again") from exc
        write_output_marker(tmp, f"edithf data import {fmt}", out)
    return out


def _write(result: Imported, tmp: Path, fmt: str, src: Path) -> None:
    write_table(pd.DataFrame(result.edits), tmp / "edits.parquet")
    if result.comparisons:
        write_table(pd.DataFrame(result.comparisons, columns=list(COMPARISON_COLUMNS)), tmp / "comparisons.parquet")
    if result.human:
        write_table(pd.DataFrame(result.human), tmp / "human.parquet")
    meta = {"name": f"{fmt} (imported)", "source_format": fmt, "source": str(src), "synthetic": False}
    (tmp / "dataset.json").write_text(json.dumps(meta, indent=2))
    report = {"format": fmt, "edits": len(result.edits), **result.report}
    (tmp / "import_report.json").write_text(json.dumps(report, indent=2, default=str))
