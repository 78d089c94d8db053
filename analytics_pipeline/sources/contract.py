"""The API contract as a column-spec table, and vectorised validation of a batch of rows.

``CONTRACT`` transcribes the schemas of ``reference/contracts/lms-api.openapi.yaml`` (one
:class:`Field` per property: kind, required, nullable, range, enum, nested item fields);
``tests/sources/test_contract.py`` checks the transcription against the YAML so a change of
the contract fails loudly.

:func:`validate_rows` checks one batch with pandas column operations (no per-row schema
validation): required fields present, nulls only where allowed, types, enums, ranges, and
timestamps that parse as RFC 3339. Unknown extra fields are ignored. It returns the valid rows
as a typed DataFrame (timestamps tz-aware UTC, numbers float) and the invalid ones with their
first failing reason and their raw JSON payload for the quarantine.

Storability (the same for every field of every endpoint, nested values included): a row the
contract accepts but the warehouse cannot hold is quarantined with the reason, never loaded
half-way nor allowed to fail the batch. Checked here, column-wise:

- text with a NUL character (U+0000; PostgreSQL ``text``/``jsonb`` cannot store it) or a lone
  UTF-16 surrogate (``"\\ud800"`` escaped in the JSON: not encodable as UTF-8) — quarantined,
  not cleaned (docs/sources.md);
- text longer than ``MAX_TEXT_CHARS`` (a JSON object or list: its JSON text);
- integers outside PostgreSQL ``integer``; numbers that are not finite or whose magnitude
  exceeds 2^53 (float64 holds them no longer exactly);
- timestamps outside ``TIMESTAMP_RANGE`` (year 0001 or 9999 parse, but no layer can compute
  with them sensibly; the watermark ignores them too).

What is left (a CHECK, a value the column's precision cannot hold, an index limit) is found by
the loader's fallback: the batch is bisected in savepoints and the database's message becomes
the row's reason (``loader.TableSink``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import json
import re

import numpy as np
import orjson
import pandas as pd

ITEM = "item"  # the name of a list's scalar item field
ROLES = ("learner", "trainer", "org_admin", "platform_admin")
CONTENT_TYPES = ("video", "reading", "quiz", "exercise", "project")
API_RESOURCES = (
    "organizations", "users", "courses", "enrollments", "skills", "user-skills", "content",
    "assessment-results", "learning-events", "user-preferences",
)


@dataclass(frozen=True)
class Field:
    """One property of a contract schema.

    ``kind``: str, ts (RFC 3339 timestamp), num, int, bool, enum, obj, list. ``required``: the
    key must be present; ``nullable``: null is allowed. ``items``: the fields of the objects
    inside an obj/list (a single Field named ``ITEM`` for a list of scalars).
    """

    name: str
    kind: str
    required: bool = False
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    values: tuple = ()
    items: tuple[Field, ...] = ()


def req(name: str, kind: str, **kw) -> Field:
    """A required, non-null field."""
    return Field(name, kind, required=True, **kw)


def opt(name: str, kind: str, **kw) -> Field:
    """An optional, nullable field."""
    return Field(name, kind, nullable=True, **kw)


PERCENT = {"minimum": 0, "maximum": 100}

# What the warehouse can hold (module docstring): every field of every endpoint.
MAX_TEXT_CHARS = 65_536
TIMESTAMP_RANGE = (pd.Timestamp("1900-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC"))  # [low, high)
INTEGER_RANGE = (-(2**31), 2**31 - 1)  # PostgreSQL integer
MAX_MAGNITUDE = 2.0**53  # float64 integers are exact up to here
NUL = "\x00"
SURROGATE = "contains a lone UTF-16 surrogate (not valid Unicode text)"
SURROGATES = re.compile("[\ud800-\udfff]")
# NUL inside a JSON text: the escape \u0000 not preceded by an escaped backslash
JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")

CONTRACT: dict[str, tuple[Field, ...]] = {
    "organizations": (
        req("id", "str"), req("name", "str"), opt("domain", "str"), opt("settings", "obj"),
        req("created_at", "ts"), req("updated_at", "ts"),
    ),
    "users": (
        req("id", "str"), req("email", "str"), opt("full_name", "str"), opt("avatar_url", "str"),
        Field("organization_id", "str", required=True, nullable=True),
        req("roles", "list", items=(req(ITEM, "enum", values=ROLES),)),
        req("created_at", "ts"), req("updated_at", "ts"),
    ),
    "courses": (
        req("id", "str"), req("name", "str"), opt("description", "str"), opt("organization_id", "str"),
        opt("trainer_id", "str"), opt("expected_weeks", "int", minimum=1),
        opt("starts_at", "ts"), opt("ends_at", "ts"),  # 1.1: a scheduled run (null: self-paced)
        Field("skills", "list", items=(req("skill_id", "str"), req("target_level", "num", **PERCENT))),
        req("created_at", "ts"), req("updated_at", "ts"),
    ),
    "enrollments": (
        req("id", "str"), req("user_id", "str"), req("course_id", "str"), req("enrolled_at", "ts"),
        opt("target_completion_at", "ts"), opt("completed_at", "ts"), opt("withdrawn_at", "ts"),
        req("progress_percent", "num", **PERCENT),
        req("status", "enum", values=("active", "completed", "withdrawn")), req("updated_at", "ts"),
    ),
    "skills": (
        req("id", "str"), req("name", "str"), opt("domain", "str"),
        opt("level", "enum", values=("beginner", "intermediate", "advanced")), req("updated_at", "ts"),
    ),
    "user-skills": (
        req("user_id", "str"), req("skill_id", "str"), req("mastery_level", "num", **PERCENT),
        opt("last_assessed_at", "ts"), req("updated_at", "ts"),
    ),
    "content": (
        req("id", "str"), req("course_id", "str"), opt("title", "str"),
        req("content_type", "enum", values=CONTENT_TYPES),
        Field("skill_ids", "list", items=(req(ITEM, "str"),)),
        opt("duration_minutes", "num", minimum=0),
        opt("due_at", "ts"), opt("weight", "num", **PERCENT),  # 1.1: deadline and grade share
        req("updated_at", "ts"),
    ),
    "assessment-results": (
        req("id", "str"), req("user_id", "str"), opt("course_id", "str"), req("assessment_id", "str"),
        opt("skill_id", "str"), req("score", "num", **PERCENT), req("passing_score", "num", **PERCENT),
        req("submitted_at", "ts"), req("updated_at", "ts"),
    ),
    "learning-events": (
        req("id", "str"), req("user_id", "str"), opt("course_id", "str"), opt("content_id", "str"),
        opt("content_type", "enum", values=CONTENT_TYPES),
        req("event_type", "enum", values=("started", "progressed", "completed")),
        req("occurred_at", "ts"), opt("duration_seconds", "num", minimum=0),
        opt("progress_delta", "num", **PERCENT), req("updated_at", "ts"),
    ),
    "user-preferences": (
        req("user_id", "str"), req("leaderboard_privacy", "enum", values=("public", "anonymous", "hidden")),
        req("predictive_enabled", "obj", items=tuple(
            Field(flag, "bool") for flag in ("dropOffRisk", "forecasting", "recommendations"))),
        opt("notification_preferences", "obj"), req("updated_at", "ts"),
    ),
    "deletions": (
        req("resource", "enum", values=API_RESOURCES), req("id", "str"), req("updated_at", "ts"),
    ),
}

# The fields that identify a row of each resource (the quarantine's source_id joins them with ':').
SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    **{resource: ("id",) for resource in CONTRACT},
    "user-skills": ("user_id", "skill_id"),
    "user-preferences": ("user_id",),
    "deletions": ("resource", "id"),
}


@dataclass
class Validated:
    """The outcome of validating one batch: typed valid rows and quarantine rows."""

    valid: pd.DataFrame
    rejected: pd.DataFrame  # columns source_id, reason, payload
    latest_updated_at: pd.Timestamp | None  # over every row whose updated_at parses, valid or not


def _instances(series: pd.Series, types: tuple[type, ...], exclude: tuple[type, ...] = ()) -> pd.Series:
    """True where the (non-null) value is one of ``types`` and none of ``exclude``."""
    if types == (str,) and pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        return pd.Series(True, index=series.index)
    if exclude == (bool,) and (pd.api.types.is_float_dtype(series.dtype) or pd.api.types.is_integer_dtype(series.dtype)):
        return pd.Series(True, index=series.index)
    kinds = series.map(type).to_numpy()
    ok = np.isin(kinds, list(types))
    if exclude:
        ok &= ~np.isin(kinds, list(exclude))
    return pd.Series(ok, index=series.index)


def _item_problems(series: pd.Series, items: tuple[Field, ...], is_list: bool) -> pd.Series:
    """The first problem among the nested values of an obj/list column (aligned to ``series``)."""
    nested = (series.explode() if is_list else series).dropna()
    if nested.empty:
        return pd.Series(None, index=series.index, dtype=object)
    if items[0].name == ITEM:
        problems = _problems(pd.DataFrame({ITEM: nested.to_numpy()}), items, None)
    else:
        is_dict = _instances(nested, (dict,)).to_numpy()
        records = [value if ok else {} for value, ok in zip(nested.tolist(), is_dict)]
        problems = _problems(pd.DataFrame.from_records(records, columns=[f.name for f in items]), items, records)
        problems = problems.mask(~is_dict, "item is not an object")
    problems.index = nested.index
    return problems.dropna().groupby(level=0).first().reindex(series.index)


def _json_text(value) -> str:
    """JSON text of a nested value (NUL escaped as \\u0000; a lone surrogate kept as such)."""
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:  # a lone surrogate (orjson refuses it)
        return json.dumps(value, ensure_ascii=False, default=str)


def text_problems(texts: pd.Series, is_json: bool = False) -> pd.Series:
    """Why PostgreSQL cannot store each text (None where it can): NUL, lone surrogate, too long.

    Checked on pandas' Arrow-backed strings (vectorised); a lone surrogate cannot be one, so an
    object column holding one is screened with Python's regex first (the rare path).
    """
    reason = np.full(len(texts), None, dtype=object)
    try:
        texts = texts.astype("str")
    except UnicodeEncodeError:
        surrogate = texts.str.contains(SURROGATES, regex=True).to_numpy(dtype=bool, na_value=False).copy()
        reason[surrogate] = SURROGATE
        texts = texts.mask(surrogate, "").astype("str")
    if is_json:  # the escape \u0000, unless it is an escaped backslash followed by "u0000"
        nul = texts.str.contains("\\u0000", regex=False).to_numpy(dtype=bool, na_value=False).copy()
        if nul.any():
            nul[nul] = texts[nul].astype(object).str.contains(JSON_NUL, regex=True).to_numpy(dtype=bool)
    else:
        nul = texts.str.contains(NUL, regex=False).to_numpy(dtype=bool, na_value=False)
    long = texts.str.len().to_numpy(dtype=float, na_value=0) > MAX_TEXT_CHARS
    reason[nul & pd.isna(reason)] = "contains a NUL character (U+0000), which PostgreSQL cannot store"
    reason[long & pd.isna(reason)] = f"longer than {MAX_TEXT_CHARS} characters"
    return pd.Series(reason, index=texts.index, dtype=object)


def out_of_range(parsed: pd.Series) -> np.ndarray:
    """True where a parsed timestamp lies outside ``TIMESTAMP_RANGE`` (NaT: False)."""
    low, high = TIMESTAMP_RANGE
    return ((parsed < low) | (parsed >= high)).fillna(False).to_numpy(dtype=bool)


def _field_problems(frame: pd.DataFrame, spec: Field, present: pd.Series | None) -> pd.Series:
    """One reason per row where ``spec`` is violated, else None."""
    series = frame[spec.name]
    isnull = series.isna()
    reason = pd.Series(None, index=frame.index, dtype=object)

    def flag(bad: pd.Series | np.ndarray, message) -> None:
        nonlocal reason
        reason = reason.mask(reason.isna() & bad, f"{spec.name}: " + message if isinstance(message, str) else message)

    if spec.required and not spec.nullable:
        flag(isnull, "missing or null (required)")
    elif spec.required and present is not None:
        flag(~present, "missing (required)")
    values = series[~isnull]
    if values.empty:
        return reason

    def on_rows(mask: np.ndarray) -> pd.Series:
        """A mask over ``values`` (the non-null ones) spread over every row."""
        full = np.zeros(len(frame), dtype=bool)
        full[np.flatnonzero(~isnull.to_numpy())[mask]] = True
        return pd.Series(full, index=frame.index)

    def flag_each(problems: pd.Series, mask: np.ndarray) -> None:
        """Per-value reasons (aligned to ``values[mask]``) spread over the rows."""
        if problems.isna().all():
            return
        spread = pd.Series(None, index=frame.index, dtype=object)
        spread.iloc[np.flatnonzero(~isnull.to_numpy())[mask]] = problems.to_numpy()
        flag(spread.notna(), f"{spec.name}: " + spread.astype(object).fillna(""))

    if spec.kind in ("str", "enum", "ts"):
        type_ok = _instances(values, (str,)).to_numpy()
        flag(on_rows(~type_ok), "not a string")
        flag_each(text_problems(values[type_ok]), type_ok)
        if spec.kind == "enum":
            flag(on_rows(~values.isin(spec.values).to_numpy()), f"not one of {', '.join(spec.values)}")
        if spec.kind == "ts":
            parsed = pd.to_datetime(values.where(type_ok, None), format="ISO8601", utc=True, errors="coerce")
            flag(on_rows(parsed.isna().to_numpy()), "not an RFC 3339 timestamp")
            low, high = (t.strftime("%Y-%m-%d") for t in TIMESTAMP_RANGE)
            flag(on_rows(out_of_range(parsed)), f"outside {low} .. {high} (not storable)")
    elif spec.kind in ("num", "int"):
        type_ok = _instances(values, (int, float), exclude=(bool,)).to_numpy()
        flag(on_rows(~type_ok), "not a number")
        numbers = pd.to_numeric(values.where(type_ok, np.nan), errors="coerce").astype(float).to_numpy()
        with np.errstate(invalid="ignore"):
            flag(on_rows(type_ok & ~np.isfinite(numbers)), "not a finite number")
            if spec.kind == "int":
                flag(on_rows(np.nan_to_num(numbers) % 1 != 0), "not an integer")
                flag(on_rows((numbers < INTEGER_RANGE[0]) | (numbers > INTEGER_RANGE[1])),
                     "outside the integer range (not storable)")
            flag(on_rows(np.abs(numbers) > MAX_MAGNITUDE), "magnitude above 2^53 (not storable exactly)")
        if spec.minimum is not None:
            flag(on_rows(numbers < spec.minimum), f"below {spec.minimum:g}")
        if spec.maximum is not None:
            flag(on_rows(numbers > spec.maximum), f"above {spec.maximum:g}")
    elif spec.kind in ("bool", "obj", "list"):
        expected = {"bool": (bool, np.bool_), "obj": (dict,), "list": (list,)}[spec.kind]
        type_ok = _instances(values, expected).to_numpy()
        flag(on_rows(~type_ok), {"bool": "not a boolean", "obj": "not an object", "list": "not a list"}[spec.kind])
        if spec.kind == "obj":  # stored as JSON: everything nested, unknown keys included (list items: below)
            nested = values[type_ok]
            texts = pd.Series([_json_text(v) for v in nested.tolist()], index=nested.index, dtype=object)
            flag_each(text_problems(texts, is_json=True), type_ok)
        if spec.items:
            nested = _item_problems(values[type_ok], spec.items, spec.kind == "list").reindex(frame.index)
            flag(nested.notna(), f"{spec.name}: " + nested.astype(object).fillna(""))
    return reason


def _problems(frame: pd.DataFrame, fields: Sequence[Field], rows: list[dict] | None) -> pd.Series:
    """The first failing reason of each row (None for valid rows)."""
    reason = pd.Series(None, index=frame.index, dtype=object)
    for spec in fields:
        present = None
        if spec.required and spec.nullable and rows is not None:
            present = pd.Series([spec.name in row for row in rows], index=frame.index)
        reason = reason.fillna(_field_problems(frame, spec, present)) if reason.isna().any() else reason
    return reason


def _typed(frame: pd.DataFrame, fields: Sequence[Field]) -> pd.DataFrame:
    """Valid rows with database-ready types."""
    out = {}
    for spec in fields:
        series = frame[spec.name]
        if spec.kind == "ts":
            out[spec.name] = pd.to_datetime(series, format="ISO8601", utc=True)
        elif spec.kind in ("num", "int"):
            numbers = pd.to_numeric(series, errors="coerce").astype(float)
            out[spec.name] = numbers.round().astype("Int64") if spec.kind == "int" else numbers
        elif spec.kind in ("str", "enum"):
            out[spec.name] = series.astype(object).where(series.notna(), None)
        else:
            out[spec.name] = series.where(series.notna(), None).astype(object)
    return pd.DataFrame(out, index=frame.index)


def source_ids(frame: pd.DataFrame, resource: str) -> pd.Series:
    """The quarantine's ``source_id`` of each row (key fields joined with ':'; None when missing)."""
    keys = [frame[k].map(lambda v: v if isinstance(v, str) else None) for k in SOURCE_KEYS[resource]]
    joined = keys[0]
    for part in keys[1:]:
        joined = joined.str.cat(part, sep=":")
    return joined.astype(object).where(joined.notna(), None)


def payload_text(row) -> str:
    """The row as JSON text for the quarantine (NUL and lone surrogates escaped, so always storable)."""
    try:
        return orjson.dumps(row, default=str).decode()
    except TypeError:  # a lone surrogate: orjson refuses it, json escapes it as \\udXXX
        return json.dumps(row, default=str, separators=(",", ":"))


def _encodable(value) -> bool:
    """False when ``value`` holds a string with a lone surrogate (orjson refuses to encode it)."""
    try:
        orjson.dumps(value, default=str)
    except TypeError:
        return False
    return True


def _surrogate_rows(resource: str, rows: list) -> tuple[list, pd.DataFrame]:
    """Rows without a lone surrogate, and the others as quarantine rows (the reason names the field).

    Only called when a batch holds such a string (pandas' string columns cannot hold it), so the
    per-row screening is the rare path.
    """
    bad = [not _encodable(row) for row in rows]
    rejected = [row for row, b in zip(rows, bad) if b]
    keys = SOURCE_KEYS[resource]
    fields = [next((k for k, v in row.items() if not _encodable(v)), "row") if isinstance(row, dict) else "row"
              for row in rejected]
    quarantined = pd.DataFrame({
        "source_id": [":".join(row.get(k) for k in keys) if all(isinstance(row.get(k), str) for k in keys) else None
                      for row in (r if isinstance(r, dict) else {} for r in rejected)],
        "reason": [f"{field}: {SURROGATE}" for field in fields],
        "payload": [payload_text(row) for row in rejected],
    }, dtype=object)
    return [row for row, b in zip(rows, bad) if not b], quarantined


def validate_rows(resource: str, rows: list[dict]) -> Validated:
    """Check ``rows`` (parsed JSON objects of ``resource``) against the contract."""
    try:
        return _validate_rows(resource, rows)
    except UnicodeEncodeError:  # a lone surrogate somewhere in the batch
        rows, quarantined = _surrogate_rows(resource, rows)
        checked = _validate_rows(resource, rows)
        rejected = pd.concat([checked.rejected.astype(object), quarantined], ignore_index=True)
        return Validated(checked.valid, rejected, checked.latest_updated_at)


def _validate_rows(resource: str, rows: list[dict]) -> Validated:
    fields = CONTRACT[resource]
    names = [f.name for f in fields]
    is_object = [isinstance(row, dict) for row in rows]
    records = [row if ok else {} for row, ok in zip(rows, is_object)]
    frame = pd.DataFrame.from_records(records, columns=names) if records else pd.DataFrame(columns=names)
    frame.index = range(len(frame))
    reason = _problems(frame, fields, records)
    reason = reason.mask(~pd.Series(is_object, index=frame.index, dtype=bool), "row is not an object")
    bad = reason.notna().to_numpy()
    bad_positions = np.flatnonzero(bad)
    rejected = pd.DataFrame({
        "source_id": source_ids(frame[bad], resource).to_numpy() if bad.any() else [],
        "reason": reason[bad].to_numpy(),
        "payload": [payload_text(rows[i]) for i in bad_positions],
    })
    valid = _typed(frame[~bad], fields).reset_index(drop=True)
    stamps = frame["updated_at"]
    parsed = pd.to_datetime(stamps.where(_instances(stamps, (str,)), None), format="ISO8601", utc=True, errors="coerce")
    parsed = parsed.mask(out_of_range(parsed))  # a year-9999 row must not carry the watermark past every later row
    latest = parsed.max() if parsed.notna().any() else None
    return Validated(valid, rejected, latest)
