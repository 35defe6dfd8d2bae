"""Public benchmarks, one record each (`Benchmark`: importer, protocol, headline metric).

    from edithf.public import BENCHMARKS, import_benchmark, evaluate_benchmark
    import_benchmark("genai-bench", "GenAI-Bench/", "genai_imported/")   # `edithf data import`
    evaluate_benchmark("classic", "genai-bench", "genai_imported/")      # `edithf eval`

Adding a benchmark = one module with its importer, protocol and `BENCHMARK` record, listed in
`BENCHMARKS` below. docs/data.md ("Public benchmarks") describes each layout and protocol.
"""
from __future__ import annotations

from edithf.public import (
    aurora, edithf_1m, editreward_bench, editreward_pairs, editscore_bench, genai_bench, imagenhub,
)
from edithf.public.base import Benchmark, ImportFormatError

BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (
    genai_bench.BENCHMARK, editreward_bench.BENCHMARK, editreward_pairs.BENCHMARK, editscore_bench.BENCHMARK,
    imagenhub.BENCHMARK, aurora.BENCHMARK, edithf_1m.BENCHMARK,
)}


def get_benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


from edithf.public.importing import import_benchmark  # noqa: E402  (needs get_benchmark above)
from edithf.public.evaluate import append_result, evaluate_benchmark, table5  # noqa: E402

__all__ = ["BENCHMARKS", "Benchmark", "ImportFormatError", "get_benchmark", "import_benchmark",
           "evaluate_benchmark", "table5", "append_result"]
