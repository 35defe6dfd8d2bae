"""`edithf metrics DATASET PREDICTIONS`: how well a scorer's predictions agree with the humans."""
from __future__ import annotations

import json


def add_arguments(parser) -> None:
    parser.add_argument("dataset", help="dataset folder (interchange format) with MOS / ranks / pairs")
    parser.add_argument("predictions", help="predictions table (.parquet/.csv/.jsonl): edit_id + dimension columns")
    parser.add_argument("--split", default="test", help="train, val, test, or all (default test)")
    parser.add_argument("--format", default="table", choices=["table", "json"], help="output format")
    parser.add_argument("--dimensions", default=None,
                        help="comma-separated dimensions to evaluate (default quality,alignment,preservation)")


def run(args) -> int:
    import warnings

    from edithf.data.dataset import load_dataset
    from edithf.data.schema import DIMENSIONS
    from edithf.metrics import evaluate_predictions, metrics_table
    from edithf.utils.io import json_safe, read_table

    dataset = load_dataset(args.dataset, check_images=False)
    predictions = read_table(args.predictions)
    dims = DIMENSIONS if args.dimensions is None else tuple(d.strip() for d in args.dimensions.split(",") if d.strip())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        results = evaluate_predictions(dataset, predictions, split=args.split, dimensions=dims)
    notes = sorted({str(w.message) for w in caught})
    if args.format == "json":  # a metric that cannot be computed is null, never NaN (invalid JSON)
        print(json.dumps(json_safe({**results, "notes": notes}), indent=1, default=float, allow_nan=False))
    else:
        print(metrics_table(results).to_string(float_format=lambda v: f"{v:.4f}", na_rep="n/a"))
        for note in notes:
            print(f"note: {note}")
    return 0
