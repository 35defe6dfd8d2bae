"""Validation of the tables of a dataset folder (docs/design.md section 3).

Every check is vectorised (pandas), so a 1M-edit dataset validates in seconds. A problem that
makes the data unusable raises `DatasetError`, whose message names the table, the row (0-based
position in the table, as `df.iloc[row]`) and the column, and says what to do. Problems the
annotation pipeline handles itself (NaN scores, an annotator who gave every edit the same score,
a group with one edit that cannot be ranked) are not errors: they are returned as notes.

Each `check_*` function returns the table with normalised types (ids as strings, scores as
floats) so that the rest of the code can rely on them.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from edithf.data.schema import (
    DIMENSIONS,
    EDIT_REQUIRED,
    PAIRS_COLUMNS,
    RANKINGS_COLUMNS,
    RATINGS_COLUMNS,
    SCORE_RANGE,
    SPLITS,
)

# Raw ratings are given on a 5-point continuous scale unless dataset.json says otherwise.
DEFAULT_RATING_SCALE: tuple[float, float] = (1.0, 5.0)
ID_COLUMNS = ("edit_id", "group_id", "annotator", "preferred", "rejected")
TEXT_COLUMNS = ("task", "prompt", "source", "model", "edited", "description", "split", "dimension")


class DatasetError(ValueError):
    """A dataset that cannot be used as it is; names table, row and column."""

    def __init__(self, detail: str, *, table: str | None = None, row: int | None = None,
                 column: str | None = None):
        self.table, self.row, self.column, self.detail = table, row, column, detail
        where = [part for part in (
            table,
            f"row {row}" if row is not None else None,
            f"column '{column}'" if column is not None else None,
        ) if part]
        prefix = (where[0] + (" " + ", ".join(where[1:]) if len(where) > 1 else "") + ": ") if where else ""
        super().__init__(prefix + detail)


def _first(mask) -> int:
    """Position of the first True of a boolean array."""
    return int(np.flatnonzero(np.asarray(mask))[0])


def _fail_at(mask, table: str, column: str, detail) -> None:
    """Raise for the first row where `mask` is True; `detail(row)` words the problem."""
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        row = _first(mask)
        count = int(mask.sum())
        more = f" ({count - 1} more row(s) like it)" if count > 1 else ""
        raise DatasetError(detail(row) + more, table=table, row=row, column=column)


def require_columns(df: pd.DataFrame, required, table: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DatasetError(
            f"missing column(s) {missing}; the table has {list(df.columns)}; required are "
            f"{list(required)} (docs/data.md)", table=table)


def _as_text(df: pd.DataFrame, column: str, table: str, *, required: bool, categorical: bool) -> None:
    """Ids and text as strings (an empty required cell is an error, not the string 'nan').
    In the long tables (ratings, rankings) they become categoricals: every later lookup is
    then one hash per distinct id instead of one per row."""
    values = df[column]
    if required:
        _fail_at(values.isna().to_numpy(), table, column, lambda r: "is empty; every row needs a value")
    is_cat = isinstance(values.dtype, pd.CategoricalDtype)
    if not pd.api.types.is_string_dtype(values.cat.categories if is_cat else values.dtype):
        values, is_cat = values.astype(str).where(values.notna()), False
    if categorical and not is_cat:
        values = values.astype("category")
    elif is_cat and not categorical:
        values = values.astype(values.cat.categories.dtype)
    df[column] = values


def _as_number(df: pd.DataFrame, column: str, table: str) -> None:
    raw = df[column]
    numbers = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & numbers.isna()).to_numpy()
    _fail_at(bad, table, column, lambda r: f"{raw.iloc[r]!r} is not a number")
    df[column] = numbers.astype("float64")


def _normalise(df: pd.DataFrame, table: str, required, numeric, categorical: bool = False) -> pd.DataFrame:
    require_columns(df, required, table)
    df = df.reset_index(drop=True).copy()
    for column in df.columns:
        if column in numeric:
            _as_number(df, column, table)
        elif column in ID_COLUMNS or column in TEXT_COLUMNS:
            _as_text(df, column, table, required=column in required, categorical=categorical)
    return df


def _arrow_strings(values: pd.Series):
    import pyarrow as pa

    if not pd.api.types.is_string_dtype(values.dtype):
        values = values.astype(str)
    return pa.array(values, from_pandas=True).cast(pa.large_string())


def index_of(values, keys) -> np.ndarray:
    """Position in `keys` of each of `values` (-1 where absent), int64. Hashing is done by
    Arrow; categorical values are looked up once per category (free when the categories are
    `keys` themselves)."""
    import pyarrow.compute as pc

    values = values if isinstance(values, pd.Series) else pd.Series(values)
    keys = keys if isinstance(keys, pd.Series) else pd.Series(keys)
    if isinstance(keys.dtype, pd.CategoricalDtype):
        keys = keys.astype(keys.cat.categories.dtype)
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        same = len(categories) == len(keys) and categories.equals(pd.Index(keys))
        lookup = np.arange(len(categories)) if same else index_of(pd.Series(categories), keys)
        return np.append(lookup, -1)[values.cat.codes.to_numpy()]  # code -1 (missing) -> -1
    found = pc.index_in(_arrow_strings(values), value_set=_arrow_strings(keys))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def key_counts(key: np.ndarray) -> np.ndarray:
    """How many rows share each row's integer key: a dense bincount when the key space is
    small (as for ids of one dataset), a hash otherwise."""
    if not len(key):
        return np.zeros(0, np.int64)
    if key.max() < 4 * len(key):
        return np.bincount(key)[key]
    codes, _ = pd.factorize(key)
    return np.bincount(codes)[codes]


def repeated(key: np.ndarray) -> np.ndarray:
    """Rows whose key appeared in an earlier row (Series.duplicated), cheap when none do."""
    if not (key_counts(key) > 1).any():
        return np.zeros(len(key), bool)
    return pd.Series(key).duplicated().to_numpy()


def codes_of(values: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes of a column and how many distinct values it has."""
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int64), len(uniques)


def _check_range(df, column, lo, hi, table, what, hint="") -> None:
    values = df[column].to_numpy(dtype=float)
    bad = ~np.isnan(values) & ((values < lo) | (values > hi))
    _fail_at(bad, table, column, lambda r: f"{what} {values[r]:g} is outside [{lo:g}, {hi:g}]{hint}")


def _check_dimension(df, table) -> np.ndarray:
    """Index of each row's dimension in DIMENSIONS; unknown names are an error."""
    dim = index_of(df["dimension"], pd.Series(DIMENSIONS))
    _fail_at(dim < 0, table, "dimension",
             lambda r: f"unknown dimension {df['dimension'].iloc[r]!r}; use one of {list(DIMENSIONS)}")
    return dim


def _check_known_edits(df, column, edit_ids: pd.Series, table) -> np.ndarray:
    """Row of `edits` of each id in `column`; unknown ids are an error."""
    pos = index_of(df[column], edit_ids)
    _fail_at(pos < 0, table, column, lambda r: f"edit id {df[column].iloc[r]!r} is not in the edits table")
    return pos


# -- edits ------------------------------------------------------------------------------------

def check_edits(edits: pd.DataFrame, *, root: Path | None, table: str = "edits.parquet",
                check_images: bool = True) -> tuple[pd.DataFrame, list[str]]:
    numeric = {c for c in edits.columns if c.startswith(("mos_", "rank_"))}
    df = _normalise(edits, table, EDIT_REQUIRED, numeric)
    if df.empty:
        raise DatasetError("has no rows; a dataset needs at least one edit (are the tables empty?)", table=table)
    notes: list[str] = []
    dup = df["edit_id"].duplicated(keep="first").to_numpy()
    _fail_at(dup, table, "edit_id", lambda r: f"duplicate edit id {df['edit_id'].iloc[r]!r}; ids must be unique")
    for d in DIMENSIONS:
        if f"mos_{d}" in df:
            _check_range(df, f"mos_{d}", *SCORE_RANGE, table, "MOS")
    sizes = df.groupby("group_id", sort=False)["edit_id"].transform("size").to_numpy()
    for d in DIMENSIONS:
        if f"rank_{d}" in df:
            ranks = df[f"rank_{d}"].to_numpy(dtype=float)
            bad = ~np.isnan(ranks) & ((ranks < 1) | (ranks > sizes))
            _fail_at(bad, table, f"rank_{d}",
                     lambda r: f"averaged rank {ranks[r]:g} is outside 1..{sizes[r]} (the size of group "
                               f"{df['group_id'].iloc[r]!r})")
    if "split" in df:
        bad = (df["split"].notna() & ~df["split"].isin(SPLITS)).to_numpy()
        _fail_at(bad, table, "split", lambda r: f"split {df['split'].iloc[r]!r} is not one of {list(SPLITS)}")
    n_sources = df.groupby("group_id", sort=False)["source"].transform("nunique").to_numpy()
    _fail_at(n_sources > 1, table, "source", lambda r: f"group {df['group_id'].iloc[r]!r} has edits of "
             f"{n_sources[r]} different source images; a group is one source image with one prompt")
    singles = int((df.groupby("group_id", sort=False).size() == 1).sum())
    if singles:
        notes.append(f"{singles} group(s) hold a single edit: they cannot be ranked or paired and are "
                     "skipped by the ranking steps")
    for column in ("source", "edited"):
        _check_relative_paths(df, column, table)
    if check_images and root is not None:
        for column in ("source", "edited"):
            check_image_files(df, column, Path(root), table)
    return df, notes


def _check_relative_paths(df, column, table) -> None:
    paths = pd.Series(df[column].unique())
    posix = paths.str.replace("\\", "/", regex=False)
    escapes = posix.str.startswith("/") | posix.str.match(r"^[A-Za-z]:") | posix.str.contains(r"(?:^|/)\.\.(?:/|$)")
    if escapes.any():
        bad_path = paths[escapes.to_numpy()].iloc[0]
        row = _first(df[column].to_numpy() == bad_path)
        raise DatasetError(f"path {bad_path!r} must be relative to the dataset folder and stay inside it "
                           "(copy the image under images/ and write e.g. 'images/x.png')",
                           table=table, row=row, column=column)


def check_image_files(df: pd.DataFrame, column: str, root: Path, table: str) -> None:
    """Every path of `column` exists under `root`. One directory listing per folder, not one
    stat per edit: at 1M edits this is what keeps validation fast."""
    unique = pd.Series(df[column].unique())
    existing: set[str] = set()
    for folder in unique.str.rpartition("/")[0].unique():
        directory = root / folder
        if directory.is_dir():
            prefix = folder + "/" if folder else ""
            with os.scandir(directory) as entries:
                existing.update(prefix + e.name for e in entries if e.is_file())
    missing = ~unique.isin(existing).to_numpy()
    if missing.any():
        bad_path = unique[missing].iloc[0]
        row = _first(df[column].to_numpy() == bad_path)
        raise DatasetError(f"file {bad_path} does not exist (under {root}); {int(missing.sum())} "
                           f"{column} path(s) are missing", table=table, row=row, column=column)


# -- ratings ----------------------------------------------------------------------------------

def check_ratings(ratings: pd.DataFrame, edits: pd.DataFrame, *, scale=DEFAULT_RATING_SCALE,
                  table: str = "ratings.parquet") -> tuple[pd.DataFrame, list[str]]:
    df = _normalise(ratings, table, RATINGS_COLUMNS, {"score"}, categorical=True)
    dim = _check_dimension(df, table)
    pos = _check_known_edits(df, "edit_id", edits["edit_id"], table)
    lo, hi = float(scale[0]), float(scale[1])
    default = f"{DEFAULT_RATING_SCALE[0]:g}..{DEFAULT_RATING_SCALE[1]:g}"
    _check_range(df, "score", lo, hi, table, "score", hint=" (the rating scale: dataset.json 'rating_scale', "
                 f"default {default}); fix the score or set rating_scale")
    annotator, n_annotators = codes_of(df["annotator"])
    dup = repeated((pos * n_annotators + annotator) * len(DIMENSIONS) + dim)
    _fail_at(dup, table, "annotator", lambda r: f"annotator {df['annotator'].iloc[r]!r} rated edit "
             f"{df['edit_id'].iloc[r]!r} on {df['dimension'].iloc[r]} twice; keep one rating")
    notes = []
    n_nan = int(df["score"].isna().sum())
    if n_nan:
        notes.append(f"{n_nan} rating(s) have no score (NaN), first at row "
                     f"{_first(df['score'].isna())}; MOS processing drops them")
    flat = flat_annotators(df)
    if len(flat):
        names = ", ".join(f"{a} ({d})" for a, d in flat[:10])
        notes.append(f"{len(flat)} annotator/dimension pair(s) gave the same score to every edit: "
                     f"{names}{' ...' if len(flat) > 10 else ''}; their z-scores are undefined and MOS "
                     "processing removes them")
    return df, notes


def flat_annotators(ratings: pd.DataFrame) -> list[tuple[str, str]]:
    """(annotator, dimension) pairs whose scores have standard deviation 0 (or one rating)."""
    scored = ratings.dropna(subset=["score"])
    spread = scored.groupby(["annotator", "dimension"], sort=True, observed=True)["score"].agg(["min", "max"])
    flat = spread[spread["min"] == spread["max"]]
    return [(str(a), str(d)) for a, d in flat.index]


# -- rankings ---------------------------------------------------------------------------------

def check_rankings(rankings: pd.DataFrame, edits: pd.DataFrame, *,
                   table: str = "rankings.parquet") -> tuple[pd.DataFrame, list[str]]:
    df = _normalise(rankings, table, RANKINGS_COLUMNS, {"rank"}, categorical=True)
    _fail_at(df["rank"].isna().to_numpy(), table, "rank", lambda r: "rank is empty; every ranked edit needs a rank")
    dim = _check_dimension(df, table)
    pos = _check_known_edits(df, "edit_id", edits["edit_id"], table)
    edit_group, group_ids = pd.factorize(edits["group_id"])
    group = index_of(df["group_id"], pd.Series(group_ids))
    true_group = edit_group[pos]
    _fail_at(true_group != group, table, "group_id", lambda r: f"edit {df['edit_id'].iloc[r]!r} belongs to "
             f"group {group_ids[true_group[r]]!r} in the edits table, not {df['group_id'].iloc[r]!r}")
    size = np.bincount(edit_group)[true_group]
    ranks = df["rank"].to_numpy()
    _fail_at((ranks < 1) | (ranks > size), table, "rank", lambda r: f"rank {ranks[r]:g} is outside "
             f"1..{size[r]} (group {df['group_id'].iloc[r]!r} has {size[r]} edits)")
    annotator, n_annotators = codes_of(df["annotator"])
    per_annotator = (pos * n_annotators + annotator) * len(DIMENSIONS) + dim
    dup = repeated(per_annotator)
    _fail_at(dup, table, "edit_id", lambda r: f"annotator {df['annotator'].iloc[r]!r} ranked edit "
             f"{df['edit_id'].iloc[r]!r} twice on {df['dimension'].iloc[r]}")
    _check_complete(df, true_group.astype(np.int64), annotator, n_annotators, dim, pos, table)
    return df, []


def _check_complete(df, group, annotator, n_annotators, dim, pos, table) -> None:
    """Every annotator ranks the same edits of a group (what Kendall's W needs)."""
    n_dims = len(DIMENSIONS)
    if not len(df):
        return
    ranked = key_counts((group * n_annotators + annotator) * n_dims + dim)      # size of each ranking
    cell = group * n_dims + dim                                                # (group, dimension)
    edit_dim = np.flatnonzero(np.bincount(pos * n_dims + dim))                 # distinct (edit, dimension)
    cell_of_edit_dim = np.zeros(edit_dim.max() + 1, np.int64)
    cell_of_edit_dim[pos * n_dims + dim] = cell
    covered = np.bincount(cell_of_edit_dim[edit_dim], minlength=cell.max() + 1)[cell]  # distinct edits per cell
    _fail_at(ranked != covered, table, "annotator", lambda r: (
        f"annotator {df['annotator'].iloc[r]!r} ranked {ranked[r]} of the {covered[r]} edits ranked in "
        f"group {df['group_id'].iloc[r]!r} on {df['dimension'].iloc[r]}; a ranking must cover the "
        "same edits as the other annotators' (complete it or drop it)"))


# -- pairs ------------------------------------------------------------------------------------

def check_pairs(pairs: pd.DataFrame, edits: pd.DataFrame, *, table: str = "pairs.parquet") -> pd.DataFrame:
    require_columns(pairs, PAIRS_COLUMNS, table)
    preferred = _check_known_edits(pairs, "preferred", edits["edit_id"], table)
    rejected = _check_known_edits(pairs, "rejected", edits["edit_id"], table)
    _check_dimension(pairs, table)
    _fail_at(preferred == rejected, table, "rejected", lambda r: "preferred and rejected are the same edit")
    return pairs.reset_index(drop=True)


def validate_tables(edits, ratings=None, rankings=None, pairs=None, *, root=None, meta=None,
                    names=None, check_images=True):
    """Check all tables together; returns (edits, ratings, rankings, pairs, notes)."""
    meta, names = meta or {}, names or {}
    edits, notes = check_edits(edits, root=root, table=names.get("edits", "edits.parquet"),
                               check_images=check_images)
    if ratings is not None:
        scale = tuple(meta.get("rating_scale", DEFAULT_RATING_SCALE))
        ratings, more = check_ratings(ratings, edits, scale=scale, table=names.get("ratings", "ratings.parquet"))
        notes += more
    if rankings is not None:
        rankings, more = check_rankings(rankings, edits, table=names.get("rankings", "rankings.parquet"))
        notes += more
    if pairs is not None:
        pairs = check_pairs(pairs, edits, table=names.get("pairs", "pairs.parquet"))
    return edits, ratings, rankings, pairs, notes
