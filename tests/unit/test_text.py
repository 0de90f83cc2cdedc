import pytest

from rag.text import clean_question, keyword_terms, sentence_spans, stem


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three?", ["One.", "Two!", "Three?"]),
        ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
        ("J. Doe left. U.S. troops stayed.", ["J. Doe left.", "U.S. troops stayed."]),
        ('He said "no." Then he left.', ['He said "no."', "Then he left."]),
        ("A headline without a stop\nThe body starts here.", ["A headline without a stop", "The body starts here."]),
        ("  padded sentence.   ", ["padded sentence."]),
        ("---\n\n...\n", []),
        ("", []),
    ],
)
def test_sentence_spans(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_sentence_spans_respect_bounds() -> None:
    text = "Skip this. Keep this one. And this."
    spans = sentence_spans(text, 11, len(text))
    assert [text[s:e] for s, e in spans] == ["Keep this one.", "And this."]


def test_keyword_terms_drop_stopwords_and_small_numbers() -> None:
    assert keyword_terms("Why did Krause resign in 1798 after 2 years?") == ["krause", "resign", "1798", "years"]
    assert keyword_terms("Energy's share price") == ["energy", "share", "price"]


@pytest.mark.parametrize(
    ("word", "root"),
    [
        ("resigned", "resign"),
        ("hearings", "hear"),
        ("is", "is"),
        ("share", "shar"),
        ("shares", "shar"),
        ("sharing", "shar"),
        ("countries", "country"),
        ("stopped", "stop"),
        ("called", "call"),
        ("business", "business"),
        ("2004", "2004"),
    ],
)
def test_stem(word: str, root: str) -> None:
    assert stem(word) == root


@pytest.mark.parametrize(
    "forms", [("fall", "falls", "fell", "fallen"), ("win", "wins", "won", "winning"), ("pay", "paid", "paying")]
)
def test_forms_of_an_irregular_verb_share_a_stem(forms: tuple[str, ...]) -> None:
    assert len({stem(f) for f in forms}) == 1, {f: stem(f) for f in forms}


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [("  Who\tresigned?\n", "Who resigned?"), ("a\x00b\x1bc", "a b c"), ("¿Quién? 😀", "¿Quién? 😀"), ("\u200b", "")],
)
def test_clean_question(raw: str, cleaned: str) -> None:
    assert clean_question(raw) == cleaned
