"""`edithf eval`: a scorer on a public benchmark, with its protocol, beside the published numbers."""
from __future__ import annotations

import json
from pathlib import Path


def add_arguments(parser) -> None:
    from edithf.commands.scorers import add_scorer_argument
    from edithf.public import BENCHMARKS
    from edithf.public.editreward_bench import GROUP_TIES

    add_scorer_argument(parser, default=None, help_="the scorer, e.g. classic or edithf:runs/x/best (alias --model)")
    parser.add_argument("--benchmark", choices=sorted(BENCHMARKS), help="the benchmark's layout")
    parser.add_argument("--data", help="the benchmark's files (published layout) or an imported folder")
    parser.add_argument("--work", help="where to import the benchmark (default: beside --data)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--tie-margin", type=float, default=None,
                        help="genai-bench, aurora: |score difference| at or below which the scorer calls a tie (default 0)")
    parser.add_argument("--bad-threshold", type=float, default=None, help="genai-bench: both scores below this -> 'both bad'")
    parser.add_argument("--group-ties", choices=GROUP_TIES, default=None,
                        help="editreward-bench: how K=2 human-tie groups are judged: 'epsilon' (default; EditReward's "
                             "own evaluation, comparable with their published numbers: |difference| <= the tuned tie "
                             "threshold) or 'drop' (left out)")
    parser.add_argument("--results", default="eval_results.json", help="JSON file collecting results across runs")
    parser.add_argument("--table", action="store_true", help="only print the Table 5 view of --results")
    parser.add_argument("--json", action="store_true", help="print this run's metrics as JSON")


def run(args) -> int:
    from edithf.public import append_result, evaluate_benchmark, table5
    from edithf.public.evaluate import table5_notes
    from edithf.utils.io import json_safe

    if args.table:
        results = json.loads(Path(args.results).read_text()) if Path(args.results).is_file() else []
    else:
        if not (args.scorer and args.benchmark and args.data):
            raise ValueError("give --scorer, --benchmark and --data (or --table to print collected results)")
        result = evaluate_benchmark(args.scorer, args.benchmark, args.data, work=args.work, batch_size=args.batch_size,
                                    tie_margin=args.tie_margin, bad_threshold=args.bad_threshold,
                                    group_ties=args.group_ties)
        if args.json:
            print(json.dumps(json_safe(result), indent=2, allow_nan=False))
        else:
            for key, value in result["metrics"].items():
                print(f"  {key:<28} {value:.4f}" if isinstance(value, float) else f"  {key:<28} {value}")
        results = append_result(Path(args.results), result)
    print("\nTable 5 shape (rows marked 'published' are the paper's numbers, not measured here):")
    print(table5(results).to_string(float_format=lambda v: f"{v:.3f}", na_rep="–"))
    notes = table5_notes(results)
    if notes:
        print("\nmeasured cells:\n  " + "\n  ".join(notes))
    return 0
