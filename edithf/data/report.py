"""The annotation-processing report (a dict from `process_dataset`) as readable Markdown."""
from __future__ import annotations

SHOWN = 20  # list at most this many annotators / groups; report.json has them all


def _more(total: int) -> str:
    return f" (and {total - SHOWN} more; see report.json)" if total > SHOWN else ""


def _mos_lines(mos: dict) -> list[str]:
    lines = ["## Ratings -> MOS (ITU-R BT.500 screening, z-scores)", "",
             f"- {mos['n_ratings']} ratings; {mos['n_nan_dropped']} without a score (NaN) dropped.",
             f"- Outlier: farther than {mos['outlier_sigma']:g} SD from the edit's mean; an annotator "
             f"with more than {mos['max_outlier_fraction']:.0%} outliers is removed (per dimension).",
             f"- z-MOS mapped to [{mos['scale'][0]:g}, {mos['scale'][1]:g}] by `{mos['rescale']}`.", "",
             "| dimension | ratings | outliers dropped | annotators removed | flat annotators removed "
             "| edits with MOS | z range |", "|---|---|---|---|---|---|---|"]
    for dim, r in mos["dimensions"].items():
        z = "–" if r["z_min"] is None else f"{r['z_min']:.2f} .. {r['z_max']:.2f}"
        lines.append(f"| {dim} | {r['n_ratings']} | {r['n_outlier_ratings_dropped']} | "
                     f"{len(r['rejected_annotators'])} | {len(r['flat_annotators_removed'])} | "
                     f"{r['n_edits'] - r['n_edits_without_mos']} / {r['n_edits']} | {z} |")
    for dim, r in mos["dimensions"].items():
        rejected = r["rejected_annotators"]
        if rejected:
            names = ", ".join(f"{a['annotator']} ({a['outlier_fraction']:.0%} of {a['n_ratings']})"
                              for a in rejected[:SHOWN])
            lines.append(f"- {dim}: removed for outliers: {names}{_more(len(rejected))}")
        flat = r["flat_annotators_removed"]
        if flat:
            lines.append(f"- {dim}: removed, every rating identical (sigma 0) or a single rating: "
                         f"{', '.join(flat[:SHOWN])}{_more(len(flat))}")
        if "screening_note" in r:
            lines.append(f"- {dim}: note: {r['screening_note']}")
    return lines + [""]


def _agreement_lines(a: dict) -> list[str]:
    mean_w = "–" if a["mean_w"] is None else f"{a['mean_w']:.3f}"
    lines = ["## Rankings -> averaged ranks, agreement", "",
             f"- {a['statistic']} over {a['n_groups_dimensions']} (group, dimension) cells; mean {mean_w}.",
             f"- {a['n_flagged']} flagged for re-annotation (W < {a['threshold']:g}); "
             f"{a['n_single_annotator']} with a single annotator (agreement unknown)."]
    if a["flagged"]:
        lines.append("- flagged: " + ", ".join(f"{f['group_id']}/{f['dimension']} (W={f['kendall_w']:.2f})"
                                               for f in a["flagged"][:SHOWN]) + _more(len(a["flagged"])))
    return lines + [""]


def _pairs_lines(pairs: dict, consistency: dict) -> list[str]:
    by_dim = ", ".join(f"{d} {n}" for d, n in pairs["by_dimension"].items())
    return ["## Preference pairs", "",
            f"- {pairs['n_generated']} pairs with different averaged ranks; {pairs['n_kept']} kept ({by_dim}).",
            f"- Consistency: {consistency['n_pairs_checked']} pairs have a MOS on both sides; "
            f"{consistency['n_pairs_dropped']} dropped because the MOS order contradicts the rank order by "
            f"more than {consistency['tolerance']:g} MOS points "
            f"({', '.join(f'{d} {n}' for d, n in consistency['dropped_by_dimension'].items())}).", ""]


def _split_lines(split: dict) -> list[str]:
    lines = ["## Split", ""]
    if split.get("kept"):
        lines.append("- The split of the raw edits was kept.")
    else:
        lines.append(f"- By source image, ratios {':'.join(str(r) for r in split['ratios'])}, seed {split['seed']}; "
                     f"{split['n_sources_eligible_for_test']} sources have a MOS and ranks on every edit "
                     "(only those can be in test).")
    for name, sizes in split["sizes"].items():
        lines.append(f"- {name}: " + ", ".join(f"{v} {k}" for k, v in sizes.items()))
    if "test_note" in split:
        lines.append(f"- note: {split['test_note']}")
    return lines + [""]


def render_report(report: dict) -> str:
    lines = ["# Annotation processing report", ""]
    if report.get("validation_notes"):
        lines += ["## Validation notes", "", *(f"- {n}" for n in report["validation_notes"]), ""]
    single = report["single_edit_groups"]
    if single["count"]:
        lines += [f"- {single['count']} group(s) with a single edit skipped for ranking and pairs: "
                  f"{', '.join(single['examples'])}{_more(single['count'])}", ""]
    if "mos" in report:
        lines += _mos_lines(report["mos"])
    if "agreement" in report:
        lines += _agreement_lines(report["agreement"])
    if "pairs" in report:
        lines += _pairs_lines(report["pairs"], report["consistency"])
    lines += _split_lines(report["split"])
    return "\n".join(lines)
