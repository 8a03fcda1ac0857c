"""The tables. The schema itself is owned by Alembic migrations, never create_all."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates
from sqlalchemy.types import TypeDecorator

NAME_LENGTH = 200  # a person's display name
ID_LENGTH = 100  # a person's platform user id, and a workspace's or tenant's id


def utcnow() -> datetime:
    return datetime.now(UTC)


# The execution option (on the engine a `Store` writes through) and the session info key
# that carry the store's clock: a rehearsal's rows carry the rehearsal's time.
CLOCK = "digilog_clock"


def stamped(context: Any) -> datetime:
    """A column's default time: the writing store's clock, else the system's."""
    clock = context.execution_options.get(CLOCK) if context is not None else None
    return clock() if clock is not None else utcnow()


def now_of(session: Any) -> datetime:
    """The time by the clock of the store whose session (sync or async) this is."""
    clock = session.info.get(CLOCK)
    return clock() if clock is not None else utcnow()


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC everywhere and always hands back aware datetimes (SQLite keeps none)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Role(enum.StrEnum):
    participant = "participant"
    facilitator = "facilitator"
    # Someone of an organisation's support function (HR, a digitalisation unit): sees the
    # plans for change that their organisation's participants share with them.
    support = "support"


class Visibility(enum.StrEnum):
    private = "private"  # the author only
    facilitators = "facilitators"  # the author and the cohort's facilitators
    cohort = "cohort"  # everyone in the cohort
    # The author, the facilitators and the support function of the author's organisation.
    organisation = "organisation"


class Source(enum.StrEnum):
    digilog_post = "digilog_post"
    digilog_reply = "digilog_reply"
    command = "command"
    saved_message = "saved_message"
    needs_inventory = "needs_inventory"  # the opening local meeting: what I want to develop
    change_plan = "change_plan"  # the closing local meeting: my plan for change
    task_finding = "task_finding"  # what we found in a theme's reflection task


naming = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=naming)
    type_annotation_map: ClassVar = {datetime: UTCDateTime, dict[str, Any]: JSON}


def _enum(cls: type[enum.StrEnum]) -> Enum:
    # Stored as plain strings with a CHECK constraint: portable and readable in SQL.
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Program(Base):
    __tablename__ = "programs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[dict[str, Any]]
    definition: Mapped[dict[str, Any]]
    checksum: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(default=stamped)


class Organisation(Base):
    __tablename__ = "organisations"
    __table_args__ = (UniqueConstraint("program_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[dict[str, Any]]


class Cohort(Base):
    __tablename__ = "cohorts"
    __table_args__ = (UniqueConstraint("platform", "workspace", "conversation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id"))
    title: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(100))
    conversation_id: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    self_enrol: Mapped[bool] = mapped_column(Boolean, default=False)
    # The secret behind a pseudonymised export's ids: stable for the cohort, never shown.
    pseudonym_salt: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=stamped)


class Person(Base):
    __tablename__ = "people"
    # A number is never given again (SQLite reuses the highest id without it): the audit
    # log names people by number, and an erased person's number must name nobody.
    __table_args__ = (
        UniqueConstraint("platform", "workspace", "user_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(100))
    # None until a roster row that named only an e-mail address is linked to an account.
    user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    display_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    language: Mapped[str | None] = mapped_column(String(5))
    timezone: Mapped[str | None] = mapped_column(String(64))  # else the cohort's
    # When nudges may reach the person, e.g. "1-5 08:00-17:00"; None is that default.
    working_hours: Mapped[str | None] = mapped_column(String(40))
    nudges_snoozed_until: Mapped[datetime | None]
    muted_nudges: Mapped[list[str] | None] = mapped_column(JSON)
    # Set after nudges in a row went unheeded; the person or a facilitator resumes them.
    nudges_paused_at: Mapped[datetime | None]
    # Set when the platform said the bot cannot write to the person (Teams: they have not
    # installed the app); cleared when they next use Digilog.
    unreachable_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=stamped)

    @validates("display_name")
    def _fitting(self, key: str, value: str) -> str:
        # A platform lets people call themselves anything; the column holds 200 characters.
        return value[:NAME_LENGTH]


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("cohort_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    role: Mapped[Role] = mapped_column(_enum(Role))
    joined_at: Mapped[datetime] = mapped_column(default=stamped)
    buddy_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)


class ThemeRun(Base):
    __tablename__ = "theme_runs"
    __table_args__ = (
        UniqueConstraint("cohort_id", "theme_number"),
        Index(None, "cohort_id", "post_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    theme_number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=stamped)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the theme post landed; its thread is the theme's digilog.
    post_message_id: Mapped[str | None] = mapped_column(String(200))
    digilog_closed_at: Mapped[datetime | None]
    quiz_opened_at: Mapped[datetime | None]
    quiz_closed_at: Mapped[datetime | None]


class Reflection(Base):
    __tablename__ = "reflections"
    __table_args__ = (
        UniqueConstraint("cohort_id", "message_id"),
        Index(None, "cohort_id", "created_at"),
        {"sqlite_autoincrement": True},  # "Sparad som #16" names one reflection, ever
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    theme_number: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[Source] = mapped_column(_enum(Source))
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility))
    body: Mapped[str] = mapped_column(Text)
    # The platform's id of the message this reflection came from, for edits and deletes.
    message_id: Mapped[str | None] = mapped_column(String(200))
    reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("reflections.id", ondelete="SET NULL")
    )
    replied_to_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=stamped)
    updated_at: Mapped[datetime] = mapped_column(default=stamped, onupdate=stamped)
    # The analyser version (storage/swedish.py) that indexed the body; 0: not yet indexed.
    # An older one is re-indexed in the background (storage/reflections.py).
    search_version: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class QuizAnswer(Base):
    __tablename__ = "quiz_answers"
    __table_args__ = (UniqueConstraint("cohort_id", "person_id", "theme_number", "question_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    theme_number: Mapped[int] = mapped_column(Integer)
    question_index: Mapped[int] = mapped_column(Integer)
    option_index: Mapped[int] = mapped_column(Integer)
    correct: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(default=stamped)


class ProcessedEvent(Base):
    """A platform delivery that was handled: a retry with the same id is not handled again."""

    __tablename__ = "processed_events"
    __table_args__ = (UniqueConstraint("platform", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(default=stamped, index=True)


class CalendarEntry(Base):
    """One dated event of a cohort's calendar: a theme start, a quiz closing, a meeting."""

    __tablename__ = "calendar_entries"
    __table_args__ = (UniqueConstraint("cohort_id", "key"), Index(None, "starts_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(60))  # e.g. "theme:2:quiz_close", stable
    kind: Mapped[str] = mapped_column(String(30))
    theme_number: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    place: Mapped[dict[str, Any] | None]
    link: Mapped[str | None] = mapped_column(String(500))
    # An event's own title ({sv, en}) and the seats of its registration, if it has one;
    # other kinds take their titles from the programme and have no registration.
    title: Mapped[dict[str, Any] | None]
    capacity: Mapped[int | None] = mapped_column(Integer)
    # An organisation's own local meeting: the organisation's id in the programme, and who
    # hosts it there; None for what the whole cohort shares.
    organisation: Mapped[str | None] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(200))


class DeliveryState(enum.StrEnum):
    pending = "pending"  # due at due_at
    sending = "sending"  # claimed by a sender until lease_until
    sent = "sent"
    skipped = "skipped"  # no longer needed or relevant; `reason` says why
    failed = "failed"  # gave up after retries; `reason` says why


class Delivery(Base):
    """One message that must go out once: a scheduled post, a reminder or a nudge.

    The row is written before anything is sent; its key (kind, target, period) is
    unique, so planning the same work twice, from any process, adds nothing.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(None, "state", "due_at"),
        Index(None, "person_id", "sent_at"),
        Index(None, "state", "priority", "due_at"),
        Index(None, "cohort_id", "step"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    theme_number: Mapped[int | None] = mapped_column(Integer)
    # The person it goes to; None for a post in the cohort's channel.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    # Whom or what it is about: a facilitator's alert names a participant, an ad-hoc
    # nudge its step and text.
    about_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    detail: Mapped[dict[str, Any] | None]
    due_at: Mapped[datetime]
    relevant_until: Mapped[datetime | None]
    state: Mapped[DeliveryState] = mapped_column(
        _enum(DeliveryState), default=DeliveryState.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    # Set when a send may have reached the platform without us hearing back: the next
    # attempt looks on the platform first.
    maybe_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    conversation_id: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=stamped)
    # Claimed lowest first: channel posts, then alerts to facilitators, then nudges.
    priority: Mapped[int] = mapped_column(Integer, default=2)
    # The step it belongs to (its key without the person): what `schedule` and an outage
    # notice count by.
    step: Mapped[str | None] = mapped_column(String(200))
    # Why it waits or failed, as a category (schedules/courier.py: NO_ANSWER, …), and since
    # when it has been in trouble without a success: an outage notice counts from it.
    trouble: Mapped[str | None] = mapped_column(String(30))
    trouble_since: Mapped[datetime | None]


class PlannedStep(Base):
    """A calendar step of a cohort that has been planned, and what it was planned from: it
    is planned again only when the step's time or the cohort's roster changed."""

    __tablename__ = "planned_steps"

    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(200), primary_key=True)
    mark: Mapped[str] = mapped_column(String(200))
    planned_at: Mapped[datetime] = mapped_column(default=stamped)


class DeliveryOutage(Base):
    """A step an outage delayed: its facilitators are told once when it is delayed and
    once when everything went out."""

    __tablename__ = "delivery_outages"

    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    trouble: Mapped[str] = mapped_column(String(30))
    since: Mapped[datetime]
    noticed_at: Mapped[datetime]
    recovered_at: Mapped[datetime | None]


class SignupState(enum.StrEnum):
    signed_up = "signed_up"
    waiting = "waiting"  # on the waitlist, in order of `created_at`
    cancelled = "cancelled"


class LabSeats(Base):
    """A lab session's seats in one cohort; `taken` only grows while a seat is free."""

    __tablename__ = "lab_seats"

    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True
    )
    session_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0)


class LabSignup(Base):
    __tablename__ = "lab_signups"
    __table_args__ = (
        UniqueConstraint("cohort_id", "session_key", "person_id"),
        Index(None, "cohort_id", "session_key", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    # "<lab id>@<start in UTC>": stable when a programme file reorders its sessions.
    session_key: Mapped[str] = mapped_column(String(120))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    state: Mapped[SignupState] = mapped_column(_enum(SignupState))
    created_at: Mapped[datetime] = mapped_column(default=stamped)
    attended_at: Mapped[datetime | None]  # a facilitator marked them present at the session


class BuddyRound(Base):
    """One pairing of a cohort: for a theme, or (theme 0) for the whole programme."""

    __tablename__ = "buddy_rounds"
    __table_args__ = (UniqueConstraint("cohort_id", "theme_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    theme_number: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=stamped)


class BuddyGroup(Base):
    __tablename__ = "buddy_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("buddy_rounds.id", ondelete="CASCADE"), index=True
    )


class BuddyMember(Base):
    __tablename__ = "buddy_members"
    __table_args__ = (UniqueConstraint("group_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("buddy_groups.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    met_at: Mapped[datetime | None]  # this buddy said "we met"


class BuddyRule(Base):
    """A facilitator's word on one pair: always together (pin) or never (forbid)."""

    __tablename__ = "buddy_rules"

    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True
    )
    # The pair with the lower person id first, so each pair has one row.
    first_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    second_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    pinned: Mapped[bool] = mapped_column(Boolean)  # else forbidden


class SurveyWindow(Base):
    """When a survey (`theme:3`) or a self-assessment round (`assessment:start`) is open."""

    __tablename__ = "survey_windows"

    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True
    )
    survey_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class SurveyAnswer(Base):
    """One person's answer to one question; answering again before it closes replaces it."""

    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("cohort_id", "survey_key", "person_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    survey_key: Mapped[str] = mapped_column(String(100))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(String(64))
    rating: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(default=stamped)


class ConversationAddress(Base):
    """Where a platform takes the bot's messages for a conversation (Teams: its service
    URL), kept from the latest activity, so that scheduled posts and nudges can go out
    when nobody has just written. For a person's one-to-one chat, `user_id` says whose."""

    __tablename__ = "conversation_addresses"

    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(100), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    address: Mapped[str] = mapped_column(String(500))
    bot_id: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(String(200), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=stamped)


class CohortChannel(Base):
    """A cohort's channel on another platform or workspace, beside its own: a cohort can
    meet in a Slack channel and a Teams channel at once."""

    __tablename__ = "cohort_channels"
    __table_args__ = (UniqueConstraint("platform", "workspace", "conversation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(100))
    conversation_id: Mapped[str] = mapped_column(String(200))


class ThemePost(Base):
    """A theme's post in one of the cohort's other channels: the root of that channel's
    thread of the digilog (the cohort's own channel's is `ThemeRun.post_message_id`)."""

    __tablename__ = "theme_posts"
    __table_args__ = (UniqueConstraint("run_id", "channel_id"), Index(None, "message_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("theme_runs.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("cohort_channels.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(200))


class AuditEntry(Base):
    """A sensitive act, kept for good: reading others' facilitator-only reflections,
    exports, erasures, role changes. Append-only (a trigger refuses changes). People
    are named by number only, so an erased person's entries name nobody."""

    __tablename__ = "audit_log"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=stamped, index=True)
    action: Mapped[str] = mapped_column(String(40))
    # No foreign keys: the log outlives cohorts and people.
    cohort_id: Mapped[int | None] = mapped_column(Integer)
    actor_person_id: Mapped[int | None] = mapped_column(Integer)  # None: an administrator
    subject_person_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any] | None]


class Retention(Base):
    """How long a cohort's personal data is kept after its programme ends, and what of it
    has been announced and deleted. A cohort without a row keeps the defaults."""

    __tablename__ = "retention"

    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True
    )
    ends_at: Mapped[datetime | None]  # else the cohort's last calendar entry
    days: Mapped[int] = mapped_column(Integer)
    reflection_days: Mapped[int | None] = mapped_column(Integer)  # else `days`
    quiz_answer_days: Mapped[int | None] = mapped_column(Integer)  # else `days`
    # Per kind of data: the deletion date the facilitators were told of, and when;
    # and when it was deleted.
    noticed: Mapped[dict[str, Any] | None]
    deleted: Mapped[dict[str, Any] | None]


class KeptFigure(Base):
    """A report file (a CSV of figures per organisation, a chart) kept after the cohort's
    personal data went. Its figures stand for groups of at least five people."""

    __tablename__ = "kept_figures"
    __table_args__ = (UniqueConstraint("cohort_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    kept_at: Mapped[datetime] = mapped_column(default=stamped)


class Gathering(Base):
    """What a gathering of a cohort (a workshop, local meeting or event) keeps beside its
    calendar entry, by the entry's stable key: whether participants may mark themselves
    present, and an event's seats taken (`taken` only grows while a seat is free)."""

    __tablename__ = "gatherings"

    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True
    )
    entry_key: Mapped[str] = mapped_column(String(60), primary_key=True)
    self_marking: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity: Mapped[int | None] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0)


class Attendance(Base):
    """One person at one gathering: present or not, and who said so."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("cohort_id", "entry_key", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    entry_key: Mapped[str] = mapped_column(String(60))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    present: Mapped[bool] = mapped_column(Boolean)
    by_self: Mapped[bool] = mapped_column(Boolean, default=False)
    marked_at: Mapped[datetime] = mapped_column(default=stamped)


class EventRegistration(Base):
    __tablename__ = "event_registrations"
    __table_args__ = (UniqueConstraint("cohort_id", "entry_key", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    entry_key: Mapped[str] = mapped_column(String(60))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=stamped)


class OfferedFile(Base):
    """A file Digilog offered a Teams user with a file consent card, kept until they accept
    or decline it (Teams then gives the address to upload it to), or until it expires."""

    __tablename__ = "offered_files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, in the card
    workspace: Mapped[str] = mapped_column(String(ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    offered_at: Mapped[datetime] = mapped_column(default=stamped, index=True)


class ReflectionTaskChoice(Base):
    """How a participant does a theme's reflection task (with a colleague or with their
    learning buddy), with whom, and when "what we found" was handed in."""

    __tablename__ = "reflection_task_choices"
    __table_args__ = (UniqueConstraint("cohort_id", "theme_number", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    theme_number: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    form: Mapped[str] = mapped_column(String(20))  # "colleague" or "buddy"
    # A colleague in the roster, or a name written by hand (someone not in the programme).
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    partner_name: Mapped[str | None] = mapped_column(String(200))
    chosen_at: Mapped[datetime] = mapped_column(default=stamped)
    done_at: Mapped[datetime | None] = mapped_column()
    finding_id: Mapped[int | None] = mapped_column(
        ForeignKey("reflections.id", ondelete="SET NULL")
    )


class InboundEntry(Base):
    """A person's action (a click, a command, a post), written before it is acknowledged.

    Workers take entries with a lease, do the work and delete them; an entry whose lease
    ran out belonged to a process that died, and the next worker takes it. The payload is
    the verified request as the platform sent it, so any process can do the work.
    """

    __tablename__ = "inbound_journal"
    __table_args__ = (UniqueConstraint("platform", "event_id"), Index(None, "due_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    # The platform's id for the delivery (Slack's event_id, a Teams activity's): a retry
    # of one still in the journal adds nothing. None for what has no such id (clicks).
    event_id: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    payload: Mapped[dict[str, Any]]
    due_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Set in the transaction that stored the work: a process that dies after it does
    # not have the work done twice.
    handled: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=stamped)
    # The id of the request that brought it (bot/logs.py): the work's log lines carry it.
    request_id: Mapped[str | None] = mapped_column(String(64))


class InboundFailure(Base):
    """An action that did not go through after its retries: what facilitators and operators
    see. No payload (a post's text stays out); who, what kind, and why."""

    __tablename__ = "inbound_failures"
    __table_args__ = (Index(None, "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    conversation_id: Mapped[str | None] = mapped_column(String(300))
    # The cohort whose channel or button it was, when that could be told.
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    what: Mapped[str] = mapped_column(String(200))  # e.g. "quiz answer", "command: theme"
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    told: Mapped[bool] = mapped_column(Boolean, default=False)  # the person heard of it
    received_at: Mapped[datetime]
    failed_at: Mapped[datetime] = mapped_column(default=stamped)
