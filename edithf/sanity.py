"""Sanity probes of a scorer: what any sound edit evaluator must do, checked with numbers.

    report = run_sanity("classic")            # the demo benchmark by default
    print(report.table()); report.to_dict()

Each probe scores n real edits (one per group) and a perturbed version of them, and states
the expectation and whether this scorer meets it (PASS / FAIL; SKIP when it does not apply):

- black:     the edit replaced by a black image      -> quality drops
- noise:     the edit replaced by uniform noise       -> quality and alignment drop
- instruction: the prompt of another group           -> alignment drops
- identity:  edited = source                          -> preservation stays high (at least
             the real edits'), alignment drops below the real edits'
- swap:      source and edit swapped                  -> scores change
- constant:  every dimension almost constant over all these very different inputs (the
             "always 42" failure)                     -> FAIL
- dimensions: the three dimensions identical (or perfectly correlated) -> FAIL
- adapters:  LoRA B matrices of an `edithf:` / `edithf-official:` checkpoint all zero (an
             adapter that was never trained: it changes nothing) -> FAIL

"Drops" means the mean over the n items falls by at least `min_drop` points (of 0-100).
Scorers that ignore the prompt but still give an alignment number (dummy) fail the
instruction probe: that is the probe doing its job. A dimension a scorer does not judge (NaN,
e.g. `classic` on alignment) is left out of every probe, and a probe with nothing left to
check is SKIP, saying why.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from edithf.data.dataset import load_dataset
from edithf.data.images import load_image
from edithf.data.schema import DIMENSIONS
from edithf.demo import ensure_demo
from edithf.predict import resolve_evaluator

NEAR_CONSTANT_STD = 1.0  # points of 0-100: below this on every dimension = "always 42"


@dataclass
class ProbeResult:
    name: str
    expectation: str
    status: str  # PASS / FAIL / SKIP
    numbers: dict = field(default_factory=dict)


@dataclass
class SanityReport:
    scorer: str
    dataset: str
    n: int
    probes: list[ProbeResult]

    @property
    def passed(self) -> bool:
        return all(p.status != "FAIL" for p in self.probes)

    def probe(self, name: str) -> ProbeResult:
        return next(p for p in self.probes if p.name == name)

    def to_dict(self) -> dict:
        return {"scorer": self.scorer, "dataset": self.dataset, "n": self.n, "passed": self.passed,
                "probes": [asdict(p) for p in self.probes]}

    def table(self) -> str:
        lines = [f"sanity of {self.scorer} on {self.n} edits of {self.dataset}", ""]
        for p in self.probes:
            numbers = ", ".join(f"{k}={_fmt(v)}" for k, v in p.numbers.items())
            lines.append(f"{p.status:<5} {p.name:<12} {p.expectation}")
            if numbers:
                lines.append(f"{'':<18} {numbers}")
        fails = [p.name for p in self.probes if p.status == "FAIL"]
        lines += ["", "all probes pass" if not fails else f"FAILED: {', '.join(fails)}"]
        return "\n".join(lines)


def _fmt(v) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


# -- inputs ---------------------------------------------------------------------------------


def sample_items(dataset_dir, n: int) -> pd.DataFrame:
    """n edits from n different groups (the first edit of each of the first n groups), with
    absolute image paths."""
    ds = load_dataset(dataset_dir)
    items = ds.edits.drop_duplicates("group_id").head(n).copy()
    if len(items) < 2:
        raise ValueError(f"{dataset_dir}: the sanity probes need edits from at least 2 groups, found {len(items)}")
    for col in ("source", "edited"):
        items[col] = [str(ds.image_path(p)) for p in items[col]]
    return items.reset_index(drop=True)


def _other_prompts(prompts: list[str]) -> list[str]:
    """Each item gets the prompt of another item (a rotation skipping equal prompts)."""
    out = []
    for i, p in enumerate(prompts):
        others = [q for q in prompts[i + 1:] + prompts[:i] if q != p]
        out.append(others[0] if others else p)
    return out


def _mean(df: pd.DataFrame, dim: str) -> float:
    return float(df[dim].mean())


def judged(df: pd.DataFrame, dims=DIMENSIONS) -> list[str]:
    """The dimensions the scorer gave numbers for (NaN = it does not judge that dimension)."""
    return [d for d in dims if df[d].notna().any()]


def _not_judged(name, expectation, dims) -> ProbeResult:
    return ProbeResult(name, expectation, "SKIP", {"why": f"the scorer does not judge {' or '.join(dims)} (NaN)"})


def _drop_probe(name, expectation, base, probe, dims, min_drop) -> ProbeResult:
    numbers, ok = {}, True
    if not judged(base, dims):
        return _not_judged(name, expectation, dims)
    for d in judged(base, dims):
        before, after = _mean(base, d), _mean(probe, d)
        numbers[f"{d}_real"], numbers[f"{d}_probe"] = before, after
        numbers[f"{d}_items_dropped"] = f"{int((probe[d].to_numpy() < base[d].to_numpy()).sum())}/{len(base)}"
        ok &= before - after >= min_drop
    return ProbeResult(name, expectation, "PASS" if ok else "FAIL", numbers)


# -- adapters -------------------------------------------------------------------------------


def adapter_files(folder) -> list[Path]:
    """peft adapter weights under a checkpoint folder (its own adapter, or the published
    layout's per-dimension `llm_lora/` and `vision_lora/`)."""
    return sorted(Path(folder).rglob("adapter_model.safetensors"))


def zero_lora_b(path: Path) -> tuple[int, int]:
    """(number of lora_B tensors, how many of them are all zero) in one safetensors file."""
    from safetensors import safe_open

    total = zero = 0
    with safe_open(str(path), framework="np") as f:
        for key in f.keys():
            if "lora_B" in key:
                total += 1
                zero += int(not np.any(f.get_tensor(key)))
    return total, zero


def adapter_probe(scorer_name: str | None) -> ProbeResult:
    expectation = "LoRA B matrices of the checkpoint's adapters are not all zero"
    key, _, arg = (scorer_name or "").partition(":")
    if key not in ("edithf", "edithf-official") or not arg:
        return ProbeResult("adapters", expectation, "SKIP", {"why": "not an adapter checkpoint"})
    if not Path(arg).is_dir():
        return ProbeResult("adapters", expectation, "SKIP", {"why": f"{arg} is not a local folder"})
    files = adapter_files(arg)
    if not files:
        return ProbeResult("adapters", expectation, "SKIP", {"why": "no adapter_model.safetensors found"})
    numbers, dead = {}, []
    for path in files:
        total, zero = zero_lora_b(path)
        rel = str(path.parent.relative_to(arg)) or "."
        numbers[rel] = f"{zero}/{total} lora_B all zero"
        if total and zero == total:
            dead.append(rel)
    numbers["untrained_adapters"] = len(dead)
    return ProbeResult("adapters", expectation, "FAIL" if dead else "PASS", numbers)


# -- the probes -----------------------------------------------------------------------------


def run_sanity(evaluator, dataset_dir=None, *, n: int = 8, seed: int = 0, min_drop: float = 5.0,
               batch_size: int = 8) -> SanityReport:
    """Run every probe on `evaluator` (a name or an Evaluator) over n edits of the dataset
    (default: the demo benchmark, built once and cached)."""
    name = evaluator if isinstance(evaluator, str) else None
    ev = resolve_evaluator(evaluator)
    if dataset_dir is None:
        dataset_dir = ensure_demo()
    items = sample_items(dataset_dir, n)
    sources = [load_image(p) for p in items["source"]]
    edits = [load_image(p) for p in items["edited"]]
    prompts = items["prompt"].tolist()
    rng = np.random.default_rng(seed)
    black = [Image.new("RGB", e.size) for e in edits]
    noise = [Image.fromarray(rng.integers(0, 256, (e.size[1], e.size[0], 3), dtype=np.uint8)) for e in edits]

    def score(src, ed, pr):
        return ev.score(src, ed, pr, batch_size=batch_size)

    base = score(sources, edits, prompts)
    runs = {
        "black": score(sources, black, prompts),
        "noise": score(sources, noise, prompts),
        "instruction": score(sources, edits, _other_prompts(prompts)),
        "identity": score(sources, sources, prompts),
        "swap": score(edits, sources, prompts),
    }
    probes = [
        _drop_probe("black", "a black edited image lowers quality", base, runs["black"], ["quality"], min_drop),
        _drop_probe("noise", "a noise image lowers quality and alignment", base, runs["noise"],
                    ["quality", "alignment"], min_drop),
        _drop_probe("instruction", "another group's instruction lowers alignment", base, runs["instruction"],
                    ["alignment"], min_drop),
        _identity_probe(base, runs["identity"], min_drop),
        _swap_probe(base, runs["swap"]),
    ]
    pooled = pd.concat([base, *runs.values()], ignore_index=True)
    probes += [_constant_probe(pooled), _dimensions_probe(pooled), adapter_probe(name)]
    return SanityReport(scorer=name or repr(ev), dataset=str(dataset_dir), n=len(items), probes=probes)


def _identity_probe(base, identity, min_drop) -> ProbeResult:
    expectation = "edited = source keeps preservation high and lowers alignment vs the real edit"
    dims = judged(base, ("preservation", "alignment"))
    if not dims:
        return _not_judged("identity", expectation, ("preservation", "alignment"))
    numbers, ok = {}, True
    for d in dims:
        numbers[f"{d}_real"], numbers[f"{d}_identity"] = _mean(base, d), _mean(identity, d)
    if "preservation" in dims:
        ok &= numbers["preservation_identity"] >= numbers["preservation_real"]
    if "alignment" in dims:
        ok &= numbers["alignment_real"] - numbers["alignment_identity"] >= min_drop
    return ProbeResult("identity", expectation, "PASS" if ok else "FAIL", numbers)


def _swap_probe(base, swapped, tolerance: float = 0.5) -> ProbeResult:
    dims = judged(base)
    change = float(np.nanmean(np.abs(base[dims].to_numpy() - swapped[dims].to_numpy())))
    return ProbeResult("swap", "swapping source and edit changes the scores",
                       "PASS" if change > tolerance else "FAIL", {"mean_abs_change": change})


def _constant_probe(pooled) -> ProbeResult:
    stds = {f"std_{d}": float(pooled[d].std()) for d in judged(pooled)}
    constant = all(v < NEAR_CONSTANT_STD for v in stds.values())
    return ProbeResult("constant", f"scores vary over very different inputs (std >= {NEAR_CONSTANT_STD} on some dimension)",
                       "FAIL" if constant else "PASS", {**stds, "n_inputs": len(pooled)})


def _dimensions_probe(pooled) -> ProbeResult:
    expectation = "the dimensions it judges are different numbers"
    dims = judged(pooled)
    if len(dims) < 2:
        return ProbeResult("dimensions", expectation, "SKIP", {"why": f"the scorer judges only {', '.join(dims)}"})
    values = pooled[dims].to_numpy(dtype=np.float64)
    numbers, same = {}, []
    for i in range(len(dims)):
        for j in range(i + 1, len(dims)):
            a, b = values[:, i], values[:, j]
            identical = np.allclose(a, b, atol=1e-6)
            corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
            numbers[f"corr_{dims[i]}_{dims[j]}"] = corr
            if identical or corr > 0.999:
                same.append(f"{dims[i]}={dims[j]}")
    numbers["identical_pairs"] = ", ".join(same) or "none"
    return ProbeResult("dimensions", expectation, "FAIL" if same else "PASS", numbers)
