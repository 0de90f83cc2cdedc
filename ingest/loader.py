"""Load `.md` / `.txt` files into `Article`s; say why a file is skipped instead of failing."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import yaml

from rag.documents import Article

log = logging.getLogger(__name__)

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it: front matter parses several times faster."""

ARTICLE_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".html", ".htm", ".pdf"})
TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_MAX_HEADLINE_CHARS = 150
_WESTERN = "cp1252"
_MARGIN = 0.1


class SkippedFile(Exception):
    """A corpus file that cannot be indexed; the message says why."""


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


def source_name(path: Path, corpus_dir: Path) -> str:
    """The article's identity: its path relative to the corpus dir, with forward slashes."""
    return path.resolve().relative_to(corpus_dir.resolve()).as_posix()


def load_article(path: Path, corpus_dir: Path, *, max_bytes: int) -> Article:
    """Read one file into an Article, or raise SkippedFile saying why it cannot be indexed."""
    if path.suffix.lower() not in ARTICLE_SUFFIXES:
        raise SkippedFile(f"unsupported file type {path.suffix or '(none)'}; use .md, .txt, .html or .pdf")
    size = path.stat().st_size
    if size > max_bytes:
        raise SkippedFile(f"larger than {max_bytes // (1024 * 1024)} MB ({size} bytes)")
    if path.suffix.lower() not in TEXT_SUFFIXES:
        return _load_web_document(path, corpus_dir)
    raw = path.read_bytes()
    text, encoding = decode_text(raw, path.name)
    meta, body = _split_front_matter(text)
    body = body.strip()
    if not body:
        raise SkippedFile("empty article")
    title = _text_field(meta, "title") or _headline(body) or path.stem.replace("_", " ").replace("-", " ")
    return Article(
        source=source_name(path, corpus_dir),
        title=title,
        body=body,
        outlet=_text_field(meta, "outlet"),
        url=_text_field(meta, "url"),
        published=_text_field(meta, "published"),
        encoding=encoding,
    )


def decode_text(raw: bytes, name: str) -> tuple[str, str | None]:
    """Decode UTF-8 (with or without BOM), a UTF-16 BOM, or else whatever charset detection finds.

    Returns the text and the encoding it was decoded from (None for UTF-8).
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise SkippedFile("binary file (not valid UTF-16 despite its byte-order mark)") from None
    if b"\0" in raw:
        raise SkippedFile("binary file")
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw))
    if not matches:
        raise SkippedFile("not text in any known encoding; re-save the file as UTF-8")
    # With only a few non-ASCII bytes ("£15.8m" in an English story) the least chaotic reading can
    # be an absurd one (Shift-JIS), and language scores differ by noise. Among readings about as
    # clean as the best, Windows-1252 (the usual legacy encoding of Western news) wins unless another
    # reads clearly more like a language; a Cyrillic or Greek code page reads as chaos in it.
    clean = [m for m in matches if m.chaos <= min(m.chaos for m in matches) + _MARGIN]
    best = max(clean, key=lambda m: m.coherence)
    western = next((m for m in clean if m.encoding == _WESTERN), None)
    if western is not None and western.coherence >= best.coherence - _MARGIN:
        best = western
    log.info("decoded %s as %s", name, best.encoding)
    return str(best), best.encoding


def _load_web_document(path: Path, corpus_dir: Path) -> Article:
    """An HTML page or PDF: its extracted text is the body that chunks and citations point into."""
    from ingest.web import NoArticleText, extract_html, extract_pdf

    try:
        if path.suffix.lower() == ".pdf":
            doc = extract_pdf(path)
        else:
            doc = extract_html(path.read_bytes())
    except NoArticleText as exc:
        raise SkippedFile(str(exc)) from None
    body = doc.text.strip()
    return Article(
        source=source_name(path, corpus_dir),
        title=doc.title or _headline(body) or path.stem.replace("_", " ").replace("-", " "),
        body=body,
        outlet=doc.outlet,
        url=doc.url,
        published=doc.published,
    )


def _split_front_matter(text: str) -> tuple[dict[str, object], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.load(match.group(1), Loader=SAFE_LOADER) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise SkippedFile(f"invalid YAML front matter{where}") from None
    if not isinstance(meta, dict):
        raise SkippedFile("front matter is not a mapping of `key: value` lines")
    return meta, text[match.end() :]


def _text_field(meta: dict[str, object], key: str) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _headline(body: str) -> str | None:
    """The first line, when it looks like a headline rather than a sentence."""
    first = body.split("\n", 1)[0].strip()
    if first.startswith("#"):
        return first.lstrip("#").strip() or None
    if len(first) <= _MAX_HEADLINE_CHARS and not first.endswith((".", "!", "?", "…", ":", ",", ";")) and "\n" in body:
        return first
    return None


def iter_article_files(root: Path) -> Iterator[Path]:
    """Yield article files under `root` (a file or folder) in a stable order, hidden files ignored."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file():
            yield path


def load_articles(paths: Iterable[Path], corpus_dir: Path, *, max_bytes: int) -> tuple[list[Article], list[Skipped]]:
    """Load every file; a bad file is logged with its name and reported, never fatal."""
    articles: list[Article] = []
    skipped: list[Skipped] = []
    for path in paths:
        try:
            articles.append(load_article(path, corpus_dir, max_bytes=max_bytes))
        except SkippedFile as exc:
            source = source_name(path, corpus_dir)
            log.warning("skipped %s: %s", source, exc)
            skipped.append(Skipped(source, str(exc)))
        except OSError as exc:
            source = source_name(path, corpus_dir)
            log.warning("skipped %s: cannot read (%s)", source, exc.strerror or exc)
            skipped.append(Skipped(source, f"cannot read ({exc.strerror or exc})"))
    return articles, skipped
