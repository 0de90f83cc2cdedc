"""Read what an embedded Chroma store holds straight from its SQLite file, without starting Chroma.

Importing chromadb and opening a client takes well over a second; an unchanged re-ingest needs only
the number of vectors in the collection to know that nothing drifted. Anything this module cannot
tell for sure (no file, a layout it does not know, logged writes not yet applied) answers None, and
the caller asks Chroma itself.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

CHROMA_SQLITE = "chroma.sqlite3"


def applied_count(chroma_dir: Path, collection: str) -> int | None:
    """Records in `collection`, if every write logged for it has been applied to its metadata segment."""
    path = chroma_dir / CHROMA_SQLITE
    if not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)) as db:
            return _count(db, collection)
    except sqlite3.Error:  # locked, or a schema this version does not know: let Chroma answer
        return None


def _count(db: sqlite3.Connection, collection: str) -> int | None:
    found = db.execute("SELECT id FROM collections WHERE name = ?", (collection,)).fetchall()
    if len(found) != 1:
        return None  # the same name in several databases: not ours to pick
    (collection_id,) = found[0]
    segments = db.execute(
        "SELECT id FROM segments WHERE collection = ? AND scope = 'METADATA'", (collection_id,)
    ).fetchall()
    if len(segments) != 1:
        return None
    (segment_id,) = segments[0]
    applied = db.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment_id,)).fetchone()
    (logged,) = db.execute(
        "SELECT max(seq_id) FROM embeddings_queue WHERE topic LIKE ?", (f"%/{collection_id}",)
    ).fetchone()
    if logged is not None and (applied is None or not isinstance(applied[0], int) or applied[0] < logged):
        return None  # writes in the log that the segment has not taken in yet
    (count,) = db.execute("SELECT count(*) FROM embeddings WHERE segment_id = ?", (segment_id,)).fetchone()
    return int(count)
