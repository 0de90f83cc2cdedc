"""One ingest per data dir at a time, and a way for readers to tell whether one is running."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import IngestLockedError

LOCK_FILE = "ingest.lock"


@contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data dir's ingest lock; a second ingest stops at once with a clear message."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestLockedError(f"another ingest is running on {data_dir}; wait for it to finish") from None
        yield
    finally:
        os.close(fd)


def ingest_running(data_dir: Path) -> bool:
    """True while some process (this one included) holds the data dir's ingest lock."""
    path = data_dir / LOCK_FILE
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing the descriptor also drops the shared lock, if taken
    return False
