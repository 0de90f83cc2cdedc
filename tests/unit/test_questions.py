"""Reading a question: answer type, names, focus words; and whether a sentence offers that type."""

import pytest

from rag.answering.questions import (
    AnswerType,
    answer_type,
    asked_name,
    asks_for_news,
    asks_who_or_what_is,
    introduces,
    names_in,
    offers_answer,
    read_question,
)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How much did the council spend on the bridge?", AnswerType.MONEY),
        ("How much money did the appeal raise?", AnswerType.MONEY),
        ("How much rain fell in March?", AnswerType.AMOUNT),
        ("How many jobs will go at the plant?", AnswerType.AMOUNT),
        ("What price did the buyer pay for the stake?", AnswerType.MONEY),
        ("According to the survey, what percentage of people shop online?", AnswerType.AMOUNT),
        ("By what score did the visitors win?", AnswerType.AMOUNT),
        ("Roughly what share of voters backed the plan?", AnswerType.AMOUNT),
        ("When did the strike begin?", AnswerType.DATE),
        ("In what year was the mill closed?", AnswerType.DATE),
        ("Who replaced the chief executive?", AnswerType.NAME),
        ("Where will the summit be held?", AnswerType.NAME),
        ("In which city did the festival open?", AnswerType.NAME),
        ("Which carmaker recalled the most vehicles?", AnswerType.NAME),
        ("How often will the app be updated?", AnswerType.FREQUENCY),
        ("Why did the minister resign?", AnswerType.REASON),
        ("How did the thieves get into the museum?", AnswerType.REASON),
        ("What prompted the inquiry?", AnswerType.REASON),
        ("What did the mayor say about the budget?", AnswerType.WORDS),
        ("How did the editor sum up the state of the company?", AnswerType.WORDS),
        ("How did the agency describe the excuses?", AnswerType.WORDS),
        # "when" inside the question is a conjunction, not what is asked
        ("What did the singer say when he launched the tour?", AnswerType.WORDS),
        ("What did the council approve?", AnswerType.OTHER),
        ("", AnswerType.OTHER),
    ],
)
def test_answer_type_from_the_question_form(question: str, kind: AnswerType) -> None:
    assert answer_type(question) is kind


def test_names_and_focus_words_are_split() -> None:
    q = read_question("How much did Acme Corp pay for the Harlow ferry line?")
    assert q.names == {"acme", "corp", "harlow"}
    assert {"pay", "ferry", "lin"} <= q.focus  # stems
    assert not q.focus & {"acme", "corp", "harlow"}
    assert q.answer_type is AnswerType.MONEY


def test_years_the_question_names() -> None:
    assert read_question("Which club won the 2005 FA Cup final?").years == {"2005"}
    assert read_question("Who won the cup in 1998 and in 2004?").years == {"1998", "2004"}
    assert read_question("How many of the 2500 seats were sold?").years == frozenset()


@pytest.mark.parametrize(
    ("question", "sentence", "offers"),
    [
        ("How much did Acme pay for the line?", "Acme paid £30m for the line.", True),
        ("How much did Acme pay for the line?", "Acme paid 30 million euros for the line.", True),
        ("How much will the bridge cost?", "The bridge will cost 42 million.", True),
        ("How much did Acme pay for the line?", "Acme did not disclose what it paid for the line.", False),
        # a count is no sum of money
        ("How much did Acme pay for the line?", "Acme bought 12 ferries with the line.", False),
        ("How many ferries did Acme buy?", "Acme bought 12 ferries with the line.", True),
        # a number the question already holds is no answer
        ("How much did Acme pay in 2004?", "Acme made the payment in 2004.", False),
        ("How many jobs will go?", "About two thousand jobs will go.", True),
        ("How many episodes were ordered?", "Thirteen episodes have been commissioned.", True),
        ("How many seats did the party win?", "It won seventy seats.", True),
        ("When did the strike begin?", "The strike began on Monday.", True),
        ("When did the strike begin?", "The strike is over pay.", False),
        ("Who replaced Smith as chief executive?", "Smith was replaced by Jane Doe.", True),
        ("Who replaced Smith as chief executive?", "The board replaced Smith.", False),
        ("How often is the index published?", "The index is published monthly.", True),
        ("Why did the minister resign?", "He resigned because of the row.", True),
        ("Why did the minister resign?", "The minister resigned on Friday.", False),
        ("Why is the market set to grow?", "It is the poorest market, so it has room to grow.", True),
        ("How did the editor describe the firm?", '"This is a company in the departure lounge," he said.', True),
        ("How did the editor describe the firm?", "The firm's shares fell on Monday.", False),
    ],
)
def test_sentence_offers_an_answer_of_the_asked_type(question: str, sentence: str, offers: bool) -> None:
    q = read_question(question)
    assert offers_answer(q.answer_type, sentence, q) is offers


@pytest.mark.parametrize(
    ("question", "news"),
    [
        ("What's the latest on the Marlow swing bridge?", True),
        ("Any news about the dock strike?", True),
        ("What is the latest estimate of the repair bill?", False),  # one fact, the newest
        ("Why did Krause resign?", False),
    ],
)
def test_a_request_for_the_news_on_a_story(question: str, news: bool) -> None:
    assert asks_for_news(question) is news


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("Who is Jimmy Gomez?", True),
        ("What is the Alien Enemies Act?", True),
        ("Who was Pope John Paul II?", True),
        ("What is the Bank of England?", True),
        ("Who is the president of Brazil?", False),  # a role, not a name: a fact to find
        ("Who is he?", False),
        ("What is the recipe for pancakes?", False),
    ],
)
def test_a_question_only_for_who_or_what_a_name_is(question: str, asks: bool) -> None:
    assert asks_who_or_what_is(question) is asks


@pytest.mark.parametrize(
    ("sentence", "name", "introduces_it"),
    [
        ("Representative Jimmy Gomez and Senator Jacky Rosen expressed outrage.", "Jimmy Gomez", True),
        ("The move comes after telecom regulator Ofcom said in November that it must change.", "Ofcom", True),
        ("Gordon Brown, the chancellor, said the figures were strong.", "Gordon Brown", True),
        ("The Alien Enemies Act is a wartime law from 1798.", "Alien Enemies Act", True),
        ("Prime Minister Tony Blair declared himself delighted.", "Tony Blair", True),
        ("Lots of ministers believe Tony Blair will attempt to move him.", "Tony Blair", False),  # a verb before
        ("On Wednesday Tony Blair said he hoped so.", "Tony Blair", False),  # a day names no role
        ("The report was welcomed, said Jimmy Gomez.", "Jimmy Gomez", False),
        ("Mr Brown would like to portray it.", "Gordon Brown", False),  # not the whole name
    ],
)
def test_a_sentence_that_introduces_a_name(sentence: str, name: str, introduces_it: bool) -> None:
    assert introduces(sentence, name) is introduces_it


def test_the_name_a_who_or_what_is_question_asks_about() -> None:
    assert asked_name("Who is Jimmy Gomez?") == "Jimmy Gomez"
    assert asked_name("What is the Alien Enemies Act?") == "Alien Enemies Act"
    assert asked_name("Who is the president of Brazil?") is None


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Ian Rush left Chester.", {"rush", "chester"}),
        ("He brushed aside talk of Manchester.", set()),  # inside other words
        ("The Osbournes ended; Chester's fans cheered.", {"osbourne", "chester"}),  # plural, possessive
        ("IAN RUSH", {"rush"}),
    ],
)
def test_names_in_finds_whole_words_only(text: str, found: set[str]) -> None:
    assert names_in(text, {"rush", "chester", "osbourne"}) == found


def test_names_in_as_spelt_keeps_the_case_of_the_name() -> None:
    assert names_in("Officers of ICE arrived.", {"ICE"}, as_spelt=True) == {"ICE"}
    assert names_in("The ice rink opened.", {"ICE"}, as_spelt=True) == set()
    assert names_in("The ice rink opened.", {"ice"}) == {"ice"}
