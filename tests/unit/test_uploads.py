from pathlib import Path

import pytest

from ui.uploads import UploadError, safe_name, save_upload


@pytest.mark.parametrize(
    ("original", "safe"),
    [
        ("story.md", "story.md"),
        ("../../etc/passwd.md", "passwd.md"),
        ("..\\..\\win.txt", "win.txt"),
        ("My Story (final)!.MD", "My-Story-final.md"),
        ("....md", "article.md"),
        ("/abs/path/x.txt", "x.txt"),
    ],
)
def test_safe_name(original: str, safe: str) -> None:
    assert safe_name(original) == safe


def make(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / "incoming" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    return path


def test_saves_into_corpus_under_a_safe_name(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    saved = save_upload(make(tmp_path, "a.md", b"Text."), "../../a.md", corpus, max_bytes=100)
    assert saved.path == corpus / "a.md"
    assert saved.path.read_bytes() == b"Text."


def test_never_overwrites_a_different_article(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_bytes(b"Original.")
    saved = save_upload(make(tmp_path, "a.md", b"Other."), "a.md", corpus, max_bytes=100)
    assert saved.path.name == "a-2.md"
    assert "already in the corpus" in saved.message
    assert (corpus / "a.md").read_bytes() == b"Original."
    same = save_upload(make(tmp_path, "a.md", b"Original."), "a.md", corpus, max_bytes=100)
    assert same.path == corpus / "a.md"


@pytest.mark.parametrize(
    ("name", "size", "reason"), [("x.docx", 5, "only"), ("x.exe", 5, "only"), ("x.md", 500, "limit")]
)
def test_rejects_other_formats_and_big_files(tmp_path: Path, name: str, size: int, reason: str) -> None:
    with pytest.raises(UploadError, match=reason):
        save_upload(make(tmp_path, name, b"x" * size), name, tmp_path / "corpus", max_bytes=100)
    assert not (tmp_path / "corpus").exists() or not any((tmp_path / "corpus").iterdir())
