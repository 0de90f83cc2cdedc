"""Articles from the web: main text and metadata out of HTML pages and PDFs, and fetching URLs."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from rag.config import Settings
from rag.documents import PAGE_BREAK
from rag.errors import RagError

if TYPE_CHECKING:
    import httpx

MIN_ARTICLE_WORDS = 8
"""Fewer words than this is a menu or an error page, not an article."""
USER_AGENT = "newsrag/0.1 (+article fetcher)"


class FetchError(RagError):
    """A URL that cannot be turned into an article; the message says why."""


class NoArticleText(ValueError):
    """A page or document with no extractable article text."""


@dataclass(frozen=True)
class WebArticle:
    title: str | None
    text: str
    outlet: str | None = None
    published: str | None = None
    url: str | None = None
    author: str | None = None


def extract_html(html: str | bytes, url: str | None = None) -> WebArticle:
    """The article body of a page, without navigation, ads, scripts or comments, and its metadata."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        without_hidden(html),
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
    )
    if doc is None:
        raise NoArticleText("no article text found in the page")
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = (data.get("text") or "").strip()
    if len(text.split()) < MIN_ARTICLE_WORDS:
        raise NoArticleText("no article text found in the page")
    return WebArticle(
        title=data.get("title") or None,
        text=text,
        outlet=data.get("sitename") or None,
        published=data.get("date") or None,
        url=data.get("url") or url,
    )


_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|opacity\s*:\s*0(?![.\d]*[1-9])"
)


def without_hidden(html: str | bytes) -> str | bytes:
    """The page without the elements a reader cannot see (the hidden attribute, aria-hidden, hiding
    styles, templates): text hidden in a page is how instructions are slipped to a model unseen."""
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return html
    for element in root.xpath("//*[@hidden] | //*[@aria-hidden='true'] | //template | //*[@style]"):
        if _is_hidden(element) and element.getparent() is not None:
            element.drop_tree()
    return lxml.html.tostring(root, encoding="unicode")


def _is_hidden(element: Any) -> bool:
    return bool(
        element.tag == "template"
        or element.get("hidden") is not None
        or element.get("aria-hidden") == "true"
        or _HIDDEN_STYLE.search(element.get("style") or "")
    )


def extract_pdf(path: Path) -> WebArticle:
    """The text of a PDF, page by page (pages separated by a form feed), and its title if it has one."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
        created = _pdf_date(reader)
    except (PdfReadError, OSError, ValueError) as exc:
        raise NoArticleText(f"unreadable PDF ({type(exc).__name__})") from None
    if not any(pages):
        raise NoArticleText("the PDF has no extractable text (a scan?)")
    return WebArticle(title=str(title) if title else None, text=f"\n{PAGE_BREAK}\n".join(pages), published=created)


def _pdf_date(reader: Any) -> str | None:
    """The PDF's creation day from its metadata (YYYY-MM-DD), when it has a readable one."""
    try:
        created = reader.metadata.creation_date if reader.metadata else None
    except (ValueError, TypeError):  # a malformed date string in the metadata
        return None
    return created.date().isoformat() if created else None


def to_markdown(article: WebArticle) -> str:
    """The article as Markdown with front matter: what gets saved into the corpus dir."""
    meta = {
        k: v
        for k, v in (
            ("title", article.title),
            ("outlet", article.outlet),
            ("published", article.published),
            ("author", article.author),
            ("url", article.url),
        )
        if v
    }
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{front}---\n{article.text}\n"


def normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def saved_name(url: str) -> str:
    """A stable file name for a URL: fetching the same URL again updates the same file."""
    normal = normalise_url(url)
    parts = urlsplit(normal)
    slug = re.sub(r"[^a-z0-9]+", "-", f"{parts.netloc}{parts.path}".lower()).strip("-")[:80] or "page"
    return f"{slug}-{hashlib.sha256(normal.encode()).hexdigest()[:8]}.md"


def is_url(text: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text))


@dataclass(frozen=True)
class FetchedPage:
    body: bytes
    url: str
    """The URL after redirects."""
    content_type: str
    status: int
    headers: dict[str, str]


def new_client(settings: Settings) -> httpx.Client:
    """An HTTP client with the fetcher's User-Agent, timeouts and redirect limit."""
    import httpx

    return httpx.Client(
        follow_redirects=True,
        timeout=settings.fetch_timeout,
        max_redirects=5,
        headers={"User-Agent": USER_AGENT},
    )


def fetch(
    url: str, settings: Settings, client: httpx.Client | None = None, headers: dict[str, str] | None = None
) -> FetchedPage:
    """GET a URL, following redirects within limits and stopping at the size limit; errors are
    `FetchError`s naming the URL. A 304 comes back as a page with an empty body."""
    import httpx

    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"{url}: only http and https URLs can be fetched")
    limit = settings.max_file_bytes
    own = client is None
    client = client or new_client(settings)
    try:
        with client.stream("GET", url, headers=headers or {}) as response:
            if response.status_code >= 400:
                raise FetchError(f"{url}: the server answered HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise FetchError(f"{url}: larger than the {_megabytes(limit)} limit (RAG_MAX_FILE_BYTES)")
            body = bytearray()
            for block in response.iter_bytes():
                body.extend(block)
                if len(body) > limit:
                    raise FetchError(f"{url}: larger than the {_megabytes(limit)} limit (RAG_MAX_FILE_BYTES)")
            return FetchedPage(
                body=bytes(body),
                url=str(response.url),
                content_type=response.headers.get("content-type", "").split(";")[0].strip().lower(),
                status=response.status_code,
                headers=dict(response.headers),
            )
    except httpx.TimeoutException:
        raise FetchError(f"{url}: timed out after {settings.fetch_timeout:g} s") from None
    except httpx.TooManyRedirects:
        raise FetchError(f"{url}: too many redirects") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: cannot fetch ({type(exc).__name__})") from None
    finally:
        if own:
            client.close()


def _megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB"


def fetch_html_article(url: str, settings: Settings, client: httpx.Client | None = None) -> WebArticle:
    """Fetch a page and extract its article; a page that is not HTML or holds no article is a `FetchError`."""
    page = fetch(url, settings, client)
    if page.content_type not in ("text/html", "application/xhtml+xml"):
        kind = page.content_type or "no content type"
        raise FetchError(f"{url}: not an HTML page ({kind}); save it and add the file")
    try:
        return extract_html(page.body, url=page.url)
    except NoArticleText as exc:
        raise FetchError(f"{url}: {exc}") from None


def fetch_article(url: str, settings: Settings) -> Path:
    """Fetch a page, extract the article and save it under `<corpus>/web/`; return the saved path."""
    return save_article(fetch_html_article(url, settings), settings.corpus_dir / "web" / saved_name(url))


def save_article(article: WebArticle, target: Path) -> Path:
    """Write the article as Markdown with front matter at `target` (folders created); return it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(to_markdown(article), encoding="utf-8")
    return target
