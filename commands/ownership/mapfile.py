"""The whole ownership map in and out as CSV or YAML, so a spreadsheet loads in one step.

An import checks every row first and writes nothing unless all of them are good.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import select

from commands.core.context import Context
from commands.core.grammar import GrammarError, did_you_mean, parse_quarter
from commands.core.lookup import MAX_CATEGORY, area_key, clean_name, name_too_long
from commands.core.messages import Message, count, line
from commands.ownership.map import (
    UNDER_WAY,
    Change,
    checklist,
    checklists,
    drop_checklist,
    progress,
    record,
    start_checklist,
)
from storage.models import Area, HandoffCheck, HandoffState, Org, Person

COLUMNS = (
    "area",
    "org",
    "dri",
    "backup",
    "state",
    "from",
    "to",
    "quarter",
    "category",
    "checklist",
)
Format = Literal["csv", "yaml"]
_HANDOFF_COLUMNS = ("state", "from", "to", "quarter")
_UNDER_WAY = (HandoffState.PLANNED_NEAR, HandoffState.PLANNED_LONG, HandoffState.IN_TRANSITION)
# A checklist in one cell: items separated by ";", each "[x] " when done ("[ ] " or nothing when
# open). In YAML it may also be a list of such items.
_ITEM_SEPARATOR = ";"
_DONE, _OPEN = "[x] ", "[ ] "


class MapFileError(ValueError):
    """A map file that cannot be imported; `errors` names every bad row."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class ImportReport:
    """What an import did."""

    created: int
    changed: int
    unchanged: int


def read(path: Path) -> str:
    """A map file's text: UTF-8, with or without the byte order mark spreadsheets write."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise MapFileError(
            [f'{path} is not UTF-8 text: save it as "CSV UTF-8" (or UTF-8 YAML) and try again']
        ) from None


def format_for(path: str) -> Format:
    """The file format a path's extension implies."""
    lowered = path.lower()
    if lowered.endswith((".yaml", ".yml")):
        return "yaml"
    if lowered.endswith(".csv"):
        return "csv"
    raise MapFileError([f"{path}: expected a .csv, .yaml or .yml file"])


def parse(text: str, fmt: Format) -> list[tuple[int, dict[str, str]]]:
    """Read a map file into (row number, values) pairs; row numbers are as a person counts them."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip().lower() for h in reader.fieldnames or []]
        unknown = [h for h in header if h not in COLUMNS]
        if "area" not in header or unknown:
            raise MapFileError(
                [
                    f"row 1: the header must name the columns {', '.join(COLUMNS)}"
                    + (f" (unknown: {', '.join(unknown)})" if unknown else "")
                ]
            )
        reader.fieldnames = header
        # Row 1 is the header, so the first area is on row 2, as in a spreadsheet (counted by
        # records, not lines: a quoted cell may span several lines).
        return [
            (n, {k: (v or "").strip() for k, v in row.items() if k})
            for n, row in enumerate(reader, start=2)
        ]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MapFileError([f"the YAML does not parse: {exc}"]) from None
    items = data.get("areas") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise MapFileError(["the YAML must be a list of areas, or a mapping with an 'areas' list"])
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[str] = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            errors.append(f"row {n}: expected a mapping with keys {', '.join(COLUMNS)}")
            continue
        values = {str(k).lower(): _cell(v) for k, v in item.items()}
        unknown = [k for k in values if k not in COLUMNS]
        if unknown:
            hints = "".join(did_you_mean(k, COLUMNS) for k in unknown)
            errors.append(
                f"row {n}: unknown key {', '.join(unknown)} (the keys are {', '.join(COLUMNS)})."
                + hints
            )
        rows.append((n, values))
    if errors:
        raise MapFileError(errors)
    return rows


def _cell(value: Any) -> str:
    """A YAML value as the text of a cell; a list (a checklist) joined as a CSV cell holds it."""
    if value is None:
        return ""
    if isinstance(value, list):
        return f"{_ITEM_SEPARATOR} ".join(_cell(v) for v in value)
    return str(value).strip()


def render(rows: Sequence[dict[str, str]], fmt: Format) -> str:
    """Write map rows as CSV or YAML."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    compact = [{k: v for k, v in row.items() if v} for row in rows]
    return yaml.safe_dump({"areas": compact}, sort_keys=False, allow_unicode=True)


async def export_rows(ctx: Context) -> list[dict[str, str]]:
    """The map as rows, in the order areas were added (retired areas are off the map)."""
    areas = (
        (await ctx.session.scalars(select(Area).where(Area.retired_at.is_(None)).order_by(Area.id)))
        .unique()
        .all()
    )
    items = await checklists(ctx.session)
    return [
        {
            **row,
            "category": a.category or "",
            "checklist": _checklist_cell(items.get(a.id, []))
            if HandoffState(row["state"]) in _UNDER_WAY
            else "",
        }
        for a, row in zip(areas, _handoff_rows(areas), strict=True)
    ]


def _checklist_cell(items: Sequence[HandoffCheck]) -> str:
    return f"{_ITEM_SEPARATOR} ".join((_DONE if c.done_at else "") + c.text for c in items)


def _handoff_rows(areas: Sequence[Area]) -> list[dict[str, str]]:
    return [
        {
            "area": a.name,
            "org": a.org.key,
            "dri": a.dri.handle if a.dri else "",
            "backup": a.backup.handle if a.backup else "",
            "state": a.state.value,
            "from": a.handoff_from.key if a.handoff_from else "",
            "to": a.handoff_to.key if a.handoff_to else "",
            "quarter": a.target_quarter or "",
        }
        if a.state is not HandoffState.PROPOSED
        # A proposal the other org has not answered is not part of the map yet.
        else {
            "area": a.name,
            "org": a.org.key,
            "dri": a.dri.handle if a.dri else "",
            "backup": a.backup.handle if a.backup else "",
            "state": HandoffState.OWNED.value,
            "from": "",
            "to": "",
            "quarter": "",
        }
        for a in areas
    ]


@dataclass(frozen=True)
class _Row:
    number: int
    name: str
    org: Org
    dri: Person | None
    backup: Person | None
    state: HandoffState
    source: Org | None
    target: Org | None
    quarter: str | None
    # None: the file has no such column (or key), so the area's own is left as it is.
    category: str | None = None
    checklist: tuple[tuple[str, bool], ...] | None = None


async def import_rows(ctx: Context, rows: Sequence[tuple[int, dict[str, str]]]) -> ImportReport:
    """Check every row, then create or update the areas; raises MapFileError naming bad rows."""
    orgs = {o.key.lower(): o for o in (await ctx.session.scalars(select(Org))).all()}
    people = {p.handle.lower(): p for p in (await ctx.session.scalars(select(Person))).unique()}
    errors: list[str] = []
    checked: list[_Row] = []
    seen: dict[str, int] = {}
    retired = set(
        (await ctx.session.scalars(select(Area.name_key).where(Area.retired_at.is_not(None)))).all()
    )
    for number, values in rows:
        problems: list[str] = []
        row = _check_row(values, orgs, people, problems)
        if row is not None:
            first = seen.setdefault(area_key(row[0]), number)
            if first != number:
                problems.append(f'area "{row[0]}" is already on row {first}')
            if area_key(row[0]) in retired:
                problems.append(f'area "{row[0]}" was retired: choose another name')
        category = _category_of(values, problems)
        items = _checklist_of(values, row[4] if row else None, problems)
        if problems:
            errors.append(f"row {number}: " + "; ".join(problems))
        elif row is not None:
            checked.append(_Row(number, *row, category=category, checklist=items))
    if not rows:
        errors.append("the file has no areas")
    if errors:
        raise MapFileError(errors)
    return await _apply(ctx, checked)


def _category_of(values: dict[str, str], problems: list[str]) -> str | None:
    if "category" not in values:
        return None
    category = clean_name(values["category"])
    if len(category) > MAX_CATEGORY:
        problems.append(f"a category is at most {MAX_CATEGORY} characters long")
    return category


def _checklist_of(
    values: dict[str, str], state: HandoffState | None, problems: list[str]
) -> tuple[tuple[str, bool], ...] | None:
    if "checklist" not in values:
        return None
    items: list[tuple[str, bool]] = []
    for raw in values["checklist"].split(_ITEM_SEPARATOR):
        text = " ".join(raw.split())
        done = text.lower().startswith(_DONE.strip())
        if done or text.startswith(_OPEN.strip()):
            text = text[3:].strip()
        if not text:
            continue
        if len(text) > 200:
            problems.append("a checklist item is at most 200 characters long")
        elif any(t.casefold() == text.casefold() for t, _ in items):
            problems.append(f'the checklist has "{text}" twice')
        items.append((text, done))
    if items and state is not None and state not in _UNDER_WAY:
        article = "an" if state.value[0] in "aeiou" else "a"
        problems.append(f"{article} {state.value} area has no hand-off under way, so no checklist")
    return tuple(items)


def _check_row(
    values: dict[str, str],
    orgs: dict[str, Org],
    people: dict[str, Person],
    problems: list[str],
) -> (
    tuple[str, Org, Person | None, Person | None, HandoffState, Org | None, Org | None, str | None]
    | None
):
    name = clean_name(values.get("area", ""))
    if not name:
        problems.append("the area name is empty")
    elif too_long := name_too_long(name):
        problems.append(too_long)

    def org_of(column: str, required: bool) -> Org | None:
        key = values.get(column, "").lower()
        if not key:
            if required:
                problems.append(f"{column} is empty (expected one of {', '.join(orgs)})")
            return None
        if key not in orgs:
            hint = did_you_mean(key, orgs)
            problems.append(f"no org called {key!r} in {column}.{hint}".rstrip("."))
        return orgs.get(key)

    def person_of(column: str) -> Person | None:
        handle = values.get(column, "").lstrip("@").lower()
        if not handle:
            return None
        if handle not in people:
            hint = did_you_mean(handle, people, before="@")
            problems.append(f"no person called @{handle} in {column}.{hint}".rstrip("."))
        return people.get(handle)

    org = org_of("org", required=True)
    dri, backup = person_of("dri"), person_of("backup")
    if dri is not None and backup is not None and dri.id == backup.id:
        problems.append("the backup must be someone other than the DRI")
    raw_state = values.get("state", "").lower() or HandoffState.OWNED.value
    try:
        state = HandoffState(raw_state)
        if state is HandoffState.PROPOSED:
            # A proposal waits for the other org's answer, which no file can give.
            raise ValueError(raw_state)
    except ValueError:
        importable = (s.value for s in HandoffState if s is not HandoffState.PROPOSED)
        problems.append(f"state {raw_state!r} is not one of {', '.join(importable)}")
        state = HandoffState.OWNED
    source, target = org_of("from", required=False), org_of("to", required=False)
    quarter = values.get("quarter") or None
    if quarter:
        try:
            quarter = str(parse_quarter(quarter))
        except GrammarError as exc:
            problems.append(str(exc))
    if state in _UNDER_WAY:
        if target is None and not values.get("to"):
            problems.append(f"a {state.value} area needs the org it goes to")
        source = source or org
    elif state is HandoffState.HANDED_OFF:
        if target is not None and org is not None and target.id != org.id:
            problems.append("a handed-off area is owned by the org it was handed to")
        target = target or org
    elif source is not None or target is not None:
        problems.append("an owned area has no from or to")
    if problems or org is None:
        return None
    return name, org, dri, backup, state, source, target, quarter


async def _apply(ctx: Context, rows: Sequence[_Row]) -> ImportReport:
    created = changed = unchanged = 0
    for row in rows:
        area = await ctx.session.scalar(select(Area).where(Area.name_key == area_key(row.name)))
        changes: list[Change] = []
        if area is None:
            area = Area(
                name=row.name,
                name_key=area_key(row.name),
                org_id=row.org.id,
                created_at=ctx.now,
                updated_at=ctx.now,
            )
            ctx.session.add(area)
            await ctx.session.flush()
            changes.append(Change("created", None, row.org.key))
        is_new = bool(changes)
        fields: list[tuple[str, str, Any, str | None]] = [
            ("org", "org_id", row.org.id, row.org.key),
            ("dri", "dri_id", _id(row.dri), _at(row.dri)),
            ("backup", "backup_id", _id(row.backup), _at(row.backup)),
            ("state", "state", row.state, row.state.value),
            ("from", "handoff_from_id", _id(row.source), _key_of(row.source)),
            ("to", "handoff_to_id", _id(row.target), _key_of(row.target)),
            ("quarter", "target_quarter", row.quarter, row.quarter),
        ]
        if area.state is HandoffState.PROPOSED and row.state is HandoffState.OWNED:
            # The file shows the map as agreed: a standing proposal is left for the other org
            # to answer, unless the row moves the area elsewhere.
            fields = [
                f for f in fields if f[0] not in _HANDOFF_COLUMNS or row.org.id != area.org_id
            ]
        if row.category is not None:
            category = row.category or None
            fields.append(("category", "category", category, category))
        was_under_way = area.state in UNDER_WAY
        for name, attr, value, shown in fields:
            old = getattr(area, attr)
            if old == value:
                continue
            # A new area's "created" event already names its org.
            if not (is_new and name == "org"):
                changes.append(Change(name, await _shown(ctx, attr, old), shown))
            setattr(area, attr, value)
        changes.extend(await _apply_checklist(ctx, area, row, was_under_way))
        if not changes:
            unchanged += 1
            continue
        created += changes[0].field == "created"
        changed += changes[0].field != "created"
        await record(ctx, area, changes)
    report = ImportReport(created, changed, unchanged)
    await ctx.notify(
        f"map-import:{ctx.now.isoformat()}:{ctx.actor.id}",
        Message(
            title="Ownership map imported",
            lines=(
                line(
                    f"{count(len(rows), 'area')}: {created} new, {changed} changed, "
                    f"{unchanged} unchanged. /handoff board shows the map."
                ),
            ),
        ),
    )
    return report


async def _apply_checklist(
    ctx: Context, area: Area, row: _Row, was_under_way: bool
) -> list[Change]:
    """The hand-off's checklist as the row gives it; without the column, a hand-off the file
    starts gets its category's template and one the file ends loses its checklist."""
    if area.state is HandoffState.PROPOSED:
        # A standing proposal (exported as owned) keeps the checklist it was proposed with.
        return []
    under_way = area.state in UNDER_WAY
    if not under_way:
        if was_under_way:
            await drop_checklist(ctx.session, area)
        return []
    if row.checklist is None:
        if not was_under_way:
            await start_checklist(ctx.session, area, ctx.now, area.category or "")
        return []
    current = await checklist(ctx.session, area)
    if [(c.text, c.done_at is not None) for c in current] == list(row.checklist):
        return []
    await drop_checklist(ctx.session, area)
    made = [
        HandoffCheck(
            area_id=area.id,
            position=n,
            text=text,
            created_at=ctx.now,
            done_at=ctx.now if done else None,
            done_by_id=ctx.actor.id if done else None,
        )
        for n, (text, done) in enumerate(row.checklist, start=1)
    ]
    ctx.session.add_all(made)
    await ctx.session.flush()
    return [Change("checklist", progress(current) if current else None, progress(made))]


def _id(obj: Person | Org | None) -> int | None:
    return obj.id if obj else None


def _at(person: Person | None) -> str | None:
    return "@" + person.handle if person else None


def _key_of(org: Org | None) -> str | None:
    return org.key if org else None


async def _shown(ctx: Context, attr: str, value: Any) -> str | None:
    # History shows people as @handles and orgs as keys, as the commands do.
    if value is None:
        return None
    if attr in ("dri_id", "backup_id"):
        person = await ctx.session.get(Person, value)
        return "@" + person.handle if person else None
    if attr in ("org_id", "handoff_from_id", "handoff_to_id"):
        org = await ctx.session.get(Org, value)
        return org.key if org else None
    return str(getattr(value, "value", value))
