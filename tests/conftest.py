"""Shared fixtures: offline model, a fresh data dir per test, the dev corpus indexed once."""

from __future__ import annotations

import os

# Before anything imports transformers: never reach for a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import itertools
import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from rag.config import Settings

REPO = Path(__file__).resolve().parent.parent
SEED_ARTICLE = REPO / "corpus" / "000_a4b3e2646b848259.md"
SEED_FACTS_FLOOR = 1.0
"""Fact accuracy on the seed dev set (dev_set.jsonl), with the models fitted on the training
questions only: every answerable question answered with its facts."""
STRICT = os.environ.get("RAG_TESTS_STRICT") == "1"
CHROMIUM = os.environ.get("RAG_CHROMIUM", "/usr/bin/chromium")

# Property tests (tests/unit/test_properties.py): the same generated inputs on every run; the long
# profile tries many more (`RAG_HYPOTHESIS_PROFILE=long make test`, figures in bench/RESULTS.md).
hypothesis_settings.register_profile("ci", derandomize=True, max_examples=150, deadline=None, print_blob=True)
hypothesis_settings.register_profile("long", max_examples=3000, deadline=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("RAG_HYPOTHESIS_PROFILE", "ci"))
"""Set in CI: a missing heavy dependency (shared data, browser, server) fails instead of skipping."""

_collection_ids = itertools.count()

BACKENDS = ("sqlite", "postgres")
DATABASE_URL = os.environ.get("RAG_TEST_DATABASE_URL")
"""A PostgreSQL database the tests may create schemas in (scripts/services.sh starts one)."""
CHROMA_URL = os.environ.get("RAG_TEST_CHROMA_URL")
"""A running Chroma server the multi-process tests share (scripts/services.sh starts one)."""


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine; fail under RAG_TESTS_STRICT=1, where nothing may be missing."""
    if STRICT:
        pytest.fail(f"{reason} (RAG_TESTS_STRICT=1 requires it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared material (eval set, distractor articles), beside the repo."""
    path = Path(os.environ.get("RAG_SHARED_DIR", REPO.parent / "shared"))
    if not (path / "eval" / "dev_set.jsonl").is_file():
        skip_or_fail(f"shared material not found at {path}; set RAG_SHARED_DIR")
    return path


@pytest.fixture(scope="session")
def dev_set(shared_dir: Path) -> list[dict]:
    lines = (shared_dir / "eval" / "dev_set.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def new_settings(root: Path, **overrides: object) -> Settings:
    """Settings rooted in `root`, with a collection name no other test uses."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    return Settings(
        corpus_dir=corpus, data_dir=root / "data", collection=f"test-{os.getpid()}-{next(_collection_ids)}"
    ).with_overrides(**overrides)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_backends` run once on SQLite records and once on PostgreSQL."""
    if metafunc.definition.get_closest_marker("both_backends") and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The records backend of this test: sqlite unless the test is marked `both_backends`."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(backend: str) -> Iterator[str | None]:
    """None for SQLite; for PostgreSQL, the URL of a fresh schema, dropped after the test."""
    if backend == "sqlite":
        yield None
        return
    with postgres_schema() as url:
        yield url


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A new, empty schema in the test database; its URL makes it the connection's search path."""
    if not DATABASE_URL:
        skip_or_fail("no PostgreSQL for the database backend; start one with scripts/services.sh")
    import psycopg

    schema = f"t_{os.getpid()}_{next(_collection_ids)}"
    try:
        with psycopg.connect(str(DATABASE_URL), autocommit=True, connect_timeout=5) as db:
            db.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL at RAG_TEST_DATABASE_URL is not reachable ({exc})")
    sep = "&" if "?" in str(DATABASE_URL) else "?"
    try:
        yield f"{DATABASE_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(str(DATABASE_URL), autocommit=True) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    """Empty corpus and data dir under tmp_path, records in this test's backend."""
    return new_settings(tmp_path, database_url=database_url)


@pytest.fixture
def write_article(settings: Settings) -> Callable[..., Path]:
    """Write an article file into the test corpus; return its path."""

    def write(name: str, body: str, **front: str) -> Path:
        path = settings.corpus_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        header = "".join(f"{k}: {json.dumps(v)}\n" for k, v in front.items())
        path.write_text(f"---\n{header}---\n{body}" if front else body, encoding="utf-8")
        return path

    return write


@dataclass
class DevIndex:
    settings: Settings
    bodies: dict[str, str]


@pytest.fixture(scope="session")
def dev_index(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> DevIndex:
    """The seed article plus the distractor articles, indexed once for the session (read-only)."""
    from ingest.indexer import ingest
    from rag.store import open_store

    settings = new_settings(tmp_path_factory.mktemp("dev"))
    shutil.copy(SEED_ARTICLE, settings.corpus_dir)
    for path in sorted((shared_dir / "articles").glob("*.md")):
        shutil.copy(path, settings.corpus_dir)
    ingest(settings)
    records = open_store(settings).records
    bodies = {a.source: records.article(a.source).body for a in records.articles()}  # type: ignore[union-attr]
    return DevIndex(settings, bodies)


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """Base URL of the local news site (tests/news_site.py) served on 127.0.0.1."""
    from tests.news_site import serve_news_site

    with serve_news_site() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's) for one test module. Not for the session: Playwright's sync API
    keeps an event loop running in the main thread while it is open, and later tests that call
    asyncio.run() (LangChain's ainvoke, the MCP client) cannot run beside it."""
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"no Chromium at {CHROMIUM}; install Debian's chromium or set RAG_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()
