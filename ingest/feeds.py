"""RSS and Atom feeds as a source of articles: each new entry becomes a Markdown file in the corpus.

The saved feeds and what was taken from each (entry ids, ETag, Last-Modified, last poll, last error)
live in the index's records under one meta key, so both record backends hold them and a rebuild of
the index keeps them. The articles themselves live in `<corpus>/feeds/<site>/`, like any other file.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ingest.web import (
    FetchError,
    WebArticle,
    extract_html,
    fetch,
    fetch_html_article,
    new_client,
    normalise_url,
    save_article,
    saved_name,
)
from rag.config import Settings
from rag.errors import RagError

if TYPE_CHECKING:
    import httpx

    from rag.records import Records

log = logging.getLogger(__name__)

META_KEY = "feeds"
"""The records' meta key that holds every feed's state as JSON (kept by `rag ingest --rebuild`)."""
FEEDS_DIR = "feeds"
"""Entries are saved under `<corpus>/feeds/<site>/`."""
FULL_TEXT_WORDS = 80
"""A feed's content with fewer words is a teaser: the linked page is fetched instead."""
MAX_TAKEN = 5000
"""Entry ids remembered per feed; feeds list their newest few dozen, so older ids are never seen again."""


class FeedError(RagError):
    """A feed that cannot be fetched or parsed; the message names the feed and the reason."""


@dataclass
class FeedState:
    """What newsrag knows about one feed."""

    url: str
    saved: bool = False
    """In the saved list (`rag feeds add`); a feed given to `rag ingest --feed` only is remembered too,
    so its second run is conditional, but `rag ingest` alone does not poll it."""
    title: str | None = None
    etag: str | None = None
    modified: str | None = None
    last_poll: str | None = None
    error: str | None = None
    taken: list[str] = field(default_factory=list)
    """Ids (GUID, else link) of entries already saved, oldest first."""


@dataclass
class PollReport:
    """One poll of one feed."""

    url: str
    saved: list[Path] = field(default_factory=list)
    not_modified: bool = False
    error: str | None = None
    """The feed itself failed: nothing was taken from it."""
    entry_errors: list[str] = field(default_factory=list)
    """Entries that failed (one line each); the others were taken."""

    def summary(self) -> str:
        if self.error:
            return f"feed {self.url}: {self.error}"
        if self.not_modified:
            return f"feed {self.url}: not modified"
        failed = f", {len(self.entry_errors)} failed" if self.entry_errors else ""
        return f"feed {self.url}: {len(self.saved)} new entries{failed}"


# --- the saved list -----------------------------------------------------------------------------


def load_feeds(records: Records) -> dict[str, FeedState]:
    return _parse(records.get_meta(META_KEY))


def _parse(raw: str | None) -> dict[str, FeedState]:
    return {url: FeedState(**data) for url, data in json.loads(raw).items()} if raw else {}


def _dump(feeds: dict[str, FeedState]) -> str:
    return json.dumps({url: asdict(s) for url, s in feeds.items()}, ensure_ascii=False)


def _update(records: Records, url: str, change: Callable[[FeedState], None]) -> FeedState:
    """Change one feed's state; the read and the write are one transaction that other writers (the
    chat's panel, a poller, another process) wait for, so no update is lost."""

    def apply(raw: str | None) -> str:
        feeds = _parse(raw)
        change(feeds.setdefault(url, FeedState(url=url)))
        return _dump(feeds)

    return _parse(records.update_meta(META_KEY, apply))[url]


def check_feed_url(url: str) -> str:
    """The URL normalised, or a `FeedError` if it is not an http(s) URL."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise FeedError(f"{url!r} is not a feed URL; give an http(s) URL such as https://example.org/rss.xml")
    return normalise_url(url)


def add_feed(records: Records, url: str) -> FeedState:
    """Put a feed in the saved list (`rag ingest` and `--watch` poll it)."""

    def mark(state: FeedState) -> None:
        state.saved = True

    return _update(records, check_feed_url(url), mark)


def remove_feed(records: Records, url: str) -> bool:
    """Take a feed out of the saved list; its articles stay in the corpus. False if it was not there."""
    url = check_feed_url(url)
    removed = False

    def drop(raw: str | None) -> str:
        nonlocal removed
        feeds = _parse(raw)
        removed = url in feeds and feeds[url].saved
        if removed:
            del feeds[url]
        return _dump(feeds)

    records.update_meta(META_KEY, drop)
    return removed


def saved_feeds(records: Records) -> list[FeedState]:
    return [s for s in load_feeds(records).values() if s.saved]


# --- polling ------------------------------------------------------------------------------------


class _Pacer:
    """One request at a time per host, `pause` seconds apart (requests run one after another)."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.last: dict[str, float] = {}

    def wait(self, url: str) -> None:
        host = urlsplit(url).netloc.lower()
        if host in self.last:
            delay = self.last[host] + self.pause - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.last[host] = time.monotonic()


def poll_feed(url: str, settings: Settings, records: Records, *, pacer: _Pacer | None = None) -> PollReport:
    """Fetch a feed (conditionally) and save each entry not taken before as a corpus file.

    A feed that fails is reported in `error` and nothing is taken from it; an entry that fails is one
    line in `entry_errors` and is tried again at the next poll.
    """
    url = check_feed_url(url)
    pacer = pacer or _Pacer(settings.feed_pause)
    report = PollReport(url=url)
    state = load_feeds(records).get(url, FeedState(url=url))
    taken = set(state.taken)
    new_ids: list[str] = []
    new_state: dict[str, Any] = {}
    with new_client(settings) as client:
        try:
            feed, headers = _fetch_feed(url, state, settings, client, pacer)
        except FeedError as exc:
            report.error = str(exc).removeprefix(f"{url}: ")
            feed = None
        if feed is None and report.error is None:
            report.not_modified = True
        if feed is not None:
            new_state = {
                "title": _clean(feed.feed.get("title")) or state.title,
                "etag": headers.get("etag") or None,
                "modified": headers.get("last-modified") or None,
            }
            outlet = new_state["title"] or urlsplit(url).netloc
            for entry in feed.entries:
                entry_id = _entry_id(entry)
                if entry_id is None or entry_id in taken:
                    continue
                taken.add(entry_id)  # a duplicate GUID later in the same feed is skipped
                try:
                    article = _entry_article(entry, outlet, settings, client, pacer)
                except FetchError as exc:
                    report.entry_errors.append(str(exc))
                    taken.discard(entry_id)
                    continue
                report.saved.append(_save_entry(article, url, settings))
                new_ids.append(entry_id)
            if report.entry_errors:
                # Without the validators the next poll reads the feed in full and retries the failed entries.
                new_state |= {"etag": None, "modified": None}

    def record(s: FeedState) -> None:
        s.last_poll = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        s.error = report.error
        for key, value in new_state.items():
            setattr(s, key, value)
        s.taken = (s.taken + [i for i in new_ids if i not in s.taken])[-MAX_TAKEN:]

    _update(records, url, record)
    return report


def poll_feeds(
    urls: Iterable[str], settings: Settings, records: Records, *, on_report: Callable[[PollReport], None] | None = None
) -> list[PollReport]:
    """Poll feeds one after another, sharing one per-host pacer."""
    pacer = _Pacer(settings.feed_pause)
    reports = []
    for url in urls:
        report = poll_feed(url, settings, records, pacer=pacer)
        if on_report is not None:
            on_report(report)
        reports.append(report)
    return reports


def _fetch_feed(
    url: str, state: FeedState, settings: Settings, client: httpx.Client, pacer: _Pacer
) -> tuple[Any, dict[str, str]]:
    """The parsed feed and its response headers, or (None, {}) when the server says 304 Not Modified."""
    conditional = {}
    if state.etag:
        conditional["If-None-Match"] = state.etag
    if state.modified:
        conditional["If-Modified-Since"] = state.modified
    pacer.wait(url)
    try:
        page = fetch(url, settings, client, headers=conditional)
    except FetchError as exc:
        raise FeedError(str(exc)) from None
    if page.status == 304:
        return None, {}
    return parse_feed(page.body, url, page.url), {k.lower(): v for k, v in page.headers.items()}


def parse_feed(body: bytes, url: str, location: str | None = None) -> Any:
    """The parsed feed, or a `FeedError` naming `url` when the bytes hold no RSS or Atom feed."""
    import feedparser

    feed = feedparser.parse(body, response_headers={"content-location": location or url})
    if feed.get("bozo") and not feed.entries:
        reason = type(feed.get("bozo_exception")).__name__ if feed.get("bozo_exception") else "unreadable"
        raise FeedError(f"{url}: not an RSS or Atom feed ({reason})")
    if not feed.get("version") and not feed.entries:
        raise FeedError(f"{url}: not an RSS or Atom feed")
    return feed


def _entry_id(entry: Any) -> str | None:
    return _clean(entry.get("id")) or _clean(entry.get("link"))


def _entry_article(entry: Any, outlet: str, settings: Settings, client: httpx.Client, pacer: _Pacer) -> WebArticle:
    """The entry's article: the feed's full text when it carries one, else the linked page's."""
    link = _clean(entry.get("link"))
    published = _entry_date(entry)
    author = _clean(entry.get("author"))
    full = _full_text(entry)
    if full is not None:
        return WebArticle(
            title=_clean(entry.get("title")), text=full, outlet=outlet, published=published, url=link, author=author
        )
    if not link:
        raise FetchError(f"entry {_entry_id(entry)!r}: no link and no full text")
    pacer.wait(link)
    page = fetch_html_article(link, settings, client)
    return WebArticle(
        title=_clean(entry.get("title")) or page.title,
        text=page.text,
        outlet=outlet,
        published=published or page.published,
        url=link,
        author=author,
    )


def _full_text(entry: Any) -> str | None:
    """The text of content:encoded or Atom content, when it is an article rather than a teaser."""
    for content in entry.get("content") or []:
        value = content.get("value") or ""
        kind = (content.get("type") or "").lower()
        text = _html_text(value) if "html" in kind else value.strip()
        if len(text.split()) >= FULL_TEXT_WORDS:
            return text
    return None


def _html_text(html: str) -> str:
    """Paragraph text of an HTML fragment (a feed's content), without scripts or hidden elements."""
    try:
        return extract_html(f"<html><body><article>{html}</article></body></html>").text
    except ValueError:
        return ""


def _entry_date(entry: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed"):
        parsed = entry.get(key)
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC).strftime("%Y-%m-%d")
    return None


def _clean(value: object) -> str | None:
    text = re.sub(r"\s+", " ", str(value)).strip() if value else ""
    return text or None


def _save_entry(article: WebArticle, feed_url: str, settings: Settings) -> Path:
    site = re.sub(r"[^a-z0-9]+", "-", urlsplit(feed_url).netloc.lower()).strip("-") or "feed"
    name = saved_name(article.url) if article.url else saved_name(f"{feed_url}#{article.title}")
    return save_article(article, settings.corpus_dir / FEEDS_DIR / site / name)


def poll_saved_feeds(
    settings: Settings, records: Records, *, on_report: Callable[[PollReport], None] | None = None
) -> list[PollReport]:
    return poll_feeds([s.url for s in saved_feeds(records)], settings, records, on_report=on_report)


def start_polling(
    settings: Settings, records: Records, *, on_report: Callable[[PollReport], None] | None = None
) -> threading.Event:
    """Poll the saved feeds now and every `settings.feed_interval` minutes in a daemon thread, until
    the returned event is set. New entries land in the corpus, where the corpus watcher indexes them."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                poll_saved_feeds(settings, records, on_report=on_report)
            except Exception:  # noqa: BLE001 - a poll that fails must not end the polling
                log.exception("polling the saved feeds failed")
            stop.wait(settings.feed_interval * 60)

    threading.Thread(target=loop, name="feed-poll", daemon=True).start()
    return stop
