"""A digest of a theme's digilog, for its facilitators: what to bring into the workshop.

Sent to each facilitator on the working day before the theme's workshop (planned from the
calendar's workshop entry), and on demand (`digest N`). It says who took part per
organisation, which posts nobody has answered yet, which organisations talked to each
other, the words and phrases that came up more here than in the rest of the bank, and a
few quotations, with a chart of who answered whom as a file.

Only what the whole cohort may see goes in: digilog posts and replies are cohort-visible
when written, and the digest reads nothing else (`ReflectionRepository.shared_digilog`),
so no private or facilitators-only reflection is counted, weighed or quoted. The figures
per organisation follow `anonymity.py`: groups of at least K participants, smaller ones
merged, and none at all in a cohort of fewer than K.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from handlers.core import anonymity
from handlers.core.access import Access
from handlers.core.context import Args, Context, Refusal, address_of, programme_of, zone_of
from handlers.core.deliveries import Composing, Decision, Drop, Send
from handlers.core.humane import holiday_name
from handlers.core.i18n import N_, Translator, translator
from handlers.core.programme_file import localise
from handlers.core.registry import ButtonKind, Command, Feature
from handlers.core.vocabulary import (
    FileMessage,
    Message,
    MessageBuilder,
    Option,
    Outgoing,
    Span,
    ToActor,
)
from handlers.themes import theme_number
from storage.deliveries import Planned
from storage.models import Cohort, Role, Source
from storage.reflections import ReflectionView
from storage.swedish import analyse_word, words

if TYPE_CHECKING:
    from handlers.core.programme_file import Programme
    from storage.unit import Repositories

PREFIX = "digest"  # of buttons: `digest:<cohort>:<theme>`
BEFORE_WORKSHOP = "digest_before_workshop"
SENT_AT = time(8)  # local time on the working day before the workshop
# The rest of the bank a theme's words are compared with: the newest this many texts.
COMPARED_WITH = 5000
WORDS, PHRASES = 8, 5
QUOTES_MIN, QUOTES_MAX = 3, 5
UNANSWERED_SHOWN = 10
QUOTE_CHARS = 280
# Words too common to say anything about a discussion: function words and the verbs and
# adverbs every post is built of (Snowball's Swedish stop list and a few more). Compared
# with the lemma as well as the form, so "är" goes with "vara".
_STOP_TEXT = """
    och det att i en jag hon som han på den med var sig för så till är men ett om hade de
    av icke mig du henne då sin nu har inte hans honom skulle hennes där min man ej vid
    kunde något från ut när efter upp vi dem vara vad över än dig kan sina här ha mot alla
    under någon eller allt mycket sedan ju denna själv detta åt utan varit hur ingen mitt
    ni bli blev oss din dessa några deras blir mina samma vilken er sådan vår blivit dess
    inom mellan sådant varför varje vilka ditt vem vilket sådana vart dina vars vårt våra
    ert era också få måste bör ska skall får göra gör gjorde mer mest sätt bra tycker tycka
    tror tro även många mången väldigt lite vill vilja behöver behöva finns finnas olika
    just hela hel bara idag annat annan andra kanske dock både genom redan ofta vet veta se
    ser säga säger sagt kommer komma kom gå går ta tar stor större ny nya nytt bättre god
    gott väl lika tänker tänka tänkt känns kännas hos sen nog fast igen därför eftersom
    medan vidare mig själva dom ingenting inget alltid aldrig mycken ganska egen egna eget
    första sista hålla håller blivit lägga sig oss tid gång gånger fler flera kring mm osv
    kunna skola böra låta bliva hava viktig sak saker del delar alls fråga gärna dag
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
_SENTENCE = re.compile(r"[.!?;:\n]+")


@dataclass(frozen=True)
class Contribution:
    """One digilog post or reply the whole cohort may see."""

    id: int
    author_id: int
    author: str
    organisation: str
    body: str
    is_reply: bool
    answered: int | None  # whom it replied to
    reply_to: int | None  # which reflection it replied to
    created_at: datetime


@dataclass(frozen=True)
class Term:
    shown: str  # as a reader sees it: the lemma, or a phrase as most often written
    posts: int  # in how many of the theme's posts and replies
    score: float


@dataclass
class Digest:
    theme: int
    title: str
    participants: int
    contributions: list[Contribution]
    # Groups of at least K participants (anonymity.py); empty when the cohort is smaller.
    groups: list[str] = field(default_factory=list)
    group_sizes: dict[str, int] = field(default_factory=dict)
    posted: Counter[str] = field(default_factory=Counter)  # people who posted
    replied: Counter[str] = field(default_factory=Counter)  # people who replied
    posts: Counter[str] = field(default_factory=Counter)
    replies: Counter[str] = field(default_factory=Counter)
    # Replies between two real organisations, by the groups they are in (sorted pair).
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Every participant's reply by (the replier's group, the answered one's group).
    answered: Counter[tuple[str, str]] = field(default_factory=Counter)
    unanswered: list[Contribution] = field(default_factory=list)
    words: list[Term] = field(default_factory=list)
    phrases: list[Term] = field(default_factory=list)
    quotes: list[Contribution] = field(default_factory=list)

    @property
    def post_count(self) -> int:
        return sum(not c.is_reply for c in self.contributions)

    @property
    def reply_count(self) -> int:
        return sum(c.is_reply for c in self.contributions)


# ------------------------------------------------------------------------- the words


def _sentences(text: str) -> Iterable[list[tuple[str, str] | None]]:
    """Each sentence's words as (lemma, form), a word too common to count as None."""
    for sentence in _SENTENCE.split(text):
        found: list[tuple[str, str] | None] = []
        for word in words(sentence):
            if len(word) < 3 or word.isdigit() or word in STOP_WORDS:
                found.append(None)
                continue
            bases = analyse_word(word).bases
            lemma = min(bases, key=lambda b: (len(b), b)) if bases else word
            found.append(None if lemma in STOP_WORDS else (lemma, word))
        yield found


def _terms(text: str) -> tuple[set[str], set[str], dict[str, str]]:
    """A text's lemmas, its two-word phrases (by lemma), and each phrase as written."""
    lemmas: set[str] = set()
    phrases: set[str] = set()
    written: dict[str, str] = {}
    for sentence in _sentences(text):
        for i, word in enumerate(sentence):
            if word is None:
                continue
            lemmas.add(word[0])
            following = sentence[i + 1] if i + 1 < len(sentence) else None
            if following is not None:
                key = f"{word[0]} {following[0]}"
                phrases.add(key)
                written[key] = f"{word[1]} {following[1]}"
    return lemmas, phrases, written


def distinctive(
    contributions: list[Contribution], rest: list[str]
) -> tuple[list[Term], list[Term]]:
    """The words and phrases that came up most in these posts compared with the rest of
    the bank: in how many posts a term is (each post counts once, so one person repeating
    a word does not make it a theme), times its inverse document frequency in the rest
    (smoothed, so that a first theme with no rest is ranked by its posts alone). A term
    must come from at least two people: one person's pet word is no shared topic."""
    in_posts: Counter[str] = Counter()
    authors: defaultdict[str, set[int]] = defaultdict(set)
    as_written: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for contribution in contributions:
        lemmas, phrases, written = _terms(contribution.body)
        for term in lemmas | phrases:
            in_posts[term] += 1
            authors[term].add(contribution.author_id)
        for key, text in written.items():
            as_written[key][text] += 1
    elsewhere: Counter[str] = Counter()
    for body in rest:
        lemmas, phrases, _ = _terms(body)
        elsewhere.update(lemmas | phrases)
    ranked: dict[bool, list[Term]] = {False: [], True: []}
    for term, posts in in_posts.items():
        if posts < 2 or len(authors[term]) < 2:
            continue
        idf = math.log((1 + len(rest)) / (1 + elsewhere[term])) + 1
        phrase = " " in term
        shown = as_written[term].most_common(1)[0][0] if phrase else term
        ranked[phrase].append(Term(shown, posts, posts * idf))
    for found in ranked.values():
        found.sort(key=lambda term: (-term.score, term.shown))
    return ranked[False][:WORDS], ranked[True][:PHRASES]


def _representative(contributions: list[Contribution], top: list[Term]) -> list[Contribution]:
    """Three to five posts that together carry most of the words the discussion came back
    to: each pick is the post with the most weight in words no earlier pick carried, each
    by someone else (and from another organisation while there are any), in the order
    they were written. A short reply ("Håller med!") says little on its own."""
    weight = {term.shown: term.score for term in top if " " not in term.shown}
    candidates: list[tuple[Contribution, set[str], float]] = []
    for contribution in contributions:
        length = len(words(contribution.body))
        if length >= 8:
            lemmas, _, _ = _terms(contribution.body)
            candidates.append((contribution, lemmas & set(weight), min(1.0, length / 25)))
    wanted = min(QUOTES_MAX, max(QUOTES_MIN, len(contributions) // 5))
    chosen: list[Contribution] = []
    covered: set[str] = set()
    for distinct_organisations in (True, False):
        while len(chosen) < wanted:
            authors = {c.author_id for c in chosen}
            organisations = {c.organisation for c in chosen}
            best: tuple[float, int, Contribution] | None = None
            for contribution, lemmas, fullness in candidates:
                if contribution.author_id in authors or (
                    distinct_organisations and contribution.organisation in organisations
                ):
                    continue
                gain = sum(weight[lemma] * (0.1 if lemma in covered else 1.0) for lemma in lemmas)
                key = (gain * fullness, -contribution.id, contribution)
                if best is None or key[:2] > best[:2]:
                    best = key
            if best is None:
                break
            chosen.append(best[2])
            covered |= next(lemmas for c, lemmas, _ in candidates if c is best[2])
    return sorted(chosen, key=lambda c: (c.created_at, c.id))


def excerpt(body: str, limit: int = QUOTE_CHARS) -> str:
    """A post as a quotation: whole when short, else up to a sentence's (or a word's) end."""
    body = " ".join(body.split())
    if len(body) <= limit:
        return body
    cut = body[:limit]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if end >= limit // 2:
        return cut[: end + 1] + " …"
    return cut[: cut.rfind(" ")].rstrip(",;:") + " …" if " " in cut else cut + "…"


# ---------------------------------------------------------------------- the figures


def _contribution(view: ReflectionView, t: Translator) -> Contribution:
    r = view.reflection
    return Contribution(
        r.id,
        r.author_id,
        view.author.display_name,
        localise(view.organisation.name, t.language),
        r.body,
        r.source is Source.digilog_reply,
        r.replied_to_person_id,
        r.reply_to_id,
        r.created_at,
    )


async def digest(repos: Repositories, cohort: Cohort, theme: int, t: Translator) -> Digest:
    """A theme's digest, in the reader's language."""
    programme = await programme_of(repos, cohort.program_id)
    found = programme.theme(theme)
    title = localise(found.title, t.language) if found is not None else str(theme)
    groups = await anonymity.groups(repos, cohort, t)
    views = await repos.reflections.shared_digilog(cohort.id, theme)
    everything = [_contribution(view, t) for view in views]
    # Facilitators' own posts are neither counted nor quoted: the digest is about the cohort.
    contributions = [c for c in everything if c.author_id in groups.organisation_of]
    result = Digest(theme, title, len(groups.organisation_of), contributions)
    label = groups.label_of
    if label:
        result.groups = groups.order
        result.group_sizes = {name: groups.size(name) for name in groups.order}
        posted: set[int] = set()
        replied: set[int] = set()
        for c in contributions:
            if c.is_reply:
                result.replies[label[c.author_id]] += 1
                replied.add(c.author_id)
                if c.answered in label and c.answered != c.author_id:
                    result.answered[label[c.author_id], label[c.answered]] += 1
                if groups.across(c.author_id, c.answered):
                    assert c.answered is not None
                    pair = sorted((label[c.author_id], label[c.answered]))
                    result.pairs[pair[0], pair[1]] += 1
            else:
                result.posts[label[c.author_id]] += 1
                posted.add(c.author_id)
        for person in posted:
            result.posted[label[person]] += 1
        for person in replied:
            result.replied[label[person]] += 1
    # Answered: someone other than its author replied to it (a facilitator too).
    answered = {c.reply_to for c in everything if c.is_reply and c.answered != c.author_id}
    result.unanswered = [c for c in contributions if not c.is_reply and c.id not in answered]
    rest = await repos.reflections.shared_bodies_beside(cohort.id, theme, COMPARED_WITH)
    result.words, result.phrases = distinctive(contributions, rest)
    result.quotes = _representative(contributions, result.words + result.phrases)
    return result


# ----------------------------------------------------------------------- the message


def message(
    t: Translator, found: Digest, zone: Any, cohort_id: int | None = None, lead: str = ""
) -> Message:
    build = MessageBuilder().heading(
        t("Digest of the digilog, theme {number}: {title}", number=found.theme, title=found.title)
    )
    if lead:
        build.para(lead)
    if not found.contributions:
        build.para(t("Nobody has written in this digilog yet."))
        return build.build()
    build.para(
        t.plural(
            "{posts} post and {replies} replies so far.",
            "{posts} posts and {replies} replies so far.",
            found.post_count,
            posts=found.post_count,
            replies=found.reply_count,
        )
    )
    if not found.groups:
        build.note(anonymity.too_small(t, found.participants))
    else:
        build.para(Span(t("Who took part"), strong=True))
        build.facts(
            (
                name,
                t(
                    "{posted} of {people} posted, {replied} replied · {posts} posts, "
                    "{replies} replies",
                    posted=found.posted[name],
                    people=found.group_sizes[name],
                    replied=found.replied[name],
                    posts=found.posts[name],
                    replies=found.replies[name],
                ),
            )
            for name in found.groups
        )
        build.para(Span(t("Organisations that talked to each other"), strong=True))
        if found.pairs:
            build.bullets(
                t.plural(
                    "{first} and {second}: {n} reply",
                    "{first} and {second}: {n} replies",
                    n,
                    first=a,
                    second=b,
                )
                if a != b
                else t.plural(
                    "Between organisations within {group}: {n} reply",
                    "Between organisations within {group}: {n} replies",
                    n,
                    group=a,
                )
                for (a, b), n in sorted(found.pairs.items(), key=lambda i: (-i[1], i[0]))
            )
        else:
            build.para(t("No reply across organisations yet."))
    build.para(Span(t("No reply yet"), strong=True))
    if found.unanswered:
        build.bullets(
            (
                Span(f"{c.author} ({c.organisation}), {_day(c.created_at, zone)}: "),
                Span(excerpt(c.body, 160)),
            )
            for c in found.unanswered[:UNANSWERED_SHOWN]
        )
        if len(found.unanswered) > UNANSWERED_SHOWN:
            build.note(
                t(
                    "And {n} more without a reply.",
                    n=len(found.unanswered) - UNANSWERED_SHOWN,
                )
            )
    else:
        build.para(t("Every post has a reply."))
    if found.words or found.phrases:
        build.para(Span(t("What came up more here than in the rest of the bank"), strong=True))
        if found.words:
            build.facts([(t("Words"), " · ".join(f"{w.shown} ({w.posts})" for w in found.words))])
        if found.phrases:
            build.facts(
                [(t("Phrases"), " · ".join(f"“{p.shown}” ({p.posts})" for p in found.phrases))]
            )
        build.note(t("In brackets: in how many posts and replies."))
    if found.quotes:
        build.para(Span(t("In their own words"), strong=True))
        build.bullets(
            (Span(f"“{excerpt(c.body)}”"), Span(f" — {c.author}, {c.organisation}"))
            for c in found.quotes
        )
    build.note(
        t(
            "Only posts and replies the whole cohort can see are counted and quoted; "
            "facilitators' own posts are left out."
        )
    )
    if cohort_id is not None:
        build.choices(
            [Option(f"{PREFIX}:{cohort_id}:{found.theme}", t("The digest with its chart"))]
        )
    return build.build()


def _day(moment: datetime, zone: Any) -> str:
    local = moment.astimezone(zone)
    return f"{local.day}/{local.month}"  # 6/12: the 6th of December, as Swedes write it


def chart(t: Translator, found: Digest) -> bytes | None:
    """Who answered whom: replies by the replier's group (rows) and the answered one's
    (columns). A PNG; None when there are no groups or no replies between participants."""
    if not found.groups or not found.answered:
        return None
    import io

    import matplotlib

    matplotlib.use("Agg")  # no display: the chart is a file
    from matplotlib import pyplot

    names = found.groups
    grid = [[found.answered[row, col] for col in names] for row in names]
    size = 2.4 + 1.1 * len(names)
    figure, axis = pyplot.subplots(figsize=(size + 1.5, size))
    image = axis.imshow(grid, cmap="Blues")
    top = max(max(row) for row in grid)
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            colour = "white" if value > top / 2 else "black"
            axis.text(j, i, str(value), ha="center", va="center", color=colour)
    wrapped = ["\n".join(_wrap(name)) for name in names]
    axis.set_xticks(range(len(names)), wrapped, fontsize="small", rotation=30, ha="right")
    axis.set_yticks(range(len(names)), wrapped, fontsize="small")
    axis.set_xlabel(t("answered"))
    axis.set_ylabel(t("replied"))
    axis.set_title(t("Who answered whom, theme {number}", number=found.theme))
    figure.colorbar(image, ax=axis, shrink=0.7)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    pyplot.close(figure)
    return out.getvalue()


def _wrap(name: str, width: int = 16) -> list[str]:
    lines: list[str] = []
    for word in name.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


# ---------------------------------------------------------------------- commands


async def _send(context: Context, number: int, *, button: bool) -> list[Outgoing]:
    t, cohort = context.t, context.require_cohort()
    found = await digest(context.repos, cohort, number, t)
    outgoing = [context.reply(message(t, found, context.zone, cohort.id if button else None))]
    if (png := chart(t, found)) is not None:
        title = t("Who answered whom, theme {number}", number=number)
        outgoing.append(
            Outgoing(
                ToActor(),
                FileMessage(f"{cohort.key}-digest-{number}.png", png, title=title, comment=title),
            )
        )
    return outgoing


async def _command(context: Context, args: Args) -> list[Outgoing]:
    """`digest <theme>`: the digest now, with its chart."""
    context.require_facilitator()
    return await _send(
        context, theme_number(context, args, await context.programme()), button=False
    )


async def _button(context: Context, action_id: str) -> list[Outgoing]:
    """`digest:<cohort>:<theme>`, from the digest sent before a workshop."""
    number = action_id.rpartition(":")[2]
    if not number.isdigit() or (await context.programme()).theme(int(number)) is None:
        raise Refusal(context.t("That button no longer does anything."))
    return await _send(context, int(number), button=False)


# ------------------------------------------------------------------ before a workshop


def working_day_before(start: datetime, zone: Any) -> datetime:
    """`SENT_AT` on the last working day (no weekend, no Swedish public holiday) before
    the day of `start`, in UTC."""
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day.isoweekday() > 5 or holiday_name(day):
        day -= timedelta(days=1)
    return datetime.combine(day, SENT_AT, zone).astimezone(start.tzinfo)


async def _plan(
    repos: Repositories, cohort: Cohort, programme: Programme, now: datetime
) -> list[Planned]:
    """A digest row for each facilitator once the working day before a workshop has come."""
    zone = zone_of(None, cohort)
    planned: list[Planned] = []
    facilitators: list[int] | None = None
    for entry in await repos.calendar.entries(cohort.id):
        if entry.kind != "workshop" or entry.theme_number is None:
            continue
        at = working_day_before(entry.starts_at, zone)
        if not at <= now < entry.starts_at:
            continue
        if facilitators is None:
            facilitators = [
                m.person.id for m in await repos.people.members(cohort.id, Role.facilitator)
            ]
        planned += [
            Planned(
                key=f"{BEFORE_WORKSHOP}:c{cohort.id}:{entry.key}:p{person}",
                cohort_id=cohort.id,
                kind=BEFORE_WORKSHOP,
                due_at=at,
                relevant_until=entry.starts_at,
                theme_number=entry.theme_number,
                person_id=person,
                detail={"workshop": entry.key},
            )
            for person in facilitators
        ]
    return planned


async def _compose(composing: Composing) -> Decision:
    """The digest, to one facilitator, in their language, with a button for the chart."""
    repos, cohort, delivery = composing.repos, composing.cohort, composing.delivery
    if delivery.person_id is None or delivery.theme_number is None:
        return Drop(N_("a digest names a facilitator and a theme"))
    member = await repos.people.member(cohort.id, delivery.person_id)
    if member is None or member.membership.role != Role.facilitator:
        return Drop(N_("no longer a facilitator of the cohort"))
    person = member.person
    if person.user_id is None:
        return Drop(N_("the facilitator has no account to write to"))
    t = translator(person.language or cohort.language)
    found = await digest(repos, cohort, delivery.theme_number, t)
    lead = t(
        "The workshop of theme {number} is on the next working day. "
        "Here is what its digilog has brought so far.",
        number=delivery.theme_number,
    )
    body = message(t, found, zone_of(person, cohort), cohort.id, lead)
    return Send(Outgoing(address_of(person), body))


FEATURE = Feature(
    "digest",
    N_("Digest"),
    commands=(
        Command(
            ("digest",),
            N_("digest <theme>"),
            N_(
                "A digest of a theme's digilog: who took part, posts without a reply, "
                "what came up, quotations, and a chart of who answered whom."
            ),
            Access.facilitator,
            _command,
            sv=("sammanfattning",),
        ),
    ),
    buttons=(
        ButtonKind(
            PREFIX,
            Access.facilitator,
            "see a theme's digest and its chart",
            _button,
            "this cohort's",
            same_cohort=True,
        ),
    ),
    deliveries={BEFORE_WORKSHOP: _compose},
    labels={BEFORE_WORKSHOP: N_("Digests before a workshop")},
    planners=(_plan,),
    reads_text=True,
)
