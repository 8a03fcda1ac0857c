"""Programme files: the YAML that facilitators write, validated before anything is stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    field_validator,
    model_validator,
)

from handlers.core.i18n import N_
from handlers.core.yaml_file import Mistake, parse_mapping, read_source

LANGUAGES = ("sv", "en")
Language = Literal["sv", "en"]


def _local_text(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise Mistake(N_("the text is empty"))
        return dict.fromkeys(LANGUAGES, value.strip())
    if isinstance(value, dict):
        unknown = sorted(str(k) for k in value if k not in LANGUAGES)
        if unknown:
            raise Mistake(
                N_("unknown language {languages} (use sv and/or en)"), languages=", ".join(unknown)
            )
        if not value:
            raise Mistake(N_("give the text in sv and/or en"))
        for lang, text in value.items():
            if not isinstance(text, str) or not text.strip():
                raise Mistake(N_("the {language} text is empty"), language=lang)
        return {k: v.strip() for k, v in value.items()}
    raise Mistake(N_("expected a text, or {{sv: ..., en: ...}}"))


LocalText = Annotated[dict[str, str], BeforeValidator(_local_text)]
"""A text in one or more languages: a plain string is the same text in all."""


def localise(text: dict[str, str], language: str, fallbacks: Iterable[str] = LANGUAGES) -> str:
    if language in text:
        return text[language]
    for lang in fallbacks:
        if lang in text:
            return text[lang]
    return next(iter(text.values()))


def _slug(value: str) -> str:
    import re

    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", value):
        raise Mistake(N_("use lowercase letters a-z, digits and hyphens, e.g. pitea-kommun"))
    return value


def _url(value: str) -> str:
    if not value.startswith(("https://", "http://")) or len(value) < 12 or " " in value:
        raise Mistake(N_("expected a web address starting with https://"))
    return value


Slug = Annotated[str, Field(max_length=64), AfterValidator(_slug)]
Url = Annotated[str, AfterValidator(_url)]


def known_zone(value: str) -> str:
    """The time zone as written, if Python knows it; a Mistake for the file's reader if not."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Mistake(N_("unknown time zone {zone} (e.g. Europe/Stockholm)"), zone=value) from None
    return value


def before(first: datetime, then: datetime) -> bool:
    """Whether `first` comes strictly before `then`. A time with a zone and one without
    cannot be compared (the one without takes a zone only later): that is a mistake."""
    if (first.tzinfo is None) != (then.tzinfo is None):
        raise Mistake(N_("give every time with a zone, or none of them: do not mix the two"))
    return first < then


class Strict(BaseModel):
    # defer_build: the schemas are made at the first programme read, not at every start.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


def _all_languages() -> list[Language]:
    return ["sv", "en"]


class OrganisationSpec(Strict):
    id: Slug
    name: LocalText


class ProgrammeInfo(Strict):
    id: Slug
    title: LocalText
    languages: list[Language] = Field(default_factory=_all_languages, min_length=1)
    timezone: str = "Europe/Stockholm"
    organisations: list[OrganisationSpec] = Field(min_length=1)

    @field_validator("languages")
    @classmethod
    def _distinct_languages(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise Mistake(N_("a language is listed twice"))
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("organisations")
    @classmethod
    def _distinct_organisations(cls, value: list[OrganisationSpec]) -> list[OrganisationSpec]:
        _no_duplicates(o.id for o in value)
        return value


class Material(Strict):
    title: LocalText
    kind: Literal["film", "podcast", "text", "link"]
    url: Url
    minutes: PositiveInt | None = None


class ReflectionTask(Strict):
    """A theme's reflection task, done with a learning buddy from another organisation, a
    colleague from one's own, or (`either`) whichever the participant chooses."""

    text: LocalText
    with_: Literal["buddy", "colleague", "either"] = Field(default="buddy", alias="with")
    # The task as done with a colleague, where it differs from `text` (the buddy's).
    colleague_text: LocalText | None = None

    def forms(self) -> tuple[str, ...]:
        """The ways this task may be done: "colleague", "buddy" or both."""
        return ("colleague", "buddy") if self.with_ == "either" else (self.with_,)

    def text_for(self, form: str) -> dict[str, str]:
        return self.colleague_text if form == "colleague" and self.colleague_text else self.text


class Workshop(Strict):
    title: LocalText
    description: LocalText | None = None


class QuizOption(Strict):
    text: LocalText
    correct: bool = False


class QuizQuestion(Strict):
    text: LocalText
    options: list[QuizOption] = Field(min_length=2, max_length=6)
    explanation: LocalText

    @field_validator("options")
    @classmethod
    def _one_correct(cls, value: list[QuizOption]) -> list[QuizOption]:
        if not any(o.correct for o in value):
            raise Mistake(N_("no option is marked `correct: true`"))
        return value


class Quiz(Strict):
    questions: list[QuizQuestion] = Field(min_length=1)


class Theme(Strict):
    title: LocalText
    intro: LocalText
    materials: list[Material] = Field(default_factory=list)
    reflection_task: ReflectionTask
    workshop: Workshop | None = None
    digilog_prompt: LocalText
    quiz: Quiz | None = None


class LabSession(Strict):
    start: datetime
    end: datetime
    place: LocalText | None = None
    link: Url | None = None
    capacity: PositiveInt

    @model_validator(mode="after")
    def _sensible(self) -> LabSession:
        if not before(self.start, self.end):
            raise Mistake(N_("the session ends before it starts"))
        if self.place is None and self.link is None:
            raise Mistake(N_("give a place or a link (or both)"))
        return self


class Lab(Strict):
    id: Slug
    title: LocalText
    category: Literal["leading-digitally", "development-methods"]
    description: LocalText
    sessions: list[LabSession] = Field(min_length=1)


class Scale(Strict):
    """A rating scale, e.g. 1 (a beginner) to 5 (confident, could teach others)."""

    min: int = 1
    max: int = 5
    low: LocalText | None = None  # what the lowest value means
    high: LocalText | None = None

    @model_validator(mode="after")
    def _sensible(self) -> Scale:
        if not 0 <= self.min < self.max <= 10:
            raise Mistake(N_("a scale runs upwards, from 0 or more to at most 10 (e.g. 1 to 5)"))
        return self

    def values(self) -> range:
        return range(self.min, self.max + 1)


class SurveyQuestion(Strict):
    id: Slug
    kind: Literal["rating", "text"]
    text: LocalText


class ThemeSurvey(Strict):
    """One theme's survey beside the shared questions: a question with a shared one's id
    replaces it, another is added after them, and `leave_out` drops shared ones (the
    question about the learning buddy after a theme done with a colleague)."""

    questions: list[SurveyQuestion] = Field(default_factory=list, max_length=10)
    leave_out: list[Slug] = Field(default_factory=list)

    @field_validator("questions")
    @classmethod
    def _distinct_questions(cls, value: list[SurveyQuestion]) -> list[SurveyQuestion]:
        _no_duplicates(q.id for q in value)
        return value


class Evaluation(Strict):
    """A questionnaire of its own: the final evaluation of the whole programme, or the few
    questions each lab session's attendees are asked afterwards."""

    questions: list[SurveyQuestion] = Field(min_length=1, max_length=10)

    @field_validator("questions")
    @classmethod
    def _distinct_questions(cls, value: list[SurveyQuestion]) -> list[SurveyQuestion]:
        _no_duplicates(q.id for q in value)
        return value


class Survey(Strict):
    """Asked after each theme (shared questions, with per-theme changes), at the end of the
    programme (`final`), and after each lab session (`lab`); one rating scale for all."""

    scale: Scale = Field(default_factory=Scale)
    questions: list[SurveyQuestion] = Field(min_length=1, max_length=10)
    themes: dict[PositiveInt, ThemeSurvey] = Field(default_factory=dict)
    final: Evaluation | None = None
    lab: Evaluation | None = None

    @field_validator("questions")
    @classmethod
    def _distinct_questions(cls, value: list[SurveyQuestion]) -> list[SurveyQuestion]:
        _no_duplicates(q.id for q in value)
        return value

    @field_validator("lab")
    @classmethod
    def _few_lab_questions(cls, value: Evaluation | None) -> Evaluation | None:
        if value is not None and len(value.questions) > 3:
            raise Mistake(N_("a lab session's attendees are asked at most three questions"))
        return value

    @model_validator(mode="after")
    def _left_out_are_shared(self) -> Survey:
        shared = {q.id for q in self.questions}
        for number, theme in self.themes.items():
            for question in theme.leave_out:
                if question not in shared:
                    raise Mistake(
                        N_("theme {number} leaves out {id}, which is no shared question"),
                        at=("themes", number, "leave_out"),
                        number=number,
                        id=question,
                    )
            if len(self.for_theme(number)) == 0:
                raise Mistake(
                    N_("theme {number}'s survey has no questions left"),
                    at=("themes", number),
                    number=number,
                )
        return self

    def for_theme(self, number: int) -> list[SurveyQuestion]:
        """The questions after theme `number`: the shared ones as that theme changes them."""
        own = self.themes.get(number)
        if own is None:
            return list(self.questions)
        replaced = {q.id: q for q in own.questions}
        found = [replaced.pop(q.id, q) for q in self.questions if q.id not in own.leave_out]
        return found + list(replaced.values())

    def ratings(self) -> list[SurveyQuestion]:
        """Every rated question after any theme, each once, shared ones first."""
        found = {q.id: q for q in self.questions if q.kind == "rating"}
        for theme in self.themes.values():
            for question in theme.questions:
                if question.kind == "rating":
                    found.setdefault(question.id, question)
        return list(found.values())


class AssessmentArea(Strict):
    id: Slug
    title: LocalText
    description: LocalText | None = None


class SelfAssessment(Strict):
    """Rated at the start and at the end of the programme: growth per area."""

    scale: Scale = Field(default_factory=Scale)
    areas: list[AssessmentArea] = Field(min_length=1, max_length=20)

    @field_validator("areas")
    @classmethod
    def _distinct_areas(cls, value: list[AssessmentArea]) -> list[AssessmentArea]:
        _no_duplicates(a.id for a in value)
        return value


class Programme(Strict):
    programme: ProgrammeInfo
    themes: list[Theme] = Field(min_length=1)
    labs: list[Lab] = Field(default_factory=list)
    survey: Survey | None = None
    self_assessment: SelfAssessment | None = None

    @field_validator("labs")
    @classmethod
    def _distinct_labs(cls, value: list[Lab]) -> list[Lab]:
        _no_duplicates(lab.id for lab in value)
        return value

    @model_validator(mode="after")
    def _survey_themes_exist(self) -> Programme:
        if self.survey is not None:
            for number in self.survey.themes:
                if number > len(self.themes):
                    raise Mistake(
                        N_("the programme has no theme {number}"),
                        at=("survey", "themes", number),
                        number=number,
                    )
        return self

    @model_validator(mode="after")
    def _sessions_in_programme_zone(self) -> Programme:
        # A time written without a zone means the programme's local time.
        zone = ZoneInfo(self.programme.timezone)
        for lab in self.labs:
            for session in lab.sessions:
                for name in ("start", "end"):
                    moment: datetime = getattr(session, name)
                    if moment.tzinfo is None:
                        object.__setattr__(session, name, moment.replace(tzinfo=zone))
        return self

    @property
    def id(self) -> str:
        return self.programme.id

    def theme(self, number: int) -> Theme | None:
        """Themes are numbered from 1, as facilitators and participants count them."""
        return self.themes[number - 1] if 1 <= number <= len(self.themes) else None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return data

    def checksum(self) -> str:
        canonical = json.dumps(self.as_json(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _no_duplicates(ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise Mistake(N_("the id {id} is used twice"), id=value)
        seen.add(value)


def parse_programme(source: str, filename: str) -> Programme:
    located = parse_mapping(
        source, filename, "programme:, themes:, labs:, survey:, self_assessment:"
    )
    return located.validate(Programme)


def load_programme(path: Path) -> Programme:
    return parse_programme(read_source(path), str(path))


def programme_from_json(data: dict[str, Any]) -> Programme:
    """A programme as stored in the database (it was validated when it was loaded)."""
    return Programme.model_validate(data)
