"""compile_day: fold an event's log into the day's reflections draft; pure and deterministic."""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import nh3
from pydantic import ValidationError

from server.models import Event, Person, Session, SessionKind, Update
from workers.condense import condense, split_sentences, tokens
from workers.post import Block, Draft, Figure, Heading, Paragraph, Quotation, escape_text, make_draft

__all__ = ["DUPLICATE_THRESHOLD", "FoldedUpdate", "LogEntry", "compile_day", "fold", "is_near_duplicate"]

logger = logging.getLogger(__name__)

#: Token-set (Jaccard) similarity at or above which one reporter's two updates make the same point.
DUPLICATE_THRESHOLD = 0.6
_PARAGRAPH_WORDS = 60

_NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
_KIND_NOUNS: dict[SessionKind, tuple[str, str]] = {
    SessionKind.KEYNOTE: ("keynote", "keynotes"),
    SessionKind.PLENARY: ("plenary session", "plenary sessions"),
    SessionKind.PANEL: ("panel", "panels"),
    SessionKind.ROUNDTABLE: ("roundtable", "roundtables"),
    SessionKind.BREAKOUT: ("breakout session", "breakout sessions"),
    SessionKind.WORKSHOP: ("workshop", "workshops"),
    SessionKind.DEMO: ("live demo", "live demos"),
    SessionKind.OTHER: ("session", "sessions"),
}
# Paragraph openers after the first in a section, used in turn so none repeats back to back.
_CONNECTIVES = ("Later, ", "From there, ", "Next, ", "After that, ", "As the session went on, ")
# fmt: off
_LEAD_WORDS = frozenset({
    "a", "after", "all", "an", "another", "as", "before", "every", "he", "her", "his", "it", "its", "many",
    "most", "once", "one", "our", "she", "some", "that", "the", "their", "there", "these", "they", "this",
    "those", "we", "when", "while"
})
# fmt: on


@dataclass(frozen=True)
class LogEntry:
    """One entry of an event's log, as the store returns it: ``{"type", "seq", "data"}``."""

    seq: str
    type: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class FoldedUpdate:
    """The last version of a surviving update, with the log position of its first post."""

    position: int
    update: Update

    @cached_property
    def text(self) -> str:
        """The update's text, cleaned (see ``_clean``)."""
        return _clean(self.update.text)

    @cached_property
    def words(self) -> frozenset[str]:
        """The content words of the text, for near-duplicate checks."""
        return frozenset(tokens(self.text))


def fold(entries: Iterable[LogEntry]) -> list[FoldedUpdate]:
    """Replay the log: the last version of each update wins, deleted updates are gone.

    Entries other than update/edit/delete are ignored, as are malformed ones (logged). The result is
    in order of first posting.
    """
    latest: dict[str, FoldedUpdate] = {}
    deleted: set[str] = set()
    for position, entry in enumerate(entries):
        if entry.type == "delete":
            update_id = entry.data.get("id")
            if isinstance(update_id, str):
                deleted.add(update_id)
                latest.pop(update_id, None)
            continue
        if entry.type not in ("update", "edit"):
            continue
        try:
            update = Update.model_validate(entry.data)
        except ValidationError:
            logger.warning("skipping malformed %s entry %s", entry.type, entry.seq)
            continue
        if update.id in deleted:
            continue
        previous = latest.get(update.id)
        if previous is None:
            latest[update.id] = FoldedUpdate(position, update)
        elif update.version >= previous.update.version:
            latest[update.id] = FoldedUpdate(previous.position, update)
    return sorted(latest.values(), key=lambda item: item.position)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _clean(text: str) -> str:
    """Plain text with light Markdown: tags and comments stripped (script content too), one line."""
    stripped = nh3.clean(text, tags=set(), clean_content_tags={"script", "style"}, strip_comments=True)
    return " ".join(html.unescape(stripped).split())


def _similar(shared: int, size_a: int, size_b: int) -> bool:
    # Jaccard |A & B| / |A | B| >= t, in integers-and-one-product form so every caller rounds alike.
    return shared > 0 and shared >= DUPLICATE_THRESHOLD * (size_a + size_b - shared)


def is_near_duplicate(a: Iterable[str], b: Iterable[str]) -> bool:
    """True when two token lists make the same point: token-set Jaccard similarity >= DUPLICATE_THRESHOLD."""
    sa, sb = set(a), set(b)
    return _similar(len(sa & sb), len(sa), len(sb))


def _is_protected(update: Update) -> bool:
    return update.key or update.quote is not None or update.image is not None


class _DuplicateIndex:
    """Finds a near-duplicate among the sets added so far, exactly, without comparing every pair.

    Prefix filtering: two sets with Jaccard >= t share a token among the |A| - ceil(t|A|) + 1 rarest of
    each, so only those are indexed and probed. Sets are bitmasks over tokens ranked rarest first, so
    the check of a candidate is one AND and a popcount.
    """

    def __init__(self, rank: Mapping[str, int]) -> None:
        self._rank = rank
        self._sets: list[tuple[int, int]] = []
        self._index: defaultdict[int, list[int]] = defaultdict(list)

    def _encode(self, words: frozenset[str]) -> tuple[list[int], int]:
        ranks = sorted(self._rank[w] for w in words)
        mask = 0
        for r in ranks:
            mask |= 1 << r
        return ranks[: len(ranks) - math.ceil(DUPLICATE_THRESHOLD * len(ranks)) + 1], mask

    def add(self, words: frozenset[str]) -> None:
        if not words:
            return
        prefix, mask = self._encode(words)
        self._sets.append((len(words), mask))
        for r in prefix:
            self._index[r].append(len(self._sets) - 1)

    def matches(self, words: frozenset[str]) -> bool:
        if not words:
            return False
        size = len(words)
        prefix, mask = self._encode(words)
        low, high = DUPLICATE_THRESHOLD * size, size / DUPLICATE_THRESHOLD
        for i in {i for r in prefix for i in self._index.get(r, ())}:
            other_size, other = self._sets[i]
            if low <= other_size <= high and _similar((mask & other).bit_count(), size, other_size):
                return True
        return False


def _drop_near_duplicates(items: Sequence[FoldedUpdate]) -> list[FoldedUpdate]:
    """Drop an update that repeats one its reporter already made in the same part of the day.

    Key updates, quotes and photos are never dropped; a plain update is dropped when it is a near-duplicate
    of any of those or of an earlier kept plain update. ``items`` must be in happened order.
    """
    counts = Counter(w for item in items for w in item.words)
    rarity = {w: r for r, (w, _) in enumerate(sorted(counts.items(), key=lambda wc: (wc[1], wc[0])))}
    indexes: dict[str, _DuplicateIndex] = {}
    for item in items:
        if _is_protected(item.update):
            author = item.update.author.name
            indexes.setdefault(author, _DuplicateIndex(rarity)).add(item.words)
    kept = []
    for item in items:
        update = item.update
        if not _is_protected(update):
            index = indexes.setdefault(update.author.name, _DuplicateIndex(rarity))
            if index.matches(item.words):
                continue
            index.add(item.words)
        kept.append(item)
    return kept


def _number(n: int) -> str:
    return _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _person(person: Person) -> str:
    details = [escape_text(d) for d in (person.role, person.organisation) if d]
    name = escape_text(person.name)
    return f"{name} ({', '.join(details)})" if details else name


def _people(persons: Sequence[Person]) -> str:
    return _join([_person(p) for p in persons])


def _part_of_day(moment: dt.datetime) -> str:
    hour = moment.hour
    return "morning" if hour < 12 else "afternoon" if hour < 17 else "evening"


def _line_up(session: Session, zone: dt.tzinfo) -> str:
    """Sentences introducing who spoke, hosted or took part; empty when the agenda names nobody."""
    speakers, hosts = _people(session.speakers), _people(session.hosts)
    room = f" in {escape_text(session.room)}" if session.room else ""
    when = _part_of_day(_aware(session.starts_at).astimezone(zone))
    sentences: list[str] = []
    hosted = False
    match session.kind:
        case SessionKind.KEYNOTE if speakers:
            sentences.append(f"{speakers} gave the {when} keynote{room}.")
        case SessionKind.PLENARY if speakers:
            sentences.append(f"{speakers} addressed the {when} plenary{room}.")
        case SessionKind.PANEL if speakers:
            lead = f"{hosts} chaired a panel" if hosts else f"The {when} panel{room} brought together"
            sentences.append(f"{lead} with {speakers}." if hosts else f"{lead} {speakers}.")
            hosted = bool(hosts)
        case SessionKind.ROUNDTABLE if hosts:
            guests = f", with {speakers} leading the discussion" if speakers else ""
            sentences.append(f"{hosts} hosted the roundtable{room}{guests}.")
            hosted = True
        case SessionKind.BREAKOUT if speakers:
            sentences.append(f"{speakers} led this {when} breakout{room}.")
        case SessionKind.WORKSHOP if speakers:
            sentences.append(f"{speakers} ran the workshop{room}.")
        case SessionKind.DEMO if speakers:
            sentences.append(f"{speakers} gave the demo{room}.")
        case _ if speakers:
            sentences.append(f"Speaking{room}: {speakers}.")
    if hosts and not hosted:
        sentences.append(f"{hosts} {'was' if len(session.hosts) == 1 else 'were'} in the chair.")
    if session.participants:
        taking_part = _join([escape_text(p) for p in session.participants])
        sentences.append(f"Around the table were {taking_part}." if session.kind is SessionKind.ROUNDTABLE
                         else f"Taking part were {taking_part}.")  # fmt: skip
    return " ".join(sentences)


def _finish(sentence: str, *, lead_in: bool = False) -> str:
    """Capitalise a sentence and end it with punctuation (a colon when it introduces a quote)."""
    if sentence[:1].islower():
        sentence = sentence[0].upper() + sentence[1:]
    if lead_in and sentence[-1:] not in ("!", "?", "…", ":"):
        return sentence.rstrip(".") + ":"
    return sentence if sentence[-1:] in '.!?…:;"”’)' else sentence + "."


def _with_connective(sentence: str, connective: str, names: frozenset[str]) -> str | None:
    """The sentence opened by ``connective``, or None unless it starts with a common lead word (lower-cased
    after the connective) or a known name (kept as it is)."""
    match = re.match(r"([A-Za-z][\w'’-]*)", sentence)
    if match is None:
        return None
    word = re.sub(r"['’]s$", "", match[1])
    if word.lower() in _LEAD_WORDS and (len(word) == 1 or word[1:].islower()):
        return connective + sentence[0].lower() + sentence[1:]
    return connective + sentence if word in names else None


@dataclass
class _Writer:
    """Numbers blocks and rotates connectives across the whole post, so output is deterministic."""

    word_budget: int
    speakers: Mapping[str, Person]
    names: frozenset[str]
    blocks: list[Block] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    connective_turn: int = 0

    def next_id(self, prefix: str) -> str:
        self.counters[prefix] += 1
        return f"{prefix}{self.counters[prefix]}"

    def paragraph(self, text: str, sources: Sequence[str]) -> None:
        self.blocks.append(Paragraph(self.next_id("p"), text, tuple(sources)))

    def connective(self, sentence: str) -> str:
        joined = _with_connective(sentence, _CONNECTIVES[self.connective_turn % len(_CONNECTIVES)], self.names)
        if joined is None:
            return sentence
        self.connective_turn += 1
        return joined

    def attribution(self, speaker: str | None, session: Session | None) -> str | None:
        if not speaker:
            return None
        people = [*session.speakers, *session.hosts] if session else []
        known = next((p for p in people if p.name.casefold() == speaker.casefold()), None)
        known = known or self.speakers.get(speaker.casefold())
        if known is None:
            return escape_text(speaker)
        return ", ".join(escape_text(d) for d in (known.name, known.role, known.organisation) if d)

    def weave(self, items: Sequence[FoldedUpdate], session: Session | None, intro: str) -> None:
        """Write ``items`` (in happened order) as paragraphs, quotes and photos, condensed to the budget.

        ``intro`` opens the first paragraph when the first update has text to join it, else stands alone.
        """
        sentences: list[tuple[int, str]] = []
        keep: list[int] = []
        for n, item in enumerate(items):
            for sentence in split_sentences(item.text):
                if item.update.key or item.update.quote is not None:
                    keep.append(len(sentences))
                sentences.append((n, sentence))
        chosen = condense([s for _, s in sentences], self.word_budget, keep=keep)
        by_item: defaultdict[int, list[str]] = defaultdict(list)
        for index in chosen:
            n, sentence = sentences[index]
            by_item[n].append(sentence)

        text: list[str] = [intro] if intro else []
        sources: list[str] = []
        words = 0
        written = False

        def flush() -> None:
            nonlocal text, sources, words, written
            if text:
                self.paragraph(" ".join(text), sources)
            text, sources, words, written = [], [], 0, True

        for n, item in enumerate(items):
            update = item.update
            quote = _clean(update.quote.text) if update.quote is not None else ""
            own = by_item.get(n, [])
            if own:
                if sources and words >= _PARAGRAPH_WORDS:
                    flush()
                last = len(own) - 1
                own = [_finish(s, lead_in=bool(quote) and i == last) for i, s in enumerate(own)]
                if written and not text and session is not None:
                    own[0] = self.connective(own[0])
                text.extend(own)
                sources.append(update.id)
                words += sum(len(s.split()) for s in own)
            if update.quote is not None and quote:
                flush()
                attribution = self.attribution(update.quote.speaker, session)
                self.blocks.append(Quotation(self.next_id("q"), quote, attribution, (update.id,)))
            if update.image is not None:
                flush()
                image = update.image
                caption = _clean(image.caption) if image.caption else None
                alt = _clean(image.alt) if image.alt else caption or "Photo"
                self.blocks.append(Figure(self.next_id("img"), image.url, alt, caption, (update.id,)))
        flush()


def _kinds(sessions: Sequence[Session]) -> str:
    counts = Counter(s.kind for s in sessions)
    order = list(dict.fromkeys(s.kind for s in sessions))
    phrases = []
    for kind in order:
        singular, plural = _KIND_NOUNS[kind]
        if kind is SessionKind.OTHER and len(order) > 1:
            singular, plural = "further session", "further sessions"
        n = counts[kind]
        article = "an" if singular[0] in "aeiou" else "a"
        phrases.append(f"{article} {singular}" if n == 1 else f"{_number(n)} {plural}")
    return _join(phrases)


def compile_day(
    event: Event,
    sessions: Sequence[Session],
    entries: Iterable[LogEntry],
    day: dt.date,
    *,
    word_budget: int = 220,
) -> Draft:
    """Compile the reflections draft for ``day`` of ``event`` from its log.

    Guarantees: only the last version of updates of this event whose ``happened_at`` falls on ``day`` in
    the event's time zone, never deleted ones; sessions with updates in start order, their updates in
    happened order; every key update and quote kept once, plain near-duplicates by the same reporter
    dropped, the rest condensed to ``word_budget`` words per section; same input, same output.

    Raises:
        ValueError: ``day`` is not one of the event's days.
    """
    if not event.starts_on <= day <= event.ends_on:
        raise ValueError(f"{day} is not a day of event {event.id}")
    zone = event.zone
    day_number = (day - event.starts_on).days + 1
    items = [
        item
        for item in fold(entries)
        if item.update.event == event.id and _aware(item.update.happened_at).astimezone(zone).date() == day
    ]
    items.sort(key=lambda item: (_aware(item.update.happened_at), item.position))
    first_posts: dict[str, str] = {}
    for item in sorted(items, key=lambda i: i.position):
        first_posts.setdefault(item.update.author.name, item.update.id)
    authors = list(first_posts)

    programme = {s.id: s for s in sessions if s.event == event.id}
    grouped: defaultdict[str | None, list[FoldedUpdate]] = defaultdict(list)
    for item in items:
        session_id = item.update.session if item.update.session in programme else None
        grouped[session_id].append(item)
    running = sorted({s.id: s for s in programme.values() if s.day == day or s.id in grouped}.values(),
                     key=lambda s: (_aware(s.starts_at), s.id))  # fmt: skip
    speakers = {p.name.casefold(): p for s in running for p in (*s.speakers, *s.hosts)}
    named = [p.name for s in running for p in (*s.speakers, *s.hosts)]
    named += [p.organisation or "" for s in running for p in (*s.speakers, *s.hosts)]
    named += [name for s in running for name in s.participants]
    writer = _Writer(word_budget, speakers, frozenset(w for n in named for w in n.split() if w[:1].isupper()))

    venue = f" at {escape_text(event.venue)}" if event.venue else ""
    name = escape_text(event.title)
    day_words = f"Day {_number(day_number)}"
    opening = (
        f"{day_words} of {name}{venue} brought {_kinds(running)}."
        if running
        else f"Here is how {day_words.lower()} of {name}{venue} unfolded."
    )
    writer.weave(_drop_near_duplicates(grouped.get(None, [])), None, opening)

    for session in running:
        session_items = _drop_near_duplicates(grouped.get(session.id, []))
        if not session_items:
            continue
        writer.blocks.append(Heading(writer.next_id("s"), session.title, tuple(i.update.id for i in session_items)))
        writer.weave(session_items, session, _line_up(session, zone))

    if day >= event.ends_on:
        closing = f"That brings {name} to a close — thanks for following along."
    else:
        closing = f"That's all from {day_words.lower()}; we're back tomorrow for day {_number(day_number + 1)}."
    writer.paragraph(closing, ())
    if authors:
        names = [escape_text(a) for a in authors]
        byline = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " & " + names[-1]
        writer.paragraph(f"Posted by {byline}", list(first_posts.values()))

    title = f"{event.blog_title or event.title}: Day {day_number} Reflections"
    return make_draft(title, writer.blocks, authors, event, day)
