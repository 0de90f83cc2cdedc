"""The default answerer: quote the sentences of the retrieved passages that best answer the question."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from rag.answering.questions import (
    YEAR,
    AnswerType,
    Question,
    asked_name,
    introduces,
    names_in,
    offers_answer,
    read_question,
)
from rag.answering.reranker import Reranker, pair_text
from rag.answering.selection import (
    FEATURES,
    PRONOUN_START,
    QUESTION_FEATURES,
    SENTENCE_ENDINGS,
    BodyLookup,
    Candidate,
    SelectorModel,
    candidate_sentences,
    sentence_features,
    with_dense,
    with_rerank,
)
from rag.embeddings import Embedder
from rag.models import Citation
from rag.retrieval import Passage
from rag.text import sentence_spans

PASSAGES_READ = 6
"""Passages whose sentences are scored: the answer is often in a passage ranked below the third."""
WHOLE_ARTICLES = 2
"""Articles read whole: the answer is often a few paragraphs below the best-matching passage."""
EMBEDDED = 16
"""Sentences embedded and reranked per question: the ones the model ranks best before their own
similarity and reranker score are known. The first pass drops the answer sentence of about one
answerable question in twenty at 12; on bbc_train cross-validation (four quotes), facts went 0.850
(14), 0.857 (16), 0.860 (20), while each sentence costs about 6 ms: 16 keeps answer() under
150 ms (p50) at 10k chunks (bench.query), 20 does not."""
MAX_SENTENCES = 4
"""Sentences quoted: the four most probable distinct ones. The selector puts the answer sentence
first for about 57% of bbc_train's answerable questions, in its first three for 79%, fourth for
another 5%; quoting four instead of three raised cross-validated facts 0.823 -> 0.860 for answers
about 22 words longer (mean 76 -> 98 words)."""
OPEN_SLOTS = 3
"""Quotes that may come from any article; the rest come from articles already quoted. The fourth
adds to what the three say (bbc_train CV facts 0.853, against 0.857 for a fourth from anywhere); from a
fourth article it is a stray: the least probable sentence of a story the answer is not about."""
MAX_WITH_CONTEXT = 6
"""Quotes in all: the four, the sentence that carries one of them on, and the sentence a quote
refers back to ("He choked...", then "They had...")."""
DUPLICATE_SIMILARITY = 0.9
_CONTINUATIONS = frozenset(
    "although though but however yet still instead meanwhile this that these it he she they his her their".split()
)
"""First words that mark a sentence as carrying on the one before ("Although a court blocked the move")."""
_LOOKAHEAD_CHARS = 1500

IdfLookup = Callable[[Sequence[str]], tuple[dict[str, int], int]]
"""Document frequencies of words and the number of chunks (`Records.document_frequencies`)."""


@dataclass(frozen=True)
class Scored:
    """The candidate sentences of a question with their features and probabilities."""

    question: Question
    candidates: list[Candidate]
    vectors: np.ndarray
    features: np.ndarray
    probabilities: np.ndarray
    dated_sources: frozenset[str] = frozenset()
    """The articles that may report events of the years the question names (see `_dated`)."""
    readings: np.ndarray | None = None
    """The reranker's reading of each candidate (`Reranker.read`); None when none reranked them."""

    @property
    def best(self) -> float:
        return float(self.probabilities.max()) if len(self.candidates) else 0.0


@dataclass(frozen=True)
class Extract:
    text: str
    citations: list[Citation]
    scored: Scored


def passages_to_read(k: int) -> int:
    """How many passages to retrieve and score: at least `PASSAGES_READ`, and all `k` the user asked for."""
    return max(k, PASSAGES_READ)


def score_sentences(
    question: str,
    query_vector: np.ndarray,
    passages: Sequence[Passage],
    embedder: Embedder,
    body_of: BodyLookup,
    document_frequencies: IdfLookup,
    model: SelectorModel,
    reranker: Reranker | None,
) -> Scored:
    """Score the sentences of the passages for how well they answer the question.

    The model first ranks every sentence with the passage's similarity standing in for the
    sentence's own and no reranker score; only the `EMBEDDED` best are embedded, reranked and
    scored for real (the encoders are the slow steps, and the answer is almost always among them).
    """
    scored = featurize(
        question, query_vector, passages, embedder, body_of, document_frequencies, prefilter=model, reranker=reranker
    )
    return replace(scored, probabilities=model.probabilities(scored.features))


def featurize(
    question: str,
    query_vector: np.ndarray,
    passages: Sequence[Passage],
    embedder: Embedder,
    body_of: BodyLookup,
    document_frequencies: IdfLookup,
    *,
    prefilter: SelectorModel | None = None,
    reranker: Reranker | None = None,
) -> Scored:
    """The candidate sentences and their features (no probabilities yet); with `prefilter`, only the
    `EMBEDDED` sentences it ranks best are kept and embedded; with `reranker`, they are reranked
    (without, the reranker columns stay 0)."""
    read = read_question(question)
    candidates = candidate_sentences(passages, body_of)
    df, total = document_frequencies(list(read.raw_terms))
    idf = {w: float(np.log((total + 1) / (n + 0.5))) for w, n in df.items()}
    texts: dict[str, str] = {}
    for p in passages:
        texts[p.source] = texts.get(p.source, p.title) + " " + p.text
    features = sentence_features(read, candidates, idf, texts)
    if prefilter is not None and len(candidates) > EMBEDDED:
        keep = first_pass(prefilter, features)
        candidates = [candidates[i] for i in keep]
        features = features[keep]
    vectors = embedder.embed([c.text for c in candidates])
    features = with_dense(features, vectors @ query_vector)
    readings = None
    if reranker is not None:
        scores, readings = reranker.read(question, [pair_text(c.title, c.text) for c in candidates])
        features = with_rerank(features, scores)
    one_per_article = {p.source: p for p in passages} if read.years else {}  # the check reads whole articles
    dated = frozenset(s for s, p in one_per_article.items() if _dated(read.years, p, body_of))
    return Scored(read, candidates, vectors, features, np.zeros(len(candidates)), dated, readings)


def first_pass(model: SelectorModel, stand_in: np.ndarray) -> list[int]:
    """The `EMBEDDED` sentences (indexes, in order) that `model` ranks best on features where the
    passage's similarity stands in for the sentence's own and the reranker columns are 0."""
    ranker = model.first_pass_model or model
    return sorted(int(i) for i in np.argsort(-ranker.probabilities(stand_in))[:EMBEDDED])


def _dated(years: frozenset[str], passage: Passage, body_of: BodyLookup) -> bool:
    """Whether the passage's article may report events of `years`: it names them all (in its text or
    publication date), or it names no year at all (an undated article may be from any year)."""
    text = f"{passage.chunk.published or ''} {passage.title} {body_of(passage.source) or ''}"
    named = set(YEAR.findall(text))
    return not named or years <= named


def rerank_passages(passages: Sequence[Passage], scored: Scored) -> list[Passage]:
    """Order the passages by their best sentence's probability (ties keep their retrieval order)."""
    best: dict[tuple[str, int], float] = {}
    for c, p in zip(scored.candidates, scored.probabilities, strict=True):
        for passage in passages:
            if passage.source == c.source and passage.start <= c.start < passage.end:
                key = (passage.source, passage.start)
                best[key] = max(best.get(key, 0.0), float(p))
    return sorted(passages, key=lambda p: -best.get((p.source, p.start), 0.0))


TYPED_CHECK_DEPTH = 3
"""How many of the most probable sentences may hold the typed answer (the ones an answer quotes)."""


CHECKED_TYPES = frozenset({AnswerType.MONEY, AnswerType.AMOUNT, AnswerType.DATE, AnswerType.FREQUENCY})
"""Answer types a sentence visibly offers or not; names are in nearly every news sentence."""


def has_typed_candidate(scored: Scored) -> bool:
    """For a question that asks for a sum, amount, date or frequency: does one of the most probable
    sentences hold a candidate of that type near what is asked, that is with one of its focus words?

    For a sum of money, a sentence naming everyone the question names will also do ("donated $1m"
    for "how much did she give"): a sum beside all those names is rare unless it is the one asked
    for, while a bare number or date beside them (an age, a score, a day) is common.
    """
    q = scored.question
    if q.answer_type not in CHECKED_TYPES or not q.focus:
        return True
    focus_column, names_column = FEATURES.index("focus_overlap"), FEATURES.index("names_in_sentence")
    by_names = q.answer_type is AnswerType.MONEY and bool(q.names)

    def near_what_is_asked(i: int) -> bool:
        return bool(scored.features[i, focus_column] > 0 or (by_names and scored.features[i, names_column] == 1.0))

    top = np.argsort(-scored.probabilities)[:TYPED_CHECK_DEPTH]
    return any(near_what_is_asked(i) and offers_answer(q.answer_type, scored.candidates[i].text, q) for i in top)


def quotes_a_dated_article(scored: Scored) -> bool:
    """For a question that names a year ("Which club won the 2005 FA Cup final?"): is one of the
    most probable sentences from an article of that year, and not about a later one? An article
    that names other years but never this one reports another season's final, or the event before
    it happened; a sentence that names only later years ("will open for the 2006 final") is about
    what came after. An earlier year is often a point of comparison ("its first win since 1998")."""
    asked = scored.question.years
    if not asked:
        return True

    def dated(sentence: Candidate) -> bool:
        named = set(YEAR.findall(sentence.text))
        later_only = bool(named) and not named & asked and min(named) > max(asked)
        return sentence.source in scored.dated_sources and not later_only

    top = np.argsort(-scored.probabilities)[:TYPED_CHECK_DEPTH]
    return any(dated(scored.candidates[i]) for i in top)


def selection_answers(scored: Scored) -> bool:
    """Whether the most probable sentences can answer what the question asks: a candidate of its
    answer type near its focus words, from an article of the year it names."""
    return has_typed_candidate(scored) and quotes_a_dated_article(scored)


def question_features(scored: Scored) -> np.ndarray:
    """The `QUESTION_FEATURES` of a scored question: how sure the selector and the reranker are of
    their best sentence, and the answer-type and year checks."""
    probability = float(np.clip(scored.best, 1e-6, 1 - 1e-6))
    row = {
        "best_probability": float(np.log(probability / (1 - probability))),
        "best_rerank": float(scored.features[:, FEATURES.index("rerank")].max()) if len(scored.candidates) else 0.0,
        "typed_answer": float(has_typed_candidate(scored)),
        "dated_article": float(quotes_a_dated_article(scored)),
    }
    return np.array([row[name] for name in QUESTION_FEATURES], dtype=np.float64)


def best_reading(scored: Scored) -> np.ndarray | None:
    """The reranker's reading of the most probable sentence (None without readings)."""
    if scored.readings is None or not len(scored.candidates):
        return None
    return np.asarray(scored.readings[int(np.argmax(scored.probabilities))], dtype=np.float64)


def answerability_row(scored: Scored, reading_width: int) -> np.ndarray:
    """What an answerability model reads: the `QUESTION_FEATURES`, then (for a model that reads
    `reading_width` > 0 more columns) the reranker's reading of the most probable sentence."""
    return with_reading(question_features(scored), best_reading(scored), reading_width)


def with_reading(features: np.ndarray, reading: np.ndarray | None, reading_width: int) -> np.ndarray:
    """Question features followed by a reading, for a model that reads `reading_width` columns of it
    (none: the features alone); a missing reading is NaNs, which the model takes as its training
    mean (the reading then moves nothing)."""
    if not reading_width:
        return features
    return np.concatenate([features, reading if reading is not None else np.full(reading_width, np.nan)])


def answers_question(model: SelectorModel, scored: Scored) -> bool:
    """Whether to answer: the answerability model's verdict, or for a selector without one, the
    answer-type and year checks."""
    if not scored.candidates:
        return False
    if model.answerability is None:
        return selection_answers(scored)
    return model.answerability.answers(answerability_row(scored, model.answerability.reading_width))


def _naming_articles(scored: Scored, body_of: BodyLookup) -> set[str]:
    """The candidates' articles that hold a name of the question (all of them when it names none, or
    when none does): a story about someone else, however alike, does not answer for them."""
    sources = {c.source for c in scored.candidates}
    names = scored.question.names
    if not names:
        return sources
    titles = {c.source: c.title for c in scored.candidates}
    naming = {s for s in sources if names_in(f"{titles[s]} {body_of(s) or ''}", names)}
    return naming or sources


def _quote_order(scored: Scored) -> tuple[list[int], set[int]]:
    """The candidates in the order they may be quoted (most probable first), and those that introduce
    the name asked about. For a question only for who or what a name is, its introductions come first
    ("Representative Jimmy Gomez and ..."), then the other sentences that name it: a sentence about
    someone else, however probable, says nothing of who they are."""
    order = [int(i) for i in np.argsort(-scored.probabilities)]
    name = asked_name(scored.question.text)
    if name is None:
        return order, set()
    texts = [c.text for c in scored.candidates]
    naming = [i for i in order if names_in(texts[i], scored.question.names)]
    if not naming:
        return order, set()
    introducing = {i for i in naming if introduces(texts[i], name)}
    return sorted(naming, key=lambda i: i not in introducing), introducing


def extract_answer(
    scored: Scored,
    query_vector: np.ndarray,
    embedder: Embedder,
    body_of: BodyLookup,
    *,
    quotes: int = MAX_SENTENCES,
) -> Extract:
    """Quote the 1-`quotes` most probable sentences (with the sentence that carries one on, and the
    context of a pronoun), with `[n]` markers and citations."""
    if not scored.candidates:
        return Extract("", [], scored)
    vectors, sentences = scored.vectors, scored.candidates
    quotable = _naming_articles(scored, body_of)
    chosen: list[int] = []
    order, introducing = _quote_order(scored)
    for i in order:
        if len(chosen) == quotes:
            break
        if sentences[i].source not in quotable:
            continue
        if len(chosen) >= OPEN_SLOTS and sentences[i].source not in {sentences[j].source for j in chosen}:
            continue
        if not any(float(vectors[i] @ vectors[j]) > DUPLICATE_SIMILARITY for j in chosen):
            chosen.append(int(i))
    if not chosen:
        return Extract("", [], scored)
    picked = [(sentences[i], float(vectors[i] @ query_vector)) for i in chosen]
    # The most probable quote that another sentence carries on ("... invoke the Act." "Although a
    # court blocked the move, ..."): what happened next is often what was asked.
    followers = (_continuation(sentences[i], body_of) for i in chosen)
    follower = next((f for f in followers if f is not None and all(s.start != f.start for s, _ in picked)), None)
    if follower is not None:
        picked.append((follower, float(embedder.embed_one(follower.text) @ query_vector)))
    for s, _ in list(picked):
        before = _antecedent(s, body_of)
        if before is not None and len(picked) < MAX_WITH_CONTEXT and all(p.start != before.start for p, _ in picked):
            picked.append((before, float(embedder.embed_one(before.text) @ query_vector)))
            break  # one is enough to make the answer readable; more would make it long
    # Read in order: an introduction of the name asked about first, then passage rank, then position.
    starts = {(sentences[i].source, sentences[i].start) for i in introducing}
    picked.sort(key=lambda item: ((item[0].source, item[0].start) not in starts, item[0].rank, item[0].start))
    parts, citations = [], []
    for number, (s, score) in enumerate(picked, start=1):
        parts.append(f"{s.text} [{number}]")
        citations.append(Citation(number, s.source, s.title, s.text, s.start, s.end, score))
    return Extract(" ".join(parts), citations, scored)


def _antecedent(quote: Candidate, body_of: BodyLookup) -> Candidate | None:
    """The sentence right before `quote` in its article, when `quote` opens with a pronoun that
    refers back to it ("They had good possession and he kicked the ball away")."""
    if not PRONOUN_START.match(quote.text):
        return None
    body = body_of(quote.source)
    if body is None:
        return None
    window = max(0, quote.start - _LOOKAHEAD_CHARS)
    spans = sentence_spans(body, window, quote.start)
    if not spans or (window > 0 and len(spans) < 2):  # the window may open mid-sentence
        return None
    start, end = spans[-1]
    text = body[start:end]
    if not text.rstrip().endswith(SENTENCE_ENDINGS):
        return None  # a headline or subheading, not what the pronoun stands for
    return Candidate(quote.source, quote.title, start, end, text, quote.rank, quote.passage_score, quote.index - 1, "")


def _continuation(quote: Candidate, body_of: BodyLookup) -> Candidate | None:
    """The sentence right after `quote` in its article, if it opens as a continuation of it."""
    body = body_of(quote.source)
    if body is None:
        return None
    spans = sentence_spans(body, quote.end, min(len(body), quote.end + _LOOKAHEAD_CHARS))
    if not spans:
        return None
    start, end = spans[0]
    first_word = body[start:end].split(maxsplit=1)[0].strip(",;:").lower()
    if first_word not in _CONTINUATIONS:
        return None
    text = body[start:end]
    return Candidate(
        quote.source, quote.title, start, end, text, quote.rank, quote.passage_score, quote.index + 1, quote.text
    )
