"""Each speaker introduced once: apposition the first time, surname after, no name opening two sentences
running; pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from server.models import Person
from workers.post import escape_text

__all__ = ["Cast", "join_repeated_opener"]


def _surname(name: str) -> str:
    return name.split()[-1]


@dataclass
class Cast:
    """The day's programme people and which of them the post has introduced so far."""

    people: Sequence[Person]
    #: How much the introductions say: 2 role and organisation, 1 organisation, 0 the name alone.
    detail: int = 2
    introduced: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._by_name = {p.name.casefold(): p for p in self.people}
        self._by_surname: dict[str, Person] = {}
        for person in self.people:
            self._by_surname.setdefault(_surname(person.name).casefold(), person)

    def find(self, name: str | None) -> Person | None:
        """The programme person called ``name`` (full name or surname, any case), if any."""
        if not name:
            return None
        key = name.casefold()
        return self._by_name.get(key) or self._by_surname.get(key)

    def describe(self, person: Person, *, in_list: bool = False) -> str:
        """Markdown naming ``person``: with role and organisation the first time, the bare name after."""
        name = escape_text(person.name)
        if person.name.casefold() in self.introduced:
            return name
        self.introduced.add(person.name.casefold())
        role, org = (escape_text(d) if d else "" for d in (person.role, person.organisation))
        if self.detail < 2:
            role = ""
        if self.detail < 1 or not (role or org):
            return name
        if in_list:
            return f"{name} ({', '.join(d for d in (role, org) if d)})"
        if role and org:
            return f"{name}, {role} at {org},"
        return f"{name} of {org}" if org else f"{name}, {role},"

    def label(self, name: str | None) -> str | None:
        """How the post names ``name`` here: the surname once introduced, else as given."""
        person = self.find(name)
        if person is None:
            return name
        return _surname(person.name) if person.name.casefold() in self.introduced else person.name

    def shorten(self, sentence: str) -> str:
        """Later mentions by surname: an introduced person's full name (and a repeated apposition) shortened."""
        for person in self.people:
            if person.name not in sentence or person.name.casefold() not in self.introduced:
                continue
            surname = _surname(person.name)
            details = [re.escape(d) for d in (person.role, person.organisation) if d]
            if details:
                apposition = rf"{re.escape(person.name)}, (?:[^,]*?(?:{'|'.join(details)})[^,]*?), "
                sentence = re.sub(apposition, surname + " ", sentence)
            sentence = sentence.replace(person.name, surname)
        return sentence

    def introduce_all(self, names: Iterable[str]) -> None:
        """Mark people as introduced by a reporter's own sentence (it named them in full)."""
        for name in names:
            person = self.find(name)
            if person is not None:
                self.introduced.add(person.name.casefold())


_OPENER_RE = re.compile(r"^((?:[A-ZÀ-Ý][\w'’-]*)(?: [A-ZÀ-Ý][\w'’-]*){0,2}) (?=[a-z])")


def _opener(sentence: str, cast: Cast) -> Person | None:
    match = _OPENER_RE.match(sentence)
    if match is None:
        return None
    words = match[1].split()
    for n in range(len(words), 0, -1):
        person = cast.find(" ".join(words[:n]))
        if person is not None and len(words) == n:
            return person
    return None


def join_repeated_opener(previous: str, sentence: str, cast: Cast) -> str | None:
    """``previous`` and ``sentence`` as one sentence when both open with the same person, else None.

    "Okafor opened by asking. Okafor said…" becomes "Okafor opened by asking, and said…". Sentences
    ending in a question, an exclamation, a colon or a quote are not joined.
    """
    person = _opener(sentence, cast)
    if person is None or person is not _opener(previous, cast) or previous[-1:] != ".":
        return None
    rest = _OPENER_RE.sub("", sentence, count=1)
    return f"{previous[:-1]}, and {rest}"
