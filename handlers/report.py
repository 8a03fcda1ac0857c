"""The facilitators' report: per theme and organisation, who took part and how, with charts.

The figures come from what the cohort did: digilog posts and replies (and replies
across organisations), quizzes finished and their mean score, buddy groups that met,
lab seats and attendance, attendance at every gathering (each organisation's own local
meetings too) and the hours of it, survey ratings and the self-assessment's change. Every
figure per group stands for at least `anonymity.K` people, by the one rule of
`anonymity.py`: smaller organisations are merged, a mean over fewer is withheld.
Charts are drawn with matplotlib, off-screen.
"""

from __future__ import annotations

import io
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handlers import gatherings, surveys
from handlers.core import anonymity, csv_cells
from handlers.core.access import Access
from handlers.core.context import Args, Context, programme_of
from handlers.core.formats import number_text, share_text
from handlers.core.i18n import N_, Translator
from handlers.core.programme_file import localise
from handlers.core.registry import Command, Feature
from handlers.core.vocabulary import FileMessage, Message, MessageBuilder, Outgoing, Span, ToActor
from handlers.surveys import AssessmentFigures, SurveyFigures
from storage.models import Cohort, Source
from storage.unit import Repositories


@dataclass
class Row:
    """One theme and one organisation."""

    participants: int = 0
    posted: int = 0  # people who posted or replied in the digilog
    posts: int = 0
    replies: int = 0
    replies_across: int = 0  # replies to someone from another organisation
    quiz_done: int = 0
    score_sum: float = 0.0  # of those who finished, their share right

    def mean(self) -> float | None:
        return self.score_sum / self.quiz_done if self.quiz_done else None


@dataclass
class Report:
    themes: list[tuple[int, str]]  # number, title
    # Organisations of at least K participants, and "Other organisations"; none when the
    # cohort itself has fewer than K participants.
    organisations: list[str]
    participants: int = 0
    rows: dict[tuple[int, str], Row] = field(default_factory=dict)
    buddies: dict[int, tuple[int, int]] = field(default_factory=dict)  # theme → groups, met
    lab_seats: dict[str, int] = field(default_factory=dict)  # organisation → seats taken
    lab_attended: dict[str, int] = field(default_factory=dict)  # organisation → sessions
    # Per theme, its survey's rated questions as that theme asked them: id, text.
    questions: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    surveys: dict[int, SurveyFigures] = field(default_factory=dict)  # by theme
    areas: list[tuple[str, str]] = field(default_factory=list)  # id, title
    assessment: AssessmentFigures | None = None
    scale: tuple[int, int] = (1, 5)  # the self-assessment's
    # Per gathering (workshop, local meeting, event): how many of each group were present;
    # the organisations' own local meetings one row per kind.
    attendance: list[gatherings.Turnout] = field(default_factory=list)
    # Per group, the hours its participants were present, by theme (None: labs, local
    # meetings and events): what the funder pays for, in every kind of gathering.
    hours: dict[str, dict[int | None, float]] = field(default_factory=dict)
    group_sizes: dict[str, int] = field(default_factory=dict)
    # Themes whose mean quiz score is not shown: fewer than K finished in some group.
    scores_withheld: set[int] = field(default_factory=set)
    # Per theme, participants who handed in their reflection task, by how it was done.
    tasks: dict[int, dict[str, int]] = field(default_factory=dict)

    def row(self, theme: int, organisation: str) -> Row:
        return self.rows.setdefault((theme, organisation), Row())

    def mean_score(self, theme: int, organisation: str) -> float | None:
        """A group's mean share right of those who finished; None when withheld or none."""
        return None if theme in self.scores_withheld else self.row(theme, organisation).mean()

    @property
    def replies_across(self) -> int:
        """Replies to someone of another organisation, in every started theme."""
        return sum(row.replies_across for row in self.rows.values())


async def participation(
    repos: Repositories, cohort: Cohort, t: Translator, groups: anonymity.Groups | None = None
) -> Report:
    """Who took part in each started theme's digilog and quiz, per group: the figures the
    report and the facilitator's home page share."""
    language = t.language
    programme = await programme_of(repos, cohort.program_id)
    groups = groups or await anonymity.groups(repos, cohort, t)
    organisation = groups.label_of
    started = [run.theme_number for run in await repos.themes.started(cohort.id)]
    themes = [
        (n, localise(theme.title, language))
        for n, theme in enumerate(programme.themes, start=1)
        if n in started
    ]
    report = Report(themes, groups.order, participants=len(groups.organisation_of))
    for number, _ in themes:
        for name in groups.order:
            report.row(number, name).participants = groups.size(name)
    posted: defaultdict[int, set[int]] = defaultdict(set)
    for theme, author, source, answered in await repos.reflections.digilog_activity(cohort.id):
        if theme is None or author not in organisation or theme not in dict(themes):
            continue  # facilitators' posts and posts outside a started theme
        row = report.row(theme, organisation[author])
        posted[theme].add(author)
        if source is Source.digilog_reply:
            row.replies += 1
            # Between real organisations: two merged into "other" are still two.
            row.replies_across += groups.across(author, answered)
        else:
            row.posts += 1
    for number, _ in themes:
        for person in posted[number]:
            report.row(number, organisation[person]).posted += 1
        quiz = programme.themes[number - 1].quiz
        if quiz is None:
            continue
        scores = await repos.quizzes.scores(cohort.id, number)
        finished = [
            person
            for person, (answered, _) in scores.items()
            if person in organisation and answered >= len(quiz.questions)
        ]
        for person in finished:
            row = report.row(number, organisation[person])
            row.quiz_done += 1
            row.score_sum += scores[person][1] / len(quiz.questions)
        # A mean score over fewer than K who finished is withheld, and then for every group.
        if not anonymity.per_group(groups.bases(finished), groups.order):
            report.scores_withheld.add(number)
    return report


async def figures(
    repos: Repositories, cohort: Cohort, t: Translator, now: datetime | None = None
) -> Report:
    """Every figure of the report, in the reader's language; with `now`, the gatherings
    that have not begun yet are left out of the attendance (nobody can be present yet)."""
    language = t.language
    programme = await programme_of(repos, cohort.program_id)
    groups = await anonymity.groups(repos, cohort, t)
    organisation = groups.label_of
    report = await participation(repos, cohort, t, groups)
    themes = report.themes
    report.buddies = await repos.buddies.met_by_theme(cohort.id)
    for theme, form, person in await repos.tasks.done_by_kind(cohort.id):
        if person in organisation:  # participants only, as every figure here
            counts = report.tasks.setdefault(theme, {})
            counts[form] = counts.get(form, 0) + 1
    report.attendance = await gatherings.report_counts(repos, cohort, t, organisation, now)
    for name in organisation.values():
        report.group_sizes[name] = report.group_sizes.get(name, 0) + 1
    for row in await gatherings.attendance_rows(repos, cohort, programme, t):
        if row.person_id in organisation and row.hours:
            hours = report.hours.setdefault(organisation[row.person_id], {})
            hours[row.theme] = hours.get(row.theme, 0.0) + row.hours
    for counts, people in (
        (report.lab_seats, await repos.labs.seated_people(cohort.id)),
        (report.lab_attended, await repos.labs.attended_people(cohort.id)),
    ):
        for person in people:
            if person in organisation:
                counts[organisation[person]] = counts.get(organisation[person], 0) + 1
    if programme.survey is not None:
        for number, _ in themes:
            # A theme may ask a shared question in its own words ("with a learning buddy or
            # a colleague"): the figure is labelled as it was asked.
            report.questions[number] = [
                (q.id, localise(q.text, language))
                for q in programme.survey.for_theme(number)
                if q.kind == "rating"
            ]
            report.surveys[number] = await surveys.survey_figures(
                repos, cohort, programme, number, t
            )
    if programme.self_assessment is not None:
        report.areas = [
            (a.id, localise(a.title, language)) for a in programme.self_assessment.areas
        ]
        report.assessment = await surveys.assessment_figures(repos, cohort, programme, t)
        scale = programme.self_assessment.scale
        report.scale = (scale.min, scale.max)
    return report


def message(t: Translator, report: Report) -> Message:
    build = MessageBuilder().heading(t("Report"))
    if not report.organisations:
        build.para(anonymity.too_small(t, report.participants))
        return build.build()
    if not report.themes:
        build.para(t("No theme has started yet."))
    for number, title in report.themes:
        build.para(Span(t("Theme {number}: {title}", number=number, title=title), strong=True))
        build.facts(
            (
                name,
                t(
                    "{posted} of {people} in the digilog · {replies} replies, {across} across "
                    "organisations · quiz {done} of {people}{score}",
                    posted=(row := report.row(number, name)).posted,
                    people=row.participants,
                    replies=row.replies,
                    across=row.replies_across,
                    done=row.quiz_done,
                    score=f" ({share_text(mean, t.language)})"
                    if (mean := report.mean_score(number, name)) is not None
                    else "",
                ),
            )
            for name in report.organisations
        )
        if number in report.scores_withheld and any(
            report.row(number, name).quiz_done for name in report.organisations
        ):
            build.note(
                t(
                    "Quiz scores are shown once at least {k} in every group have finished the "
                    "quiz, so that no score can be traced to a person.",
                    k=anonymity.K,
                )
            )
        if number in report.tasks:
            done = report.tasks[number]
            build.note(
                t(
                    "Reflection task handed in: {colleague} with a colleague, {buddy} with a "
                    "learning buddy.",
                    colleague=done.get("colleague", 0),
                    buddy=done.get("buddy", 0),
                )
            )
        groups, met = report.buddies.get(number, (0, 0))
        if groups:
            build.note(
                t("Learning buddies: {met} of {groups} groups have met.", met=met, groups=groups)
            )
        if number in report.surveys:
            _survey(t, report.questions.get(number, []), report.surveys[number], build)
    if report.lab_seats:
        build.para(Span(t("Labs: seats taken, and sessions attended"), strong=True))
        build.facts(
            (
                name,
                t(
                    "{seats} seats · {attended} attended",
                    seats=report.lab_seats.get(name, 0),
                    attended=report.lab_attended.get(name, 0),
                ),
            )
            for name in report.organisations
        )
    _attendance(t, report, build)
    if report.assessment is not None:
        _assessment(t, report, report.assessment, build)
    return build.build()


def _attendance(t: Translator, report: Report, build: MessageBuilder) -> None:
    """Who was present at each gathering, per group, and the hours it adds up to."""
    if any(turnout.present for turnout in report.attendance):
        build.para(Span(t("Attendance"), strong=True))
        for turnout in report.attendance:
            build.para(turnout.label)
            build.facts(
                (
                    name,
                    t(
                        "{present} of {people} present",
                        present=turnout.present.get(name, 0),
                        people=turnout.people.get(name, 0),
                    ),
                )
                for name in report.organisations
                if turnout.people.get(name, 0)
            )
    if report.hours:
        build.para(Span(t("Hours of attendance"), strong=True))
        build.facts(
            (name, _hours_text(t, report.hours.get(name, {}), report.group_sizes.get(name, 0)))
            for name in report.organisations
        )


def _hours_text(t: Translator, hours: dict[int | None, float], people: int) -> str:
    """ "Theme 1: 9 h · labs, local meetings and events: 11 h · in total 20 h (4 h each)"."""
    parts = [
        t("Theme {number}: {hours} h", number=n, hours=gatherings.hours_text(t, hours[n]))
        for n in sorted(n for n in hours if n is not None)
    ]
    if None in hours:
        parts.append(
            t(
                "labs, local meetings and events: {hours} h",
                hours=gatherings.hours_text(t, hours[None]),
            )
        )
    total = sum(hours.values())
    parts.append(
        t(
            "in total {hours} h ({each} h per participant)",
            hours=gatherings.hours_text(t, total),
            each=gatherings.hours_text(t, round(total / people, 1) if people else 0.0),
        )
    )
    return " · ".join(parts)


def _everyone(t: Translator, group: str) -> str:
    return group or t("Everyone")


def _survey(
    t: Translator, questions: list[tuple[str, str]], found: SurveyFigures, build: MessageBuilder
) -> None:
    if not found.respondents:
        return
    if not found.means:
        build.note(t("Survey: {status}", status=anonymity.too_few(t, found.respondents)))
        return
    groups = list(next(iter(found.means.values())))
    build.facts(
        (
            t("Survey, {group}", group=_everyone(t, group)),
            " · ".join(
                f"{text}: {number_text(found.means[qid][group][1], t.language)} "
                f"({found.means[qid][group][0]})"
                for qid, text in questions
                if group in found.means.get(qid, {})
            ),
        )
        for group in groups
    )


def _assessment(
    t: Translator, report: Report, found: AssessmentFigures, build: MessageBuilder
) -> None:
    build.para(Span(t("Self-assessment: start and end"), strong=True))
    if not found.means:
        build.para(anonymity.too_few(t, found.respondents))
        return
    build.facts(
        (f"{title} · {_everyone(t, group)}", surveys.change_text(t, n, start, end))
        for area, title in report.areas
        for group, (n, start, end) in found.means.get(area, {}).items()
    )


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: the chart is a file
    from matplotlib import pyplot

    return pyplot


def _png(figure: Any, bottom: float = 0.0) -> bytes:
    figure.tight_layout(rect=(0, bottom, 1, 1))  # `bottom`: room for a legend below
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    _pyplot().close(figure)
    return out.getvalue()


def chart(t: Translator, report: Report) -> bytes | None:
    """Participation by theme and organisation: share who took part in the digilog, and
    share who finished the quiz. A PNG; None when there is nothing to show."""
    if not report.themes or not report.organisations:
        return None
    from matplotlib.ticker import PercentFormatter

    figure, axes = _pyplot().subplots(1, 2, figsize=(11, 4.5), sharey=True)
    labels = [str(n) for n, _ in report.themes]
    width = 0.8 / max(len(report.organisations), 1)
    for title, axis, measure in (
        (t("In the digilog"), axes[0], "posted"),
        (t("Quiz finished"), axes[1], "quiz_done"),
    ):
        for i, name in enumerate(report.organisations):
            shares = [
                getattr(row, measure) / row.participants
                if (row := report.row(n, name)).participants
                else 0
                for n, _ in report.themes
            ]
            axis.bar([x + i * width for x in range(len(labels))], shares, width, label=name)
        axis.set_title(title)
        axis.set_xticks(
            [x + width * (len(report.organisations) - 1) / 2 for x in range(len(labels))]
        )
        axis.set_xticklabels([t("Theme {number}", number=n) for n in labels])
        axis.set_ylim(0, 1)
        axis.yaxis.set_major_formatter(PercentFormatter(1.0))
    # Below the charts, where it hides no bar.
    handles, names = axes[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="lower center", ncol=min(len(names), 5), fontsize="small")
    return _png(figure, bottom=0.08)


def assessment_chart(t: Translator, report: Report) -> bytes | None:
    """The self-assessment per area, at the start and at the end, for everyone who took
    both. A PNG; None when fewer than K did."""
    found = report.assessment
    if found is None or not found.means:
        return None
    areas = [(area, title) for area, title in report.areas if "" in found.means.get(area, {})]
    starts = [found.means[area][""][1] for area, _ in areas]
    ends = [found.means[area][""][2] for area, _ in areas]
    figure, axis = _pyplot().subplots(figsize=(11, 4.5))
    places = range(len(areas))
    axis.bar([x - 0.2 for x in places], starts, 0.4, label=t("At the start"))
    axis.bar([x + 0.2 for x in places], ends, 0.4, label=t("At the end"))
    axis.set_xticks(list(places))
    axis.set_xticklabels([textwrap.fill(title, 18) for _, title in areas], fontsize="small")
    low, high = report.scale
    axis.set_ylim(low, high)
    axis.set_title(
        t.plural(
            "Self-assessment before and after ({n} person)",
            "Self-assessment before and after ({n} people)",
            found.respondents,
        )
    )
    axis.legend(fontsize="small")
    return _png(figure)


def table(t: Translator, report: Report, *, excel: bool = False) -> str:
    """The same figures as CSV, one row per theme and organisation."""
    columns = (
        "theme",
        "organisation",
        "participants",
        "posted",
        "posts",
        "replies",
        "replies_across",
        "quiz_done",
        "quiz_mean_score",
    )
    rows = []
    for number, _ in report.themes:
        for name in report.organisations:
            row = report.row(number, name)
            mean = report.mean_score(number, name)
            rows.append(
                [
                    number,
                    name,
                    row.participants,
                    row.posted,
                    row.posts,
                    row.replies,
                    row.replies_across,
                    row.quiz_done,
                    round(mean, 3) if mean is not None else "",
                ]
            )
    return csv_cells.table(t, columns, rows, excel=excel)


def survey_table(t: Translator, report: Report, *, excel: bool = False) -> str:
    """The survey ratings as CSV: one row per theme, group and question."""
    columns = ("theme", "group", "question", "respondents", "mean_rating")
    rows = [
        [number, group or t("Everyone"), question, n, round(mean, 3)]
        for number, found in report.surveys.items()
        for question, groups in found.means.items()
        for group, (n, mean) in groups.items()
    ]
    return csv_cells.table(t, columns, rows, excel=excel)


def attendance_table(t: Translator, report: Report, *, excel: bool = False) -> str:
    """Attendance as CSV: one row per gathering and group (each of at least K people)."""
    columns = ("gathering", "group", "present", "people")
    rows = [
        [turnout.label, group, turnout.present.get(group, 0), turnout.people[group]]
        for turnout in report.attendance
        for group in report.organisations
        if turnout.people.get(group, 0)
    ]
    return csv_cells.table(t, columns, rows, excel=excel)


def hours_table(t: Translator, report: Report, *, excel: bool = False) -> str:
    """The hours of attendance as CSV: one row per group and theme ("" for labs, local
    meetings and events), and the group's total; each group of at least K people."""
    columns = ("group", "theme", "hours", "people")
    rows: list[list[object]] = []
    for group in report.organisations:
        hours = report.hours.get(group, {})
        people = report.group_sizes.get(group, 0)
        rows += [
            [group, n, _hours_cell(hours[n]), people]
            for n in sorted(n for n in hours if n is not None)
        ]
        if None in hours:
            rows.append([group, "", _hours_cell(hours[None]), people])
        rows.append([group, t("In total"), _hours_cell(sum(hours.values())), people])
    return csv_cells.table(t, columns, rows, excel=excel)


def _hours_cell(hours: float) -> int | float:
    """Whole hours as whole numbers (the ESF list writes them so), else two decimals."""
    rounded = round(float(hours), 2)
    return int(rounded) if rounded.is_integer() else rounded


def assessment_table(t: Translator, report: Report, *, excel: bool = False) -> str:
    """The self-assessment as CSV: one row per area and group."""
    columns = ("area", "group", "people", "start", "end", "change")
    means = report.assessment.means if report.assessment else {}
    rows = [
        [
            area,
            group or t("Everyone"),
            n,
            round(start, 3),
            round(end, 3),
            round(end - start, 3),
        ]
        for area, groups in means.items()
        for group, (n, start, end) in groups.items()
    ]
    return csv_cells.table(t, columns, rows, excel=excel)


def files(
    t: Translator, report: Report, *, excel: bool = False
) -> list[tuple[str, str | bytes, str]]:
    """What `report` sends and `digilog report` writes: file name, content, title; the
    CSVs in Swedish Excel's way with `excel` (csv_cells)."""
    found: list[tuple[str, str | bytes, str]] = [
        ("report.csv", table(t, report, excel=excel), t("Participation by theme and organisation")),
    ]
    if (png := chart(t, report)) is not None:
        found.append(("participation.png", png, t("Participation by theme and organisation")))
    if report.surveys:
        found.append(("surveys.csv", survey_table(t, report, excel=excel), t("Survey ratings")))
    if any(turnout.present for turnout in report.attendance):
        found.append(("attendance.csv", attendance_table(t, report, excel=excel), t("Attendance")))
    if report.hours:
        found.append(("hours.csv", hours_table(t, report, excel=excel), t("Hours of attendance")))
    if report.assessment is not None:
        found.append(
            ("self-assessment.csv", assessment_table(t, report, excel=excel), t("Self-assessment"))
        )
    if (png := assessment_chart(t, report)) is not None:
        found.append(("self-assessment.png", png, t("Self-assessment before and after")))
    return found


async def report(context: Context, args: Args) -> list[Outgoing]:
    """report: the figures as a message, and the charts as files sent to you."""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    found = await figures(context.repos, cohort, t, context.now())
    outgoing = [context.reply(message(t, found))]
    for name, content, title in files(t, found):
        if isinstance(content, bytes):  # the charts; the CSVs are for `digilog report`
            outgoing.append(
                Outgoing(
                    ToActor(),
                    FileMessage(f"{cohort.key}-{name}", content, title=title, comment=title),
                )
            )
    return outgoing


FEATURE = Feature(
    "report",
    N_("Report"),
    commands=(
        Command(
            ("report",),
            N_("report"),
            N_("How the cohort is doing, per theme and organisation, with a chart."),
            Access.facilitator,
            report,
            sv=("rapport",),
        ),
    ),
)
