"""Hybrid retrieval: dense (Chroma) and BM25 (the records' keyword index) fused with RRF, then MMR."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from rag.answering.questions import names_in, question_names
from rag.dates import Period
from rag.filters import Filters, period_where
from rag.records import ChunkRecord
from rag.store import Store
from rag.text import keyword_terms

RRF_K = 60
"""The usual reciprocal-rank-fusion constant: damps the weight of the very first ranks."""
MMR_LAMBDA = 0.7
"""Weight of relevance against novelty when picking passages."""
CANDIDATES_PER_SIDE = 24
NAME_RANKING_WEIGHT = 2
"""How many rankings the passages naming a rare name of the question count for in the fusion: they
then lead any passage that only one of the dense and keyword searches ranks first."""

_keyword_searches = ThreadPoolExecutor(max_workers=4, thread_name_prefix="keyword-search")
"""The keyword search waits on its database while Chroma searches the vectors: both run at once."""


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk: verbatim article text with its offsets and cosine similarity to the query."""

    chunk: ChunkRecord
    score: float
    vector: np.ndarray

    @property
    def source(self) -> str:
        return self.chunk.source

    @property
    def title(self) -> str:
        return self.chunk.title

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def start(self) -> int:
        return self.chunk.start

    @property
    def end(self) -> int:
        return self.chunk.end


@dataclass(frozen=True)
class Preference:
    """What a question's wording prefers without filtering: articles of the period it names, newer articles."""

    period: Period | None = None
    latest: bool = False


QueryVector = np.ndarray | Callable[[], np.ndarray]
"""The query's embedding, or a function that computes it: `retrieve` calls it once the keyword
search is under way, so embedding the question overlaps the database's keyword query."""


def retrieve(
    store: Store,
    query: str,
    query_vector: QueryVector,
    k: int,
    *,
    filters: Filters | None = None,
    prefer: Preference | None = None,
) -> list[Passage]:
    """Return up to `k` diverse passages relevant to the query, most relevant first.

    `filters` are applied inside both searches, so k matching passages are found whenever k exist.
    `prefer` adds rankings to the fusion: the dense search within the period the question names,
    and, for a question about the latest news, the relevant candidates newest first.
    """
    fetch = max(CANDIDATES_PER_SIDE, 4 * k)
    where = filters.where(store.records.article_dates().outlet_names()) if filters else None
    # The keyword index knows no dates: it over-fetches, and what the filters reject is dropped below.
    keyword = _keyword_searches.submit(store.records.keyword_search, query, fetch * (4 if filters else 1))
    rare = rare_names(query, store.records.document_frequencies, fetch)
    naming = _keyword_searches.submit(store.records.keyword_search, " ".join(rare), fetch * 4) if rare else None
    if callable(query_vector):
        query_vector = query_vector()
    dense = store.dense_search(query_vector, fetch, where)
    rankings = [[i for i, _ in dense]]
    vectors = dict(dense)
    if prefer and prefer.period:
        in_period = _and(where, period_where(prefer.period))
        named = store.dense_search(query_vector, fetch, in_period)
        rankings.append([i for i, _ in named])
        vectors.update(named)
    rankings.append(keyword.result())
    if naming is not None:
        rankings += [_naming(store, naming.result(), as_written(query, rare), fetch)] * NAME_RANKING_WEIGHT
    fused = _reciprocal_rank_fusion(rankings)
    vectors.update(store.vectors_of([i for i in fused if i not in vectors]))
    records = store.records.chunks_by_id(list(fused))
    # Ids in only one of the two stores (a concurrent ingest midway) are left out.
    candidates = [i for i in fused if i in records and i in vectors]
    if filters:
        candidates = [i for i in candidates if filters.allows(records[i].published, records[i].outlet)]
    if prefer and prefer.latest:
        fused = _newer_first(candidates, fused, records, store.records.article_dates().days, k)
        candidates = [i for i in fused if i in candidates]
    candidates = _one_copy_each(candidates, records, store.records.group_of(r.source for r in records.values()))
    if not candidates:
        return []
    matrix = np.stack([vectors[i] for i in candidates])
    similarity = matrix @ query_vector
    fused_scores = np.array([fused[i] for i in candidates])
    order = _mmr(matrix, fused_scores / fused_scores.max(), k)
    return [Passage(records[candidates[j]], float(similarity[j]), matrix[j]) for j in order]


def rare_names(
    query: str, document_frequencies: Callable[[list[str]], tuple[dict[str, int], int]], limit: int
) -> list[str]:
    """The words of the query's names that at most `limit` chunks hold (and at least one does), when
    another word of the query is common: more than `limit` chunks hold it. Else none.

    A question naming someone few articles mention ("Why did Krause resign?") must find the passages
    naming them; in a large archive its common words ("resign") match hundreds of other stories,
    whose passages fill both searches' candidates before the few that name her. Where no word of the
    question is that common (a small corpus), the usual searches keep every passage that names her.
    """
    names = list(dict.fromkeys(w for name in question_names(query) for w in keyword_terms(name)))
    if not names:
        return []
    others = [w for w in dict.fromkeys(keyword_terms(query)) if w not in names]
    counts, _ = document_frequencies(names + others)
    if not any(counts.get(w, 0) > limit for w in others):
        return []
    return [w for w in names if 0 < counts.get(w, 0) <= limit]


def as_written(query: str, words: list[str]) -> list[str]:
    """The words as the query spells them ("ICE" for "ice")."""
    out = []
    for word in words:
        found = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", query, re.IGNORECASE)
        out.append(found.group() if found else word)
    return out


def _naming(store: Store, ranked: list[str], names: list[str], limit: int) -> list[str]:
    """The first `limit` of the ranked chunks that hold one of the names as a name, spelt as the
    question spells it: "ICE" (the agency) is not the "ice" of an ice rink."""
    records = store.records.chunks_by_id(ranked)
    holding = [
        i for i in ranked if i in records and names_in(f"{records[i].title} {records[i].text}", names, as_spelt=True)
    ]
    return holding[:limit]


def _and(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    if a is None or b is None:
        return a or b
    return {"$and": [a, b]}


def _newer_first(
    candidates: list[str], fused: dict[str, float], records: dict[str, ChunkRecord], days: dict[str, date], k: int
) -> dict[str, float]:
    """The fusion with one more ranking: the 2k most relevant candidates, newest article first
    (undated ones are not ranked by it, so never pushed down by more than its weight)."""
    relevant = candidates[: 2 * k]
    dated = [i for i in relevant if records[i].source in days]
    dated.sort(key=lambda i: days[records[i].source], reverse=True)
    extra = {i: 1.0 / (RRF_K + rank + 1) for rank, i in enumerate(dated)}
    merged = {i: score + extra.get(i, 0.0) for i, score in fused.items()}
    return dict(sorted(merged.items(), key=lambda item: -item[1]))


def with_whole_articles(
    store: Store, passages: list[Passage], query_vector: np.ndarray, articles: int
) -> list[Passage]:
    """The passages, followed by the other chunks of the first `articles` articles among them.

    An answer often sits a few paragraphs below the passage that matched the question best; the
    rest of that article is worth reading before the weaker matches from other articles.
    """
    sources = list(dict.fromkeys(p.source for p in passages))[:articles]
    have = {p.chunk.id for p in passages}
    ids = [i for i in store.records.chunk_ids_of(sources) if i not in have]
    records = store.records.chunks_by_id(ids)
    vectors = store.vectors_of([i for i in ids if i in records])
    extra = [Passage(records[i], float(vectors[i] @ query_vector), vectors[i]) for i in ids if i in vectors]
    extra.sort(key=lambda p: (sources.index(p.source), p.start))
    return passages + extra


def _one_copy_each(ranked: list[str], records: dict[str, ChunkRecord], group_of: dict[str, str]) -> list[str]:
    """Leave out chunks of near-duplicate copies of an article already among the better-ranked ones:
    the same sentence is then never read, shown or cited twice (citations list the copies instead)."""
    chosen: dict[str, str] = {}
    kept = []
    for chunk_id in ranked:
        source = records[chunk_id].source
        group = group_of.get(source)
        if group is None or chosen.setdefault(group, source) == source:
            kept.append(chunk_id)
    return kept


def _reciprocal_rank_fusion(rankings: list[list[str]]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    return dict(sorted(scores.items(), key=lambda item: -item[1]))


def _mmr(matrix: np.ndarray, relevance: np.ndarray, k: int) -> list[int]:
    """Maximal marginal relevance: trade relevance against similarity to passages already picked."""
    picked: list[int] = []
    remaining = list(range(len(relevance)))
    while remaining and len(picked) < k:
        if picked:
            redundancy = (matrix[remaining] @ matrix[picked].T).max(axis=1)
        else:
            redundancy = np.zeros(len(remaining))
        gains = MMR_LAMBDA * relevance[remaining] - (1 - MMR_LAMBDA) * redundancy
        best = remaining[int(np.argmax(gains))]
        picked.append(best)
        remaining.remove(best)
    return picked
