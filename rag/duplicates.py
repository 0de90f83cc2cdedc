"""Near-duplicate articles: MinHash signatures over word shingles, grouped with LSH.

News archives hold several copies of one wire story (re-filed, lightly edited, or in two sections).
Two articles are copies when the estimated Jaccard similarity of their sets of 5-word shingles is at
least `THRESHOLD`. On the BBC archive the pairs found are nearly all above 0.9 (most are 1.0), and
articles that merely share a topic stay below 0.3, so 0.8 sits well inside the gap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

SHINGLE_WORDS = 5
PERMUTATIONS = 128
THRESHOLD = 0.8
_SEED = 1
_SCHEME = "affine32"
"""datasketch's permutation scheme: stored signatures are only comparable within one scheme."""
_WORD = re.compile(r"\w+")


def signature(text: str) -> bytes:
    """The MinHash signature of a text's word shingles (lower-cased), as bytes to store."""
    from datasketch import MinHash

    words = _WORD.findall(text.lower())
    shingles = {" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(max(1, len(words) - SHINGLE_WORDS + 1))}
    minhash = MinHash(num_perm=PERMUTATIONS, seed=_SEED, scheme=_SCHEME)
    minhash.update_batch(list(shingles))
    return np.asarray(minhash.hashvalues, dtype=np.uint64).tobytes()


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two signatures."""
    return float(np.mean(np.frombuffer(a, dtype=np.uint64) == np.frombuffer(b, dtype=np.uint64)))


def group_copies(signatures: Mapping[str, bytes]) -> list[list[str]]:
    """Groups (of two or more sources, each sorted) whose members are copies of one another.

    LSH proposes candidate pairs; a pair joins when its estimated similarity reaches `THRESHOLD`,
    and groups are the connected components (a story re-filed twice with small edits is one group).
    """
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=PERMUTATIONS)
    hashes: dict[str, MinHash] = {}
    for source, sig in signatures.items():
        if len(sig) != PERMUTATIONS * 8:  # written by another version: the next ingest redoes it
            continue
        values = np.frombuffer(sig, dtype=np.uint64)
        hashes[source] = MinHash(num_perm=PERMUTATIONS, seed=_SEED, hashvalues=values, scheme=_SCHEME)
        lsh.insert(source, hashes[source])
    parent = {source: source for source in hashes}

    def root(source: str) -> str:
        while parent[source] != source:
            parent[source] = parent[parent[source]]
            source = parent[source]
        return source

    for source, minhash in hashes.items():
        for other in lsh.query(minhash):
            if other != source and similarity(signatures[source], signatures[other]) >= THRESHOLD:
                a, b = root(source), root(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = {}
    for source in hashes:
        groups.setdefault(root(source), []).append(source)
    return sorted(sorted(members) for members in groups.values() if len(members) > 1)
