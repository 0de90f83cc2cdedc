"""What a question asks for: its names, its focus words and the type of answer it expects.

These rules read the form of an English question ("how much", "who", "why"), never the topic of
any article, so they hold on any news archive.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

from rag.text import STOPWORDS, keyword_terms, stem


class AnswerType(Enum):
    MONEY = "money"
    """How much did X pay / what price: a sum of money."""
    AMOUNT = "amount"
    """How much / how many / what price, share, rate, score: a number."""
    DATE = "date"
    """When / what year: a date or time."""
    NAME = "name"
    """Who / which X / where: a name the question does not already hold."""
    FREQUENCY = "frequency"
    """How often."""
    REASON = "reason"
    """Why / how did: a cause, a consequence or a manner."""
    WORDS = "words"
    """What did X say / how did X describe: someone's own words, usually a quotation."""
    OTHER = "other"


_AMOUNT_NOUNS = (
    "price|cost|costs|value|sum|amount|figure|number|total|percentage|percent|share|proportion|rate|"
    "score|fee|fine|salary|budget|turnout|profit|profits|loss|losses|revenue|sales|stake|deficit|"
    "margin|age|size|temperature|distance|height|fall|rise|increase|drop|growth|cut"
)
_HEAD = re.compile(
    r"(?:^(?:\w+\s+)?|[,:;]\s*|\b(?:in|by|to|for|from|at|on|of|with|under|during|since|until|and|but)\s+)"
    r"(?=(?:what|which|who|whom|whose|where|when|why|how|name)\b)"
)
"""Where the question proper starts: at the beginning, after a comma ("According to X, how many"),
or after a preposition ("In which city", "By what score")."""
_MONEY_VERBS = (
    r"pay|paid|paying|cost|costs|spend|spent|spending|raise|raised|earn|earned|give|gave|charge|charged|"
    r"sell|sold|fetch|fetched|worth|invest|invested|owe|owed|lose|lost"
)
"""Verbs that make "how much" ask for a sum of money."""
_SAYING_VERBS = (
    r"say|said|says|describe|described|call|called|sum up|summed up|summarise|summarize|put it|tell|told|"
    r"characterise|characterize|label|labelled|dub|dubbed|react|respond|claim|warn|admit|write|wrote"
)
"""Verbs that make "how/what did X ..." ask for someone's words."""
_TYPE_PATTERNS: list[tuple[AnswerType, re.Pattern[str]]] = [
    (AnswerType.FREQUENCY, re.compile(r"how often\b")),
    (AnswerType.MONEY, re.compile(rf"how much (?:money\b|\w+ (?:[\w'’-]+ ){{0,8}}?(?:{_MONEY_VERBS})\b)")),
    (AnswerType.MONEY, re.compile(r"(?:what|which)(?: [\w'’-]+){0,3} (?:price|cost|fee|fine|salary|sum|budget)\b")),
    (AnswerType.AMOUNT, re.compile(r"how (?:much|many|big|large|long|old|far|high|low|fast|small)\b")),
    (AnswerType.AMOUNT, re.compile(rf"(?:what|which)(?: [\w'’-]+){{0,3}} (?:{_AMOUNT_NOUNS})\b")),
    (AnswerType.AMOUNT, re.compile(r"what (?:percentage|proportion|share)\b")),
    (AnswerType.DATE, re.compile(r"when\b|(?:what|which) (?:year|date|day|month|time)\b")),
    (
        AnswerType.WORDS,
        re.compile(
            rf"(?:how|what) (?:did|does|do|has|have|had|was|is) (?:[\w'’.-]+ ){{0,8}}?(?:{_SAYING_VERBS})\b|"
            r"what (?:words|phrase|term|name)\b"
        ),
    ),
    (
        AnswerType.REASON,
        re.compile(
            r"why\b|how (?:did|does|do|has|have|is|was|will|would|could|can)\b|"
            r"what (?:caused|led|made|sent|prompted|happened|drove)\b"
        ),
    ),
    (AnswerType.NAME, re.compile(r"(?:who|whom|whose|where|name)\b")),
    (
        AnswerType.NAME,
        re.compile(
            r"(?:which|what) (?:[\w'’-]+ )?(?:firm|company|club|team|country|city|town|"
            r"county|counties|place|person|man|woman|player|group|party|band|film|"
            r"actor|actress|singer|website|site|brand|product|name|manager)\b"
        ),
    ),
    (AnswerType.NAME, re.compile(r"which\b")),
]
"""Tried in order on the question from its head on; the first that matches gives the type."""

YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")
"""A year, as a question or a sentence names it."""
_NUMBER = re.compile(
    r"\d[\d,.]*\s?%?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|thousand|million|billion|trillion|half|third|quarter|dozen|dozens|"
    r"hundreds|thousands|millions|billions)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"[$£€¥]\s?\d|\d\s?(?:m|bn|k)?\s?(?:dollars|pounds|euros|yen|yuan|pence|francs|rupees)\b|"
    r"\d\s?(?:million|billion|bn)\b|"
    r"\b(?:dollars|pounds|euros|pence)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    YEAR.pattern + r"|\b(?:january|february|march|april|may|june|july|august|september|october|"
    r"november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|"
    r"tomorrow|week|month|year|spring|summer|autumn|winter)\b",
    re.IGNORECASE,
)
_FREQUENCY = re.compile(
    r"\b(?:daily|weekly|monthly|yearly|annually|hourly|every|each|once|twice|times a|per (?:day|week|month|year))\b",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[\"“”]|\b(?:said|says|called|described|told|added|warned|claimed)\b", re.IGNORECASE)
_REASON = re.compile(
    r"\b(?:because|after|due to|as a result|following|since|so|amid|owing to|thanks to|led to|"
    r"caused|blamed|reason|in order to|by (?:\w+ing)|said|says|claimed|argued|accused)\b",
    re.IGNORECASE,
)
_CAPITALISED = re.compile(r"\b[A-Z][\w’'-]*\w|\b[A-Z]{2,}\b")


@dataclass(frozen=True)
class Question:
    """A question read once: what it asks for and which of its words matter."""

    text: str
    answer_type: AnswerType
    names: frozenset[str]
    """Lower-cased capitalised words past the first: who or what the question is about."""
    focus: frozenset[str]
    """Stems of the content words that are not names: what is asked about them ("cost", "deadline")."""
    terms: frozenset[str]
    """Stems of every content word."""
    raw_terms: tuple[str, ...]
    """The content words as written, lower-cased (for document-frequency lookups)."""
    years: frozenset[str] = frozenset()
    """Years the question names ("the 2005 final"): the fact it asks for belongs to them."""


def read_question(text: str) -> Question:
    """Classify the question's answer type and split its content words into names and focus words."""
    names = question_names(text)
    raw = tuple(dict.fromkeys(keyword_terms(text)))
    name_stems = {stem(n) for name in names for n in keyword_terms(name)}
    terms = frozenset(stem(w) for w in raw)
    return Question(
        text=text,
        answer_type=answer_type(text),
        names=frozenset(names),
        focus=frozenset(t for t in terms if t not in name_stems),
        terms=terms,
        raw_terms=raw,
        years=frozenset(YEAR.findall(text)),
    )


def answer_type(question: str) -> AnswerType:
    """The kind of answer the question's form asks for."""
    lowered = " ".join(question.lower().split())
    for head in _HEAD.finditer(lowered):
        asked = lowered[head.end() :]
        for kind, pattern in _TYPE_PATTERNS:
            if pattern.match(asked):
                return kind
    return AnswerType.OTHER


def question_names(question: str) -> set[str]:
    """Capitalised words past the first word: the names a question is about ("Harlow", "FIFA")."""
    names = set()
    first = re.search(r"[\w“\"']", question)
    first_start = first.start() if first else -1
    for match in _CAPITALISED.finditer(question):
        if match.start() <= first_start + 1:
            continue
        name = re.sub(r"[’']s$", "", match.group())
        if name.lower() not in STOPWORDS:
            names.add(name.lower())
    return names


def names_in(text: str, names: Collection[str], *, as_spelt: bool = False) -> set[str]:
    """The names (lower case, from `question_names`) that `text` holds as whole words, a plural or
    possessive included: "Rush" is not in "brush", "Osbourne" is in "The Osbournes". With `as_spelt`,
    the names are matched with their case as given: "ICE" (the agency) is not the "ice" of a rink."""
    searched = text if as_spelt else text.lower()
    return {n for n in names if re.search(rf"(?<!\w){re.escape(n)}(?:s|es)?(?!\w)", searched)}


_NEWS_ON = re.compile(r"\b(?:latest|news|updates?)\s+(?:on|about|from|with|regarding)\b", re.IGNORECASE)


def asks_for_news(question: str) -> bool:
    """The question asks what there is on a story ("What's the latest on the swing bridge?", "Any
    news about the strike?"), not for one fact: whatever the story's articles say answers it."""
    return bool(_NEWS_ON.search(question))


_WHO_OR_WHAT_IS = re.compile(
    r"^\s*(?i:who|what)\s+(?i:is|was|are|were)\s+(?:the\s+)?"
    r"(?P<name>[A-Z][\w’'.-]*(?:\s+(?:(?:of|the|and|for|de|von|van|da|del|al)\s+)?[A-Z][\w’'.-]*)*)\s*\?*\s*$"
)


def asks_who_or_what_is(question: str) -> bool:
    """The question asks only who or what a name is ("Who is Jimmy Gomez?", "What is the Alien
    Enemies Act?"): news introduces whoever and whatever it names ("Representative Jimmy Gomez"),
    so an article that names it answers it."""
    return asked_name(question) is not None


def asked_name(question: str) -> str | None:
    """The name a question only for who or what it is asks about ("Jimmy Gomez"), else None."""
    match = _WHO_OR_WHAT_IS.match(question)
    return match.group("name") if match else None


_NOT_DESCRIPTORS = STOPWORDS | frozenset(
    """said says told added asked according thanks mr mrs ms miss dr and or nor between including like
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december""".split()
)
"""Words before a name that do not describe it ("said Jimmy Gomez", "Mr Brown", "On Wednesday Tony Blair")."""
_ROLE_WORD = re.compile(
    r"^(?:[a-z]+(?:er|or|ist|ent|ant|ian|man|woman|person)|boss|chief|head|star|watchdog|minister|secretary|mp)$"
)
"""A lower-case word before a name that says what it is ("regulator Ofcom", "striker", "boss",
"economist"): agent nouns by their endings, and a few common roles; a verb there ("believe Tony
Blair") describes nothing."""
_APPOSITIVE = re.compile(
    r"^(?:,\s*(?:the|a|an|who|whose|which|its|his|her|their|now|then|\d+)\b|\s*\(|\s+(?:is|was|are|were)\s+(?:the|a|an)\b)",
    re.IGNORECASE,
)
"""What follows a name that is being introduced: ", the chancellor,", ", 45,", " (Ofcom)", " is a ..."."""


def introduces(sentence: str, name: str) -> bool:
    """Whether the sentence introduces the name the way news does on first mention: a descriptor
    right before it ("Representative Jimmy Gomez", "telecom regulator Ofcom") or an appositive right
    after it ("Gordon Brown, the chancellor, said")."""
    for match in re.finditer(re.escape(name), sentence, re.IGNORECASE):
        before = sentence[: match.start()].split()
        word = before[-1] if before else ""
        described = word[:1].isupper() or bool(_ROLE_WORD.match(word))
        if word.isalpha() and described and word.lower() not in _NOT_DESCRIPTORS:
            return True
        if _APPOSITIVE.match(sentence[match.end() :]):
            return True
    return False


def offers_answer(kind: AnswerType, sentence: str, question: Question) -> bool:
    """Whether the sentence holds a candidate answer of `kind` that the question does not already hold."""
    asked = question.text.lower()
    if kind is AnswerType.MONEY:
        return bool(_MONEY.search(sentence))
    if kind is AnswerType.AMOUNT:
        return any(m.group().strip(" ,.").lower() not in asked for m in _NUMBER.finditer(sentence))
    if kind is AnswerType.DATE:
        return any(m.group().lower() not in asked for m in _DATE.finditer(sentence))
    if kind is AnswerType.FREQUENCY:
        return bool(_FREQUENCY.search(sentence))
    if kind is AnswerType.NAME:
        return bool(question_names(sentence) - question.names)
    if kind is AnswerType.REASON:
        return bool(_REASON.search(sentence))
    if kind is AnswerType.WORDS:
        return bool(_WORDS.search(sentence))
    return False
