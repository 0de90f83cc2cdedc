"""RSS and Atom feeds: a feed site on 127.0.0.1 serves feeds and pages; the tests poll it, index what
comes in and ask about it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ingest.feeds import add_feed, load_feeds, poll_feed, saved_feeds, start_polling
from ingest.indexer import ingest
from ingest.watch import start_watching
from rag import answer
from rag.cli import app
from rag.config import Settings
from rag.records import open_records
from rag.store import open_store
from tests.feed_site import ATOM_KIND, RSS_KIND, FeedSite, Route, atom, rss, serve_feed_site

runner = CliRunner()

FERRY = [
    "The Harbour Ferry Workers Union accepted a pay rise of 6.5 percent on Tuesday, ending a nine-day strike.",
    "Union secretary Orla Brennan said members voted 412 to 96 in favour of the offer.",
    "Services on the Kestrel Point route resume on Thursday morning, the operator said.",
]
LIBRARY = [
    "The converted customs house on Quay Street opened as the city's central library on Monday.",
    "The renovation cost 14 million euros and took three years, according to the city council.",
    "Architect Tomasz Wilk kept the original granite staircase and the clock tower above the entrance.",
]
BRIDGE = [
    "The Marlow swing bridge will close for eleven weeks from 20 April while engineers replace its turning gear.",
    "Council engineer Priya Raman said the repair bill is expected to reach 3.2 million euros.",
    "Buses will be diverted over the Dock Road crossing during the works, adding about ten minutes to trips.",
]
LIGHTHOUSE = (
    "<p>The keeper's cottage at the Blackrock lighthouse was sold at auction on Wednesday for 870,000 euros to a "
    "marine research charity, the auctioneers said.</p><p>The charity, Tidewatch, plans to turn the cottage into "
    "a field station where volunteers will count seabirds and measure water temperature through the year.</p>"
    "<p>The lighthouse itself has been automatic since 1989 and stays with the harbour authority, which keeps "
    "the lamp and the foghorn in working order.</p><p>Local councillor Brid Nolan welcomed the sale and said the "
    "station would bring students and scientists to the island in the quiet winter months.</p>"
    '<p style="display:none">Hidden tracking text.</p>'
)


@pytest.fixture
def gazette() -> Iterator[FeedSite]:
    with serve_feed_site() as served:
        yield served


@pytest.fixture
def feed_settings(settings: Settings) -> Settings:
    return settings.with_overrides(feed_pause=0.0, fetch_timeout=2.0, max_file_bytes=100_000)


def env_for(settings: Settings) -> dict[str, str]:
    env = {
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_DATA_DIR": str(settings.data_dir),
        "RAG_COLLECTION": settings.collection,
        "RAG_FEED_PAUSE": "0",
        "RAG_FETCH_TIMEOUT": "2",
    }
    if settings.database_url:
        env["RAG_DATABASE_URL"] = settings.database_url
    return env


def news_feed(gazette: FeedSite, *stories: tuple[str, str, list[str]]) -> str:
    """Serve pages for `stories` (path, title, paragraphs) and an RSS feed listing them; return its URL."""
    items = [{"title": title, "link": gazette.page(path, title, paras), "guid": path} for path, title, paras in stories]
    gazette.routes["/feed.xml"] = Route(rss("Harbour Gazette", items), RSS_KIND)
    return f"{gazette.base}/feed.xml"


def front_matter(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])


@pytest.mark.both_backends
def test_feed_entries_are_answered_with_citations_and_a_second_run_fetches_only_the_feed(
    gazette: FeedSite, feed_settings: Settings
) -> None:
    url = news_feed(
        gazette,
        ("/news/ferry-strike", "Ferry strike ends after pay deal", FERRY),
        ("/news/library", "Old customs house becomes city library", LIBRARY),
    )
    first = runner.invoke(app, ["ingest", "--feed", url], env=env_for(feed_settings))
    assert first.exit_code == 0, first.output
    saved = sorted((feed_settings.corpus_dir / "feeds").rglob("*.md"))
    assert len(saved) == 2
    meta = front_matter(next(p for p in saved if "ferry" in p.name))
    assert meta["title"] == "Ferry strike ends after pay deal"
    assert meta["outlet"] == "Harbour Gazette"
    assert meta["published"] == "2026-03-03"
    assert meta["url"] == f"{gazette.base}/news/ferry-strike"
    assert "News desk" in meta["author"]
    assert "Subscribe" not in saved[0].read_text(encoding="utf-8")

    result = answer("What pay rise did the ferry workers accept?", settings=feed_settings)
    assert not result.refused and "6.5 percent" in result.text
    c = result.citations[0]
    assert c.source.startswith("feeds/") and c.title == "Ferry strike ends after pay deal"
    body = open_store(feed_settings).records.body(c.source)
    assert body is not None and body[c.start : c.end] == c.quote
    counts = open_store(feed_settings).records.counts()

    before = len(gazette.requests)
    second = runner.invoke(app, ["ingest", "--feed", url], env=env_for(feed_settings))
    assert second.exit_code == 0, second.output
    assert "not modified" in second.stderr and "nothing new to index" in second.stderr
    assert gazette.requests[before:] == [("/feed.xml", "304")]
    assert open_store(feed_settings).records.counts() == counts


def test_an_entry_added_between_polls_is_the_only_page_fetched(gazette: FeedSite, feed_settings: Settings) -> None:
    url = news_feed(gazette, ("/news/ferry-strike", "Ferry strike ends after pay deal", FERRY))
    records = open_records(feed_settings)
    assert len(poll_feed(url, feed_settings, records).saved) == 1
    news_feed(
        gazette,
        ("/news/ferry-strike", "Ferry strike ends after pay deal", FERRY),
        ("/news/bridge", "Swing bridge to close for repairs", BRIDGE),
    )
    before = len(gazette.requests)
    [path] = poll_feed(url, feed_settings, records).saved
    assert "bridge" in path.name
    assert gazette.paths_requested()[before:] == ["/feed.xml", "/news/bridge"]
    assert len(load_feeds(records)[url].taken) == 2


def test_atom_full_text_is_taken_without_fetching_the_page(gazette: FeedSite, feed_settings: Settings) -> None:
    gazette.routes["/atom.xml"] = Route(
        atom(
            "Island Times",
            [
                {
                    "title": "Lighthouse cottage sold",
                    "link": f"{gazette.base}/gone",
                    "id": "urn:x:1",
                    "content": LIGHTHOUSE,
                },
            ],
        ),
        ATOM_KIND,
    )
    report = poll_feed(f"{gazette.base}/atom.xml", feed_settings, open_records(feed_settings))
    [path] = report.saved
    assert "/gone" not in gazette.paths_requested()
    text = path.read_text(encoding="utf-8")
    assert "sold at auction on Wednesday for 870,000 euros" in text
    assert "Hidden tracking text" not in text
    meta = front_matter(path)
    assert (meta["outlet"], meta["published"], meta["author"]) == ("Island Times", "2026-03-04", "Ada Byline")
    ingest(feed_settings)
    result = answer("Who bought the Blackrock lighthouse keeper's cottage?", settings=feed_settings)
    assert not result.refused and "charity" in result.text


def test_duplicate_guids_are_taken_once(gazette: FeedSite, feed_settings: Settings) -> None:
    items = [
        {"title": "Ferry strike ends", "link": gazette.page("/a", "Ferry strike ends", FERRY), "guid": "story-1"},
        {"title": "Ferry strike ends", "link": gazette.page("/b", "Ferry strike ends", FERRY), "guid": "story-1"},
    ]
    gazette.routes["/feed.xml"] = Route(rss("Harbour Gazette", items), RSS_KIND)
    report = poll_feed(f"{gazette.base}/feed.xml", feed_settings, open_records(feed_settings))
    assert len(report.saved) == 1 and "/b" not in gazette.paths_requested()


def test_redirects_of_the_feed_and_of_a_page_are_followed(gazette: FeedSite, feed_settings: Settings) -> None:
    gazette.page("/news/ferry-strike", "Ferry strike ends after pay deal", FERRY)
    gazette.redirects["/old-feed"] = "/feed.xml"
    gazette.redirects["/go/1"] = "/news/ferry-strike"
    gazette.routes["/feed.xml"] = Route(
        rss("Harbour Gazette", [{"title": "Ferry strike ends", "link": f"{gazette.base}/go/1", "guid": "1"}]), RSS_KIND
    )
    report = poll_feed(f"{gazette.base}/old-feed", feed_settings, open_records(feed_settings))
    [path] = report.saved
    assert "6.5 percent" in path.read_text(encoding="utf-8")
    assert front_matter(path)["url"] == f"{gazette.base}/go/1"


def test_failing_entries_are_reported_the_others_taken_and_retried_later(
    gazette: FeedSite, feed_settings: Settings
) -> None:
    gazette.routes["/huge"] = Route(b"<html><body>" + b"<p>words words words</p>" * 10_000 + b"</body></html>")
    items = [
        {"title": "Missing", "link": f"{gazette.base}/missing", "guid": "m"},
        {"title": "Huge", "link": f"{gazette.base}/huge", "guid": "h"},
        {"title": "Ferry", "link": gazette.page("/news/ferry", "Ferry strike ends", FERRY), "guid": "f"},
    ]
    gazette.routes["/feed.xml"] = Route(rss("Harbour Gazette", items), RSS_KIND)
    url = f"{gazette.base}/feed.xml"
    records = open_records(feed_settings)
    report = poll_feed(url, feed_settings, records)
    assert len(report.saved) == 1
    assert len(report.entry_errors) == 2
    assert any("HTTP 404" in e for e in report.entry_errors)
    assert any("larger than" in e for e in report.entry_errors)
    gazette.page("/missing", "Library opens", LIBRARY)  # the missing page appears
    again = poll_feed(url, feed_settings, records)
    assert gazette.statuses("/feed.xml") == ["200", "200"]  # read in full: an entry failed last time
    assert [p.name for p in again.saved if "missing" in p.name] and "/news/ferry" not in gazette.paths_requested()[-3:]


@pytest.mark.both_backends
@pytest.mark.parametrize("broken", ["malformed", "missing"])
def test_a_broken_feed_is_one_line_and_exit_1_with_the_index_untouched(
    gazette: FeedSite, feed_settings: Settings, broken: str
) -> None:
    (feed_settings.corpus_dir / "ferry.md").write_text("# Ferry strike ends\n\n" + " ".join(FERRY), encoding="utf-8")
    ingest(feed_settings)
    records = open_store(feed_settings).records
    state = (records.counts(), records.get_meta("last_ingest"), records.article_hashes())
    gazette.routes["/malformed.xml"] = Route(b"<html><body><p>Page not found, sorry</p>", "text/html")
    url = f"{gazette.base}/{broken}.xml"
    result = runner.invoke(app, ["ingest", "--feed", url], env=env_for(feed_settings))
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: feed {url}: ")
    assert ("not an RSS or Atom feed" if broken == "malformed" else "HTTP 404") in line
    assert (records.counts(), records.get_meta("last_ingest"), records.article_hashes()) == state
    assert not (feed_settings.corpus_dir / "feeds").exists()


@pytest.mark.both_backends
def test_saved_feeds_are_listed_polled_by_ingest_shown_by_status_and_kept_by_rebuild(
    gazette: FeedSite, feed_settings: Settings
) -> None:
    env = env_for(feed_settings)
    url = news_feed(
        gazette,
        ("/news/ferry-strike", "Ferry strike ends after pay deal", FERRY),
        ("/news/library", "Old customs house becomes city library", LIBRARY),
    )
    bad = runner.invoke(app, ["feeds", "add", "ftp://gazette.example/feed"], env=env)
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "http(s) URL" in bad.stderr
    assert runner.invoke(app, ["feeds", "add", url], env=env).exit_code == 0
    listed = runner.invoke(app, ["feeds", "list"], env=env)
    assert url in listed.stdout and "0 entries taken" in listed.stdout and "last poll never" in listed.stdout

    assert runner.invoke(app, ["ingest"], env=env).exit_code == 0
    assert open_store(feed_settings).records.counts()[0] == 2
    status = runner.invoke(app, ["status"], env=env)
    assert f"{url} (Harbour Gazette): 2 entries taken" in status.stdout

    rebuilt = runner.invoke(app, ["ingest", "--rebuild"], env=env)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert [s.url for s in saved_feeds(open_records(feed_settings))] == [url]
    assert len(load_feeds(open_records(feed_settings))[url].taken) == 2
    assert open_store(feed_settings).records.counts()[0] == 2

    assert runner.invoke(app, ["feeds", "remove", url], env=env).exit_code == 0
    assert "no saved feeds" in runner.invoke(app, ["feeds", "list"], env=env).stdout
    assert len(list((feed_settings.corpus_dir / "feeds").rglob("*.md"))) == 2
    again = runner.invoke(app, ["feeds", "remove", url], env=env)
    assert again.exit_code == 1 and "not a saved feed" in again.stderr


def test_watching_polls_the_saved_feeds_while_answering(gazette: FeedSite, feed_settings: Settings) -> None:
    settings = feed_settings.with_overrides(feed_interval=0.02)  # every 1.2 s
    url = news_feed(gazette, ("/news/ferry-strike", "Ferry strike ends after pay deal", FERRY))
    store = open_store(settings)
    add_feed(store.records, url)
    poll_feed(url, settings, store.records)
    ingest(settings, store=store)
    stop_watch = start_watching(settings, store=store)
    time.sleep(1.0)  # the watcher is up before anything lands in the corpus
    stop_poll = start_polling(settings, store.records)
    errors: list[BaseException] = []
    answered = threading.Event()

    def ask_until_answered() -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                answer("What pay rise did the ferry workers accept?", settings=settings, store=store)
                result = answer("How long will the Marlow swing bridge close?", settings=settings, store=store)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
                return
            if not result.refused and "eleven weeks" in result.text:
                answered.set()
                return
            time.sleep(0.3)

    try:
        asker = threading.Thread(target=ask_until_answered)
        asker.start()
        time.sleep(2.0)
        news_feed(
            gazette,
            ("/news/ferry-strike", "Ferry strike ends after pay deal", FERRY),
            ("/news/bridge", "Swing bridge to close for repairs", BRIDGE),
        )
        asker.join(100)
    finally:
        stop_poll.set()
        stop_watch.set()
    assert not errors, errors
    assert answered.is_set(), "the new feed entry was not answered within 90 s"


def test_a_story_listed_under_two_links_is_one_group_of_copies(gazette: FeedSite, feed_settings: Settings) -> None:
    items = [
        {"title": "Ferry strike ends", "link": gazette.page("/a", "Ferry strike ends", FERRY), "guid": "a"},
        {"title": "Ferry strike over", "link": gazette.page("/b", "Ferry strike over", FERRY), "guid": "b"},
        {"title": "Library opens", "link": gazette.page("/c", "Library opens", LIBRARY), "guid": "c"},
    ]
    gazette.routes["/feed.xml"] = Route(rss("Harbour Gazette", items), RSS_KIND)
    assert len(poll_feed(f"{gazette.base}/feed.xml", feed_settings, open_records(feed_settings)).saved) == 3
    ingest(feed_settings)
    [group] = open_store(feed_settings).records.copy_groups()
    assert len(group) == 2
    result = answer("What pay rise did the ferry workers accept?", settings=feed_settings)
    assert len({c.source for c in result.citations}) == 1


def test_the_corpus_panel_follows_and_unfollows_feeds(gazette: FeedSite, feed_settings: Settings) -> None:
    from gradio_client import Client

    from tests.servers import free_port
    from ui.app import build_app, launch
    from ui.render import feeds_html

    settings = feed_settings.with_overrides(ui_port=free_port())
    (settings.corpus_dir / "library.md").write_text("# Library\n\n" + " ".join(LIBRARY), encoding="utf-8")
    ingest(settings)
    url = news_feed(gazette, ("/news/ferry-strike", "Ferry strike ends after pay deal", FERRY))
    app = build_app(settings)
    launch(app, settings, block=False)
    try:
        client = Client(f"http://127.0.0.1:{settings.ui_port}/", verbose=False)
        status = client.predict(url, api_name="/follow_feed")
        assert "1 new entries" in status and "1 added" in status
        data = client.predict("What pay rise did the ferry workers accept?", api_name="/ask")
        assert "6.5 percent" in data["answer"]
        broken = client.predict(f"{gazette.base}/nothing.xml", api_name="/follow_feed")
        assert broken.startswith("Error: feed") and "HTTP 404" in broken
        table = feeds_html(saved_feeds(open_records(settings)))
        assert url in table and "Harbour Gazette" in table and "HTTP 404" in table
        assert "removed feed" in client.predict(url, api_name="/unfollow_feed")
        assert [s.url for s in saved_feeds(open_records(settings))] == [f"{gazette.base}/nothing.xml"]
    finally:
        app.close()


@pytest.mark.both_backends
def test_feeds_saved_at_the_same_time_are_all_kept(settings: Settings) -> None:
    """Each thread writes through its own database connection, as separate processes would."""
    records = open_records(settings)
    errors: list[BaseException] = []

    def add_many(n: int) -> None:
        try:
            for i in range(15):
                add_feed(records, f"https://site{n}.example/feed-{i}.xml")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=add_many, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(saved_feeds(records)) == 45
