"""What administrators do from the command line: load programmes, create cohorts, enrol."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers import export, retention
from handlers.core import audit, calendar_file
from handlers.core.context import programme_of
from handlers.core.i18n import N_, SUPPORTED, Said, Translator
from handlers.core.programme_file import Programme
from handlers.core.roster import RosterProblem, RosterRow
from handlers.people import ROLE_NAMES
from storage.models import AuditEntry, CalendarEntry, Cohort, Role
from storage.reflections import ReflectionView
from storage.unit import Repositories, Store


class AdminError(Said):
    """A clear reason why nothing was done, in the administrator's language."""


async def load_programme(store: Store, programme: Programme) -> bool:
    """Store a validated programme; False if the same version was there already."""
    async with store.transaction() as repos:
        _, changed = await repos.programs.save(
            programme.id,
            programme.programme.title,
            programme.as_json(),
            programme.checksum(),
            [(o.id, o.name) for o in programme.programme.organisations],
        )
        return changed


@dataclass(frozen=True)
class CohortSpec:
    key: str
    program_id: str
    title: str
    platform: str = "console"
    workspace: str = "local"
    conversation_id: str | None = None
    language: str = "sv"
    timezone: str = "Europe/Stockholm"
    self_enrol: bool = False


async def create_cohort(store: Store, spec: CohortSpec) -> Cohort:
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", spec.key):
        raise AdminError(
            N_("cohort key “{key}”: use lowercase letters, digits and hyphens"), key=spec.key
        )
    if spec.language not in SUPPORTED:
        raise AdminError(N_("language “{language}”: choose sv or en"), language=spec.language)
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise AdminError(
            N_("unknown time zone “{zone}” (write it like Europe/Stockholm)"), zone=spec.timezone
        ) from None
    async with store.transaction() as repos:
        if await repos.programs.get(spec.program_id) is None:
            raise AdminError(
                N_("no programme “{id}” is loaded (digilog program load FILE)"),
                id=spec.program_id,
            )
        if await repos.cohorts.by_key(spec.key) is not None:
            raise AdminError(N_("a cohort “{key}” exists already"), key=spec.key)
        conversation = spec.conversation_id or spec.key
        if await repos.cohorts.by_conversation(spec.platform, spec.workspace, conversation):
            raise AdminError(
                N_("the conversation “{conversation}” already belongs to a cohort"),
                conversation=conversation,
            )
        return await repos.cohorts.create(
            Cohort(
                key=spec.key,
                program_id=spec.program_id,
                title=spec.title,
                platform=spec.platform,
                workspace=spec.workspace,
                conversation_id=conversation,
                language=spec.language,
                timezone=spec.timezone,
                self_enrol=spec.self_enrol,
            )
        )


async def load_calendar(store: Store, cohort_key: str, path: Path) -> int:
    """Validate a calendar file against the cohort's programme and make it the calendar."""
    async with store.transaction() as repos:
        cohort = await _cohort(repos, cohort_key)
        programme = await programme_of(repos, cohort.program_id)
        found = calendar_file.load_calendar(path, programme, cohort.timezone)
        return await repos.calendar.replace(
            cohort.id, (CalendarEntry(**calendar_file.as_row(event)) for event in found)
        )


async def calendar(store: Store, cohort_key: str) -> tuple[Cohort, Programme, list[CalendarEntry]]:
    async with store.transaction() as repos:
        cohort = await _cohort(repos, cohort_key)
        programme = await programme_of(repos, cohort.program_id)
        return cohort, programme, await repos.calendar.entries(cohort.id)


async def _cohort(repos: Repositories, key: str) -> Cohort:
    cohort = await repos.cohorts.by_key(key)
    if cohort is None:
        raise AdminError(N_("no cohort “{key}”"), key=key)
    return cohort


async def add_channel(
    store: Store, cohort_key: str, platform: str, workspace: str, conversation_id: str
) -> None:
    """Another channel for a cohort, say its Teams channel beside its Slack one: theme
    posts and the calendar's posts go to both, and both threads are its digilog."""
    async with store.transaction() as repos:
        cohort = await _cohort(repos, cohort_key)
        try:
            await repos.cohorts.add_channel(cohort.id, platform, workspace, conversation_id)
        except ValueError as problem:
            raise AdminError(N_("{problem}"), problem=str(problem)) from None


async def enrol(store: Store, cohort_key: str, row: RosterRow) -> bool:
    """Enrol one person; True if they were new to the cohort."""
    created, problems = await import_roster(store, cohort_key, [row], skip_bad=False)
    if problems:
        raise AdminError(problems[0].text, **problems[0].values)
    return created == 1


async def import_roster(
    store: Store, cohort_key: str, rows: list[RosterRow], *, skip_bad: bool
) -> tuple[int, list[RosterProblem]]:
    """Enrol every row, all or nothing unless skip_bad; returns (newly enrolled, problems)."""
    async with store.transaction() as repos:
        cohort = await _cohort(repos, cohort_key)
        if await retention.is_closed(repos, cohort):
            raise AdminError(
                N_("{key}: its personal data has been deleted (retention)"), key=cohort_key
            )
        organisations = {}
        problems = []
        for row in rows:
            organisation = await repos.programs.find_organisation(
                cohort.program_id, row.organisation
            )
            if organisation is None:
                known = ", ".join(
                    o.key for o in await repos.programs.organisations(cohort.program_id)
                )
                problems.append(
                    RosterProblem(
                        row.line,
                        "organisation",
                        N_("unknown “{organisation}” (known: {known})"),
                        {"organisation": row.organisation, "known": known},
                    )
                )
            else:
                organisations[row.line] = organisation
        if problems and not skip_bad:
            return 0, problems
        created = 0
        for row in rows:
            if row.line not in organisations:
                continue
            person = await repos.people.find_or_add(
                cohort.platform,
                cohort.workspace,
                user_id=row.user_id,
                email=row.email,
                display_name=row.name,
            )
            _, new = await audit.enrol(
                repos, cohort.id, person.id, organisations[row.line].id, row.role, by=None
            )
            created += new
        return created, problems


async def export_reflections(
    store: Store, cohort_key: str, *, private: bool = False
) -> AsyncIterator[ReflectionView]:
    """The cohort's bank; private reflections only when asked for, and the log says so."""
    async with store.transaction() as repos:
        cohort = await _cohort(repos, cohort_key)
        await repos.audit.record(
            "export_bank", cohort_id=cohort.id, detail={"by": "cli", "private": private}
        )
        async for view in repos.reflections.export(cohort.id, private=private):
            yield view


async def audit_entries(store: Store, cohort_key: str | None) -> list[tuple[AuditEntry, str]]:
    """The audit log, newest first, with each entry's cohort key."""
    async with store.transaction() as repos:
        cohort = await _cohort(repos, cohort_key) if cohort_key else None
        entries = await repos.audit.entries(cohort.id if cohort else None)
        keys = {c.id: c.key for c in await repos.cohorts.all()}
        return [(e, keys.get(e.cohort_id or 0, "")) for e in entries]


# Every action the code records (`audit.record("…")`), as the administrator reads it;
# tests/test_swedish.py fails on an action recorded in code and missing here. The raw
# names stay in the database and in `digilog audit --json`.
AUDIT_ACTIONS = {
    "export_bank": N_("reflection bank exported"),
    "export_attendance": N_("attendance list exported"),
    "export_personal_data": N_("personal data exported"),
    "read_restricted_reflections": N_("others' restricted reflections read"),
    "role_change": N_("role changed"),
    "erasure": N_("person erased"),
    "retention_change": N_("retention period changed"),
    "retention_deletion": N_("deleted under retention"),
}

# The keys of the entries' details; a key not here is shown as it is stored.
AUDIT_DETAILS = {
    "by": N_("done through"),
    "format": N_("file format"),
    "rows": N_("rows"),
    "private": N_("private reflections included"),
    "pseudonymised": N_("pseudonymised"),
    "organisation": N_("organisation"),
    "reflections": N_("reflections"),
    "keep_reflections": N_("shared reflections kept"),
    "from": N_("previous role"),
    "to": N_("new role"),
    "ends_at": N_("programme ends"),
    "days": N_("days kept"),
    "reflection_days": N_("days for the reflection bank"),
    "quiz_answer_days": N_("days for quiz answers"),
    "kind": N_("what"),
    **retention.COUNTED,
}

# Stored values that are words of the code, per key.
AUDIT_VALUES: dict[str, dict[str, str]] = {
    "by": {"cli": N_("the command line")},
    "from": {role.value: name for role, name in ROLE_NAMES.items()},
    "to": {role.value: name for role, name in ROLE_NAMES.items()},
    "kind": {kind.value: name for kind, name in retention.LABELS.items()},
}


def audit_action(t: Translator, action: str) -> str:
    """The action in the reader's words; one this Digilog does not know (written by a newer
    version, say) keeps its stored name, marked."""
    if action in AUDIT_ACTIONS:
        return t(AUDIT_ACTIONS[action])
    marked = t("(unknown action)")  # outside the f-string, where the catalogue finds it
    return f"{action} {marked}"


def audit_detail(t: Translator, detail: dict[str, Any] | None) -> str:
    """ "file format: csv, rows: 12": the detail in words. What is not set is left out (no
    organisation: all of them; no previous role: new to the cohort)."""
    return ", ".join(
        f"{t(AUDIT_DETAILS[key]) if key in AUDIT_DETAILS else key}: {_audit_value(t, key, value)}"
        for key, value in (detail or {}).items()
        if value is not None
    )


def _audit_value(t: Translator, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    if isinstance(value, str) and value in AUDIT_VALUES.get(key, {}):
        return t(AUDIT_VALUES[key][value])
    if key == "ends_at" and isinstance(value, str):
        try:
            return f"{datetime.fromisoformat(value).astimezone(UTC):%Y-%m-%d %H:%M}Z"
        except ValueError:
            return value
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)  # the reflections read, by number
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def audit_record(entry: AuditEntry, cohort_key: str) -> dict[str, Any]:
    """An entry for `digilog audit --json`: the log's own names, the same in every language,
    so a script reads them; people by number only, as in the log."""
    return {
        "id": entry.id,
        "at": f"{entry.at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z",
        "cohort": cohort_key or None,
        "action": entry.action,
        "actor_person_id": entry.actor_person_id,
        "subject_person_id": entry.subject_person_id,
        "detail": entry.detail,
    }


async def pseudonym_salt(store: Store, cohort_key: str) -> str:
    """The cohort's secret for pseudonymised exports, made on first use."""
    async with store.transaction() as repos:
        cohort = await _cohort(repos, cohort_key)
        if cohort.pseudonym_salt is None:
            cohort.pseudonym_salt = export.new_salt()
        return cohort.pseudonym_salt


DEMO_PEOPLE = (
    # user id, name, organisation, role
    ("fia", "Fia Facilitator", "region-vasterbotten", Role.facilitator),
    ("anna", "Anna Lindqvist", "umea", Role.participant),
    ("bjorn", "Björn Öberg", "pitea", Role.participant),
    ("cecilia", "Cecilia Åström", "skelleftea", Role.participant),
    ("david", "David Nilsson", "ornskoldsvik", Role.participant),
)


async def seed_demo(store: Store, programme: Programme, language: str) -> Cohort:
    """A small cohort to try things in: one facilitator and four participants."""
    keys = {o.id for o in programme.programme.organisations}
    cohort = await create_cohort(
        store,
        CohortSpec(
            key="demo",
            program_id=programme.id,
            title="Demo",
            language=language,
            self_enrol=True,
            timezone=programme.programme.timezone,
        ),
    )
    rows = [
        RosterRow(i, name, None, user_id, org if org in keys else next(iter(keys)), role)
        for i, (user_id, name, org, role) in enumerate(DEMO_PEOPLE, start=1)
    ]
    await import_roster(store, cohort.key, rows, skip_bad=False)
    return cohort
