"""Sensitive acts into the audit log: the few places that change someone's role."""

from __future__ import annotations

from storage.models import Membership, Role
from storage.unit import Repositories


async def enrol(
    repos: Repositories,
    cohort_id: int,
    person_id: int,
    organisation_id: int,
    role: Role,
    *,
    by: int | None,
) -> tuple[Membership, bool]:
    """Enrol, and log a role that changes (or a new member who is not a participant);
    `by` is the facilitator who did it, None an administrator."""
    before = await repos.people.member(cohort_id, person_id)
    was = before.membership.role if before else None
    membership, created = await repos.people.enrol(cohort_id, person_id, organisation_id, role)
    if role != was and (was is not None or role != Role.participant):
        await repos.audit.record(
            "role_change",
            cohort_id=cohort_id,
            actor_person_id=by,
            subject_person_id=person_id,
            detail={"from": was.value if was else None, "to": role.value},
        )
    return membership, created
