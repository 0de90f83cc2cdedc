"""Watch the corpus dir and re-index whatever is added, changed or removed, within seconds."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ingest.indexer import IngestReport, ingest
from rag.config import Settings
from rag.errors import IngestLockedError, RagError
from rag.store import Store

log = logging.getLogger(__name__)

DEBOUNCE_MS = 800
"""Changes arriving within this many milliseconds are indexed together (a copy of many files)."""
RETRY_SECONDS = 1.0


def watch_corpus(
    settings: Settings,
    *,
    store: Store | None = None,
    on_ingest: Callable[[IngestReport], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Re-index the corpus after every burst of file changes, until `stop` is set.

    Each burst runs the ordinary incremental ingest of the whole corpus: unchanged articles cost a
    hash comparison, so one code path handles additions, edits and deletions alike.
    """
    from watchfiles import watch

    stop = stop or threading.Event()
    for changes in watch(settings.corpus_dir, stop_event=stop, debounce=DEBOUNCE_MS, raise_interrupt=False):
        log.info("corpus changed (%d files); re-indexing", len(changes))
        report = _ingest_when_free(settings, store, stop)
        if report is not None and on_ingest is not None:
            on_ingest(report)


def _ingest_when_free(settings: Settings, store: Store | None, stop: threading.Event) -> IngestReport | None:
    """Ingest, waiting for another process's ingest to finish first."""
    while not stop.is_set():
        try:
            return ingest(settings, store=store)
        except IngestLockedError:
            time.sleep(RETRY_SECONDS)
        except RagError as exc:
            log.warning("re-indexing after a change failed: %s", exc)
            return None
    return None


def start_watching(settings: Settings, *, store: Store | None = None) -> threading.Event:
    """Watch the corpus in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=watch_corpus, args=(settings,), kwargs={"store": store, "stop": stop}, name="corpus-watch", daemon=True
    )
    thread.start()
    return stop
