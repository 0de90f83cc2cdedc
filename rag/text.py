"""Text utilities shared by ingest and answering: sentence spans and keyword terms."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# A sentence ends at . ! ? (plus closing quotes/brackets) followed by whitespace, or at a line break.
_SENTENCE_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s)|\n""")
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt gen gov sen rep sgt col lt capt vs etc inc ltd co corp jan feb
    mar apr jun jul aug sep sept oct nov dec u.s u.k e.g i.e a.m p.m""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom whose why will with would you your yours yourself tell say said says did does much many
    often""".split()
)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Return `[start, end)` spans of the sentences in `text[start:end]`, whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if match.group() != "\n" and _is_abbreviation(text, cursor, match.start()):
            continue
        _append_trimmed(text, cursor, match.end(), spans)
        cursor = match.end()
    _append_trimmed(text, cursor, end, spans)
    return spans


def _is_abbreviation(text: str, sentence_start: int, dot: int) -> bool:
    """Tell whether the period at `dot` ends an abbreviation or an initial rather than a sentence."""
    if text[dot] != ".":
        return False
    word_start = dot
    while word_start > sentence_start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lstrip("\"'“‘(").lower()
    if word in _ABBREVIATIONS:
        return True
    # A single capital letter ("J. Smith") is an initial.
    return len(word) == 1 and text[dot - 1].isupper()


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and any(ch.isalnum() for ch in text[start:end]):
        spans.append((start, end))


def keyword_terms(text: str) -> list[str]:
    """Return the lower-cased content words of `text`, stopwords removed, in order."""
    return [w for w in _WORD.findall(text.lower()) if _is_content_word(w)]


def _is_content_word(word: str) -> bool:
    if len(word) < 2:
        return False  # the "s" of "Energy's", initials
    if word.isdigit():
        return len(word) >= 4  # years and large figures carry meaning; "2" or "10" rarely do
    return word not in STOPWORDS


_IRREGULAR_VERBS = """
    arise arose arisen; be was were been; beat beat beaten; become became; begin began begun; bid bid;
    blow blew blown; break broke broken; bring brought; build built; burn burnt;
    buy bought; catch caught; choose chose chosen; come came; cost cost; cut cut; deal dealt;
    do did done; draw drew drawn; drink drank drunk; drive drove driven; eat ate eaten; fall fell fallen;
    feel felt; fight fought; find found; flee fled; fly flew flown; forbid forbade forbidden;
    forget forgot forgotten; freeze froze frozen; get got gotten; give gave given; go went gone;
    grow grew grown; hang hung; have had; hear heard; hide hid hidden; hit hit; hold held; hurt hurt;
    keep kept; know knew known; lay laid; lead led; leave left; lend lent; lose lost; make made;
    mean meant; meet met; pay paid; quit quit; ride rode ridden; ring rang rung; rise rose risen;
    run ran; say said; see saw seen; seek sought; sell sold; send sent; set set; shake shook shaken;
    shoot shot; shrink shrank shrunk; shut shut; sing sang sung; sink sank sunk; sit sat; sleep slept;
    speak spoke spoken; spend spent; split split; spread spread; stand stood; steal stole stolen;
    stick stuck; strike struck; swear swore sworn; swim swam swum; take took taken; teach taught;
    tear tore torn; tell told; think thought; throw threw thrown; understand understood; wake woke woken;
    wear wore worn; win won; withdraw withdrew withdrawn; write wrote written
"""
_BASE_FORM = {form: forms.split()[0] for forms in _IRREGULAR_VERBS.split(";") for form in forms.split()[1:]}
"""Past forms of common irregular English verbs, to their base ("fell" -> "fall", "won" -> "win")."""


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """Reduce an English word to a light stem, so that 'share', 'shares', 'shared' and 'sharing' match,
    and so do the forms of a common irregular verb ('fall', 'falls', 'fell', 'fallen')."""
    word = _BASE_FORM.get(word, word)
    if len(word) <= 3 or not word.isalpha():
        return word
    w = word
    if w.endswith("ies") or w.endswith("ied"):
        w = w[:-3] + "y"
    elif w.endswith(("sses", "ches", "shes", "xes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ations", "ation", "ing", "ed", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]  # stopped -> stop, running -> run
            break
    if len(w) >= 4 and w.endswith("e"):
        w = w[:-1]  # share, shared and sharing meet at "shar"
    return w


def clean_question(text: str) -> str:
    """Drop control characters and collapse whitespace; keep every printable character."""
    kept = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    return " ".join(kept.split())
