"""compile_day: fold an event's log into the day's reflections draft; pure and deterministic."""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import nh3
from pydantic import ValidationError

from server.models import Event, Person, Session, Update
from workers.classify import is_logistics, is_signoff
from workers.condense import condense, split_sentences, tokens
from workers.dedupe import Candidate, find_repeats
from workers.length import within_length
from workers.lineup import kinds, line_up, number, part_of_day
from workers.names import Spelling
from workers.post import Block, Draft, Figure, Heading, Paragraph, Quotation, escape_text, make_draft, to_markdown
from workers.speakers import Cast, join_repeated_opener
from workers.stubs import attribution, without_live_prefix
from workers.tense import past_tense
from workers.title import day_number, post_title

__all__ = ["FoldedUpdate", "LogEntry", "compile_day", "fold"]

logger = logging.getLogger(__name__)

_PARAGRAPH_WORDS = 60


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


def _is_protected(update: Update) -> bool:
    return update.key or update.quote is not None or update.image is not None


def _sentence(text: str, *, lead_in: bool = False) -> str:
    """Capitalise a sentence and end it with punctuation (a colon when it introduces a quote)."""
    if text[:1].islower():
        text = text[0].upper() + text[1:]
    if lead_in and text[-1:] not in ("!", "?", "…", ":"):
        return text.rstrip(".;,") + ":"
    return text if text[-1:] in '.!?…:;"”’)' else text + "."


def _normal_quote(text: str) -> str:
    return " ".join(tokens(text))


@dataclass
class _Piece:
    """A surviving update as the compiler works on it: its sentences (respelt) and what remains of it."""

    position: int
    update: Update
    sentences: list[str]
    quote: str = ""
    signoff: bool = False

    @property
    def id(self) -> str:
        return self.update.id


@dataclass
class _Notes:
    """What the compiler folded into what, and what it left out and why: the editor's "put it back" list."""

    merged: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    def merge(self, into: str, update: str) -> None:
        if into != update and update not in self.merged.setdefault(into, []):
            self.merged[into].append(update)

    def drop(self, update: str, why: str) -> None:
        self.dropped.setdefault(update, why)

    def answer(self, shown: set[str]) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        """The API's ``merged`` and ``dropped``: only updates the post does not show elsewhere."""
        merged: list[dict[str, object]] = []
        for into, ids in self.merged.items():
            hidden = [u for u in ids if u not in shown]
            if hidden:
                merged.append({"into": into, "updates": hidden})
        dropped: list[dict[str, object]] = [
            {"update": u, "why": why} for u, why in self.dropped.items() if u not in shown
        ]
        return merged, dropped


@dataclass
class _Writer:
    """Writes sections as blocks; numbers blocks across the whole post, so output is deterministic."""

    word_budget: int
    cast: Cast
    names: frozenset[str]
    notes: _Notes
    blocks: list[Block] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def next_id(self, prefix: str) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}{self.counters[prefix]}"

    def paragraph(self, text: str, sources: Sequence[str]) -> None:
        self.blocks.append(Paragraph(self.next_id("p"), text, tuple(sources)))

    def _quote_attribution(self, speaker: str | None) -> str | None:
        if not speaker:
            return None
        person = self.cast.find(speaker)
        return escape_text(person.name if person else speaker)

    def _narrative(self, piece: _Piece) -> list[tuple[str, bool]]:
        """The piece's sentences told afterwards: (sentence, must keep); a quote's stub becomes attribution."""
        update = piece.update
        sentences = list(piece.sentences)
        lead = None
        if piece.quote and sentences:
            speaker = self.cast.label(update.quote.speaker if update.quote else None)
            lead = attribution(sentences[-1], speaker)
            if lead is not None:
                sentences.pop()
                if not lead and not sentences:
                    self.notes.drop(piece.id, "a stub that only introduced the quote")
        out = [(past_tense(s if update.key else self.cast.shorten(s), self.names), update.key or bool(piece.quote))
               for s in sentences]  # fmt: skip
        if lead:
            out.append((lead, True))
        return out

    def weave(self, pieces: Sequence[_Piece], intro: str, *, meanwhile: str = "") -> None:
        """Write ``pieces`` (in happened order) as paragraphs, quotes and photos, condensed to the budget.

        ``intro`` opens the first paragraph. ``meanwhile`` ("Meanwhile, in Room 2, ") opens the first
        sentence when there is no intro to carry it.
        """
        told = [self._narrative(p) for p in pieces]
        flat = [(n, sentence, keep) for n, sentences in enumerate(told) for sentence, keep in sentences]
        chosen = set(condense([t for _, t, _ in flat], self.word_budget, keep=[i for i, f in enumerate(flat) if f[2]]))
        by_piece: defaultdict[int, list[str]] = defaultdict(list)
        for index, (n, sentence, _) in enumerate(flat):
            if index in chosen:
                by_piece[n].append(sentence)
        text: list[str] = [intro] if intro else []
        sources: list[str] = []
        words = 0

        def flush() -> None:
            nonlocal text, sources, words
            if text:
                self.paragraph(" ".join(text), sources)
            text, sources, words = [], [], 0

        for n, piece in enumerate(pieces):
            update = piece.update
            own = by_piece.get(n, [])
            if told[n] and not own:
                self.notes.drop(piece.id, "condensed: the section was over its word budget")
            if own:
                if sources and words >= _PARAGRAPH_WORDS:
                    flush()
                lead_last = bool(piece.quote) and not own[-1].endswith(":")
                own = [_sentence(s, lead_in=lead_last and i == len(own) - 1) for i, s in enumerate(own)]
                if meanwhile:
                    first = own[0]
                    lower = not _starts_with_name(first, self.names)
                    own[0] = meanwhile + (first[0].lower() + first[1:] if lower else first)
                    meanwhile = ""
                for sentence in own:
                    joined = join_repeated_opener(text[-1], sentence, self.cast) if text else None
                    if joined is not None and update.key:
                        # A key update is never reworded: it joins the sentence before as a clause.
                        text[-1] = f"{text[-1][:-1]}; {sentence}"
                    elif joined is not None:
                        text[-1] = joined
                    else:
                        text.append(sentence)
                sources.append(update.id)
                words += sum(len(s.split()) for s in own)
            if piece.quote:
                flush()
                speaker = update.quote.speaker if update.quote else None
                self.blocks.append(Quotation(self.next_id("q"), piece.quote, self._quote_attribution(speaker),
                                             (update.id,)))  # fmt: skip
            if update.image is not None:
                flush()
                image = update.image
                caption = _clean(image.caption) if image.caption else None
                alt = _clean(image.alt) if image.alt else caption or "Photo"
                self.blocks.append(Figure(self.next_id("img"), image.url, alt, caption, (update.id,)))
        flush()


def _starts_with_name(sentence: str, names: frozenset[str]) -> bool:
    first = sentence.split(" ", 1)[0].rstrip(",;:'’s")
    return first in names


def _prepare(item: FoldedUpdate, spelling: Spelling) -> _Piece:
    update = item.update
    text = without_live_prefix(spelling.respell(item.text))
    quote = _clean(update.quote.text) if update.quote is not None else ""
    piece = _Piece(item.position, update, split_sentences(text), quote)
    if update.image is not None and not update.image.caption and piece.sentences and not update.key:
        # A sentence that only describes the photo becomes its caption.
        update = update.model_copy(update={"image": update.image.model_copy(update={"caption": text})})
        piece = _Piece(item.position, update, [], quote)
    elif update.image is not None and update.image.caption and not update.key and not quote:
        piece.sentences = []
    return piece


def _remove_repeats(pieces: Sequence[_Piece], groups: Mapping[str, str], notes: _Notes) -> None:
    """No sentence twice in the day (see ``workers.dedupe``), no quote twice; each fold recorded.

    ``pieces`` are in happened order; ``groups`` names each piece's section, where similar wording is sought.
    """
    # A stub that leads into a quote ("Ortega on the 311 line") is not a fact to fold.
    flat = [(p, i) for p in pieces for i in range(len(p.sentences))
            if not (p.quote and attribution(p.sentences[i], None) is not None)]  # fmt: skip
    candidates = [Candidate(tuple(tokens(p.sentences[i])), groups.get(p.id, ""), p.update.key) for p, i in flat]
    gone: defaultdict[int, set[int]] = defaultdict(set)
    for repeat, kept in find_repeats(candidates).items():
        piece, index = flat[repeat]
        gone[id(piece)].add(index)
        notes.merge(flat[kept][0].id, piece.id)
    quotes: dict[str, str] = {}
    for piece in pieces:
        piece.sentences = [s for i, s in enumerate(piece.sentences) if i not in gone[id(piece)]]
        if piece.quote:
            normal = _normal_quote(piece.quote)
            into = next((q for q in quotes if normal in q or q in normal), None)
            if into is not None and normal:
                notes.merge(quotes[into], piece.id)
                piece.quote = ""
            else:
                quotes[normal] = piece.id


def _section_of(piece: _Piece, programme: Mapping[str, Session], running: Sequence[Session]) -> str | None:
    """The session a piece belongs in: its own, else the one under way when it happened; None: the opening."""
    update = piece.update
    if update.session in programme:
        return update.session
    happened = _aware(update.happened_at)
    started = [s for s in running if _aware(s.starts_at) <= happened]
    return started[-1].id if started else None


def _parallel(session: Session, before: Session | None) -> bool:
    """True when ``session`` ran at the same time as ``before`` in another room."""
    if before is None or before.room == session.room:
        return False
    ends = _aware(before.ends_at) if before.ends_at else _aware(before.starts_at) + dt.timedelta(minutes=30)
    return _aware(before.starts_at) <= _aware(session.starts_at) < ends


def compile_day(
    event: Event,
    sessions: Sequence[Session],
    entries: Iterable[LogEntry],
    day: dt.date,
    *,
    word_budget: int = 220,
) -> Draft:
    """Compile the reflections draft for ``day`` of ``event`` from its log (the rules: docs/reflections.md).

    Guarantees: only the last version of updates of this event whose ``happened_at`` falls on ``day`` in
    the event's time zone, never deleted ones; the opening frames the day with the unsessioned updates
    posted before the first session; sessions in start order, their updates in happened order; no sentence
    twice; every key update (tense aside) and quote kept once; one closing, last, then the byline; same
    input, same output. What was folded or left out is in ``Draft.merged`` and ``Draft.dropped``.

    Raises:
        ValueError: ``day`` is not one of the event's days.
    """
    if not event.starts_on <= day <= event.ends_on:
        raise ValueError(f"{day} is not a day of event {event.id}")
    zone = event.zone
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
    on_day = {s.id for s in programme.values() if s.day == day}
    used = {i.update.session for i in items}
    running = sorted((s for s in programme.values() if s.id in on_day or s.id in used),
                     key=lambda s: (_aware(s.starts_at), s.id))  # fmt: skip
    people = list({p.name.casefold(): p for s in running for p in (*s.speakers, *s.hosts)}.values())
    spelling = Spelling([*(p.name for p in people), *(p.organisation for p in people if p.organisation)])
    named = [p.name for p in people] + [p.organisation or "" for p in people]
    named += [n for s in running for n in s.participants]
    names = frozenset(w for n in named for w in n.split() if w[:1].isupper())
    notes = _Notes()

    pieces: list[_Piece] = []
    for item in items:
        piece = _prepare(item, spelling)
        update = piece.update
        if not _is_protected(update) and is_logistics(item.text):
            notes.drop(update.id, "logistics chatter")
            continue
        piece.signoff = is_signoff(item.text) and not update.quote and not update.image
        pieces.append(piece)
    sections = {p.id: "closing" if p.signoff else str(_section_of(p, programme, running)) for p in pieces}
    _remove_repeats(pieces, sections, notes)
    for piece in pieces:
        folded = any(piece.id in ids for ids in notes.merged.values())
        if not (piece.sentences or piece.quote or piece.update.image or folded):
            notes.drop(piece.id, "nothing left to say")

    grouped: defaultdict[str | None, list[_Piece]] = defaultdict(list)
    closing: list[_Piece] = []
    for piece in pieces:
        if piece.signoff:
            closing.append(piece)
        elif piece.sentences or piece.quote or piece.update.image:
            grouped[_section_of(piece, programme, running)].append(piece)

    plan = _Plan(event, day, running, grouped, closing, first_posts, people,
                 names | {w for p in people for w in p.name.split()}, word_budget)  # fmt: skip
    updates = [item.update for item in items]
    for detail in (2, 1, 0):
        # Introductions say less, step by step, until the post is within the length rule.
        writer = _write(plan, detail, _Notes(dict(notes.merged), dict(notes.dropped)))
        if within_length(to_markdown(writer.blocks), updates):
            break
    shown_ids = {i for b in writer.blocks[:-1] if not isinstance(b, Heading) for i in b.sources}
    merged, dropped = writer.notes.answer(shown_ids)
    speaking = {p.name.casefold() for s in running if s.id in grouped for p in (*s.speakers, *s.hosts)}
    mentions = [p for p in people if p.name.casefold() in speaking]
    return make_draft(post_title(event, day), writer.blocks, authors, event, day, merged=merged, dropped=dropped,
                      mentions=mentions)  # fmt: skip


@dataclass(frozen=True)
class _Plan:
    """Where every surviving piece goes: the opening (None), a session, or the closing."""

    event: Event
    day: dt.date
    running: Sequence[Session]
    grouped: Mapping[str | None, Sequence[_Piece]]
    closing: Sequence[_Piece]
    first_posts: Mapping[str, str]
    people: Sequence[Person]
    names: frozenset[str]
    word_budget: int


def _write(plan: _Plan, detail: int, notes: _Notes) -> _Writer:
    """Write the post from ``plan``; introductions at ``detail`` (see ``Cast``)."""
    event, day, grouped, zone = plan.event, plan.day, plan.grouped, plan.event.zone
    cast = Cast(plan.people, detail=detail)
    writer = _Writer(plan.word_budget, cast, plan.names, notes)
    running = plan.running
    venue = f" at {escape_text(event.venue)}" if event.venue else ""
    title_text = escape_text(event.title)
    day_n = day_number(event, day)
    day_words = f"Day {number(day_n)}"
    shown = [s for s in running if grouped.get(s.id)]
    opening = (
        f"{day_words} of {title_text}{venue} brought {kinds(running)}."
        if running
        else f"This is how {day_words.lower()} of {title_text}{venue} unfolded."
    )
    writer.weave(grouped.get(None, []), opening)

    previous: Session | None = None
    for session in shown:
        session_pieces = grouped[session.id]
        writer.blocks.append(Heading(writer.next_id("s"), session.title, tuple(p.id for p in session_pieces)))
        meanwhile = _parallel(session, previous)
        when = part_of_day(_aware(session.starts_at).astimezone(zone))
        same_room = previous is not None and previous.room == session.room and not meanwhile
        intro = line_up(session.model_copy(update={"room": None}) if same_room else session, when, cast,
                        meanwhile=meanwhile)  # fmt: skip
        room = f"Meanwhile, in {escape_text(session.room)}, " if session.room else "Meanwhile, "
        writer.weave(session_pieces, intro, meanwhile=room if meanwhile and not intro else "")
        previous = session

    said = [(p, [_sentence(s) for s in p.sentences]) for p in plan.closing if p.sentences]
    if said:
        writer.paragraph(" ".join(s for _, sentences in said for s in sentences), [p.id for p, _ in said])
    elif day >= event.ends_on:
        writer.paragraph(f"That brought {title_text} to a close.", ())
    else:
        writer.paragraph(f"That was {day_words.lower()}; {title_text} went on the next day with day "
                         f"{number(day_n + 1)}.", ())  # fmt: skip
    if plan.first_posts:
        names_md = [escape_text(a) for a in plan.first_posts]
        byline = names_md[0] if len(names_md) == 1 else ", ".join(names_md[:-1]) + " & " + names_md[-1]
        writer.paragraph(f"Posted by {byline}", list(plan.first_posts.values()))

    return writer
