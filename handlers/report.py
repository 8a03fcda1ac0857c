"""The facilitators' report: per theme and organisation, who took part and how, with a chart.

The figures come from what the cohort did: digilog posts and replies (and replies
across organisations), quizzes finished and their mean score, buddy groups that met,
and lab seats. The chart is drawn with matplotlib, off-screen.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field

from handlers.context import Args, Context, programme_of
from handlers.i18n import Translator
from handlers.programme_file import localise
from handlers.vocabulary import FileMessage, Message, MessageBuilder, Outgoing, Span, ToActor
from storage.models import Cohort, Role, Source
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

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.quiz_done if self.quiz_done else None


@dataclass
class Report:
    themes: list[tuple[int, str]]  # number, title
    organisations: list[str]  # names, in order
    rows: dict[tuple[int, str], Row] = field(default_factory=dict)
    buddies: dict[int, tuple[int, int]] = field(default_factory=dict)  # theme → groups, met
    lab_seats: dict[str, int] = field(default_factory=dict)  # organisation → seats taken

    def row(self, theme: int, organisation: str) -> Row:
        return self.rows.setdefault((theme, organisation), Row())


async def figures(repos: Repositories, cohort: Cohort, language: str) -> Report:
    programme = await programme_of(repos, cohort.program_id)
    participants = await repos.people.members(cohort.id, Role.participant)
    organisation = {m.person.id: localise(m.organisation.name, language) for m in participants}
    names = sorted(set(organisation.values()))
    started = [run.theme_number for run in await repos.themes.started(cohort.id)]
    themes = [
        (n, localise(t.title, language))
        for n, t in enumerate(programme.themes, start=1)
        if n in started
    ]
    report = Report(themes, names)
    for number, _ in themes:
        for name in names:
            report.row(number, name).participants = sum(
                1 for org in organisation.values() if org == name
            )
    posted: defaultdict[int, set[int]] = defaultdict(set)
    for theme, author, source, answered in await repos.reflections.digilog_activity(cohort.id):
        if theme is None or author not in organisation or theme not in dict(themes):
            continue  # facilitators' posts and posts outside a started theme
        row = report.row(theme, organisation[author])
        posted[theme].add(author)
        if source is Source.digilog_reply:
            row.replies += 1
            row.replies_across += (
                answered in organisation and organisation[answered] != organisation[author]
            )
        else:
            row.posts += 1
    for number, _ in themes:
        for person in posted[number]:
            report.row(number, organisation[person]).posted += 1
        quiz = programme.themes[number - 1].quiz
        if quiz is None:
            continue
        for person, (answered, right) in (await repos.quizzes.scores(cohort.id, number)).items():
            if person in organisation and answered >= len(quiz.questions):
                row = report.row(number, organisation[person])
                row.quiz_done += 1
                row.score_sum += right / len(quiz.questions)
    report.buddies = await repos.buddies.met_by_theme(cohort.id)
    for person in await repos.labs.seated_people(cohort.id):
        if person in organisation:
            name = organisation[person]
            report.lab_seats[name] = report.lab_seats.get(name, 0) + 1
    return report


def message(t: Translator, report: Report) -> Message:
    build = MessageBuilder().heading(t("Report"))
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
                    score=f" ({row.mean_score:.0%})" if row.mean_score is not None else "",
                ),
            )
            for name in report.organisations
        )
        groups, met = report.buddies.get(number, (0, 0))
        if groups:
            build.note(
                t("Learning buddies: {met} of {groups} groups have met.", met=met, groups=groups)
            )
    if report.lab_seats:
        build.para(Span(t("Lab seats taken"), strong=True))
        build.facts((name, str(report.lab_seats.get(name, 0))) for name in report.organisations)
    return build.build()


def chart(t: Translator, report: Report) -> bytes:
    """Participation by theme and organisation: share who took part in the digilog, and
    share who finished the quiz. A PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display: the chart is a file
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(1, 2, figsize=(11, 4.5), sharey=True)
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
        axis.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axes[0].legend(fontsize="small")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    pyplot.close(figure)
    return out.getvalue()


def table(report: Report) -> str:
    """The same figures as CSV, one row per theme and organisation."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "theme",
            "organisation",
            "participants",
            "posted",
            "posts",
            "replies",
            "replies_across",
            "quiz_done",
            "quiz_mean_score",
        ]
    )
    for number, _ in report.themes:
        for name in report.organisations:
            row = report.row(number, name)
            writer.writerow(
                [
                    number,
                    name,
                    row.participants,
                    row.posted,
                    row.posts,
                    row.replies,
                    row.replies_across,
                    row.quiz_done,
                    f"{row.mean_score:.3f}" if row.mean_score is not None else "",
                ]
            )
    return out.getvalue()


async def report(context: Context, args: Args) -> list[Outgoing]:
    """report: the figures as a message, and the chart as a file sent to you."""
    t = context.t
    context.require_facilitator()
    cohort = context.require_cohort()
    found = await figures(context.repos, cohort, context.language)
    outgoing = [context.reply(message(t, found))]
    if found.themes:
        outgoing.append(
            Outgoing(
                ToActor(),
                FileMessage(
                    filename=f"{cohort.key}-participation.png",
                    content=chart(t, found),
                    title=t("Participation by theme and organisation"),
                    comment=t("Participation by theme and organisation"),
                ),
            )
        )
    return outgoing
