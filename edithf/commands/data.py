"""`edithf data`: process raw annotations, validate a dataset folder, import a public layout.

    edithf data process RAW OUT [--seed 0] [--tolerance 10] ...
    edithf data validate DATASET [--no-images]
    edithf data import FORMAT SRC OUT [--map NAME=COLUMN ...]

OUT is written atomically. An existing OUT is replaced only if EditHF wrote it (it holds
.edithf-output.json); OUT may never be or contain the input.
"""
from __future__ import annotations

import argparse


def _ratios(text: str) -> tuple[float, ...]:
    parts = [p for p in text.replace(":", ",").split(",") if p.strip()]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ratios must be three numbers like 5,1,1, got {text!r}")
    if len(values) != 3 or min(values) < 0 or sum(values) <= 0:
        raise argparse.ArgumentTypeError(f"ratios must be three non-negative numbers like 5,1,1, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="{process,validate,import}")

    process = sub.add_parser("process", help="raw ratings/rankings -> MOS, ranks, pairs, splits, report")
    process.add_argument("raw", help="raw dataset folder (edits + ratings and/or rankings)")
    process.add_argument("out", help="output folder (written atomically; an existing one is replaced only if EditHF "
                                     "wrote it, and it may not be or contain RAW)")
    process.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    process.add_argument("--ratios", type=_ratios, default=(5, 1, 1), help="train,val,test ratios (default 5,1,1)")
    process.add_argument("--resplit", action="store_true", help="recompute the split even if the raw edits have one")
    process.add_argument("--outlier-sigma", type=float, default=2.0, help="BT.500 outlier distance in SD (default 2)")
    process.add_argument("--max-outlier-fraction", type=float, default=0.05,
                         help="remove an annotator above this share of outliers (default 0.05)")
    process.add_argument("--rescale", choices=["minmax", "z3"], default="minmax",
                         help="z-MOS -> [0, 100]: min-max over the dataset, or (z+3)/6 (default minmax)")
    process.add_argument("--min-agreement", type=float, default=0.5,
                         help="flag groups whose Kendall's W is below this (default 0.5)")
    process.add_argument("--tolerance", type=float, default=10.0,
                         help="drop pairs whose MOS contradicts the ranks by more than this many points (default 10)")

    validate = sub.add_parser("validate", help="check a dataset folder; errors name table, row and column")
    validate.add_argument("dataset", help="dataset folder")
    validate.add_argument("--no-images", action="store_true", help="do not check that image files exist")

    imp = sub.add_parser("import", help="bring a public benchmark layout into the interchange format",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         description="layouts (details in docs/data.md):\n" + "\n".join(
                             f"  {name:<17} {b.summary}" for name, b in _benchmarks().items()))
    imp.add_argument("format", choices=sorted(_benchmarks()), help="the benchmark's layout (docs/data.md)")
    imp.add_argument("src", help="folder (or file) of the downloaded benchmark")
    imp.add_argument("out", help="output dataset folder (same rules as `process` OUT)")
    imp.add_argument("--map", action="append", default=None, metavar="NAME=COLUMN", type=_mapping,
                     help="edithf-1m: read interchange column NAME (category, index, model, prompt, mos_quality, "
                          "mos_alignment, mos_preservation) from the CSV column COLUMN; repeatable")


def _benchmarks():
    from edithf.public import BENCHMARKS

    return BENCHMARKS


def _mapping(text: str) -> tuple[str, str]:
    name, sep, column = text.partition("=")
    if not sep or not name.strip() or not column.strip():
        raise argparse.ArgumentTypeError(f"--map takes NAME=COLUMN, e.g. category=edit_type; got {text!r}")
    return name.strip(), column.strip()


def run(args) -> int:
    return {"process": _process, "validate": _validate, "import": _import}[args.action](args)


def _process(args) -> int:
    from edithf.data.annotations import process_folder

    report = process_folder(
        args.raw, args.out, seed=args.seed, ratios=args.ratios, resplit=args.resplit,
        outlier_sigma=args.outlier_sigma, max_outlier_fraction=args.max_outlier_fraction,
        rescale=args.rescale, min_agreement=args.min_agreement, tolerance=args.tolerance,
    )
    sizes = report["split"]["sizes"]
    pairs = report.get("pairs", {}).get("n_kept", 0)
    print(f"wrote {args.out}: {pairs} pairs; split " + ", ".join(f"{s} {v['edits']}" for s, v in sizes.items())
          + f"; details in {args.out}/report.md")
    return 0


def _validate(args) -> int:
    from edithf.data.dataset import load_dataset

    ds = load_dataset(args.dataset, check_images=not args.no_images)
    counts = ", ".join(f"{len(t)} {name}" for name in ("edits", "ratings", "rankings", "pairs")
                       if (t := getattr(ds, name)) is not None)
    print(f"{args.dataset}: valid ({counts})")
    for note in ds.notes:
        print(f"  note: {note}")
    return 0


def _import(args) -> int:
    from edithf.public import import_benchmark

    column_map = dict(args.map) if args.map else None
    out = import_benchmark(args.format, args.src, args.out, column_map=column_map)
    print(f"imported {args.format} from {args.src} into {out}; details in {out}/import_report.json")
    return 0
