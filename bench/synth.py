"""A seeded generator of realistic synthetic news articles, with needle questions about them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIRST = """Amara Bruno Chiara Dmitri Elena Farid Greta Hiro Ines Jonas Kofi Lena Mateo Nadia Oskar Priya Quentin
Rosa Samir Tamsin Ulla Viktor Wen Ximena Yusuf Zofia Adele Boris Celine Dario Esme Felix Gita Hugo Ida Jasper""".split()
LAST = """Abernathy Brightwater Castellano Dunmore Eskildsen Fairbanks Galloway Holloway Iversen Jablonski Kovacs
Lindqvist Moreau Nakamura Okafor Pellegrini Quist Rasmussen Sorensen Takahashi Underhill Varga Whitlock Xenakis
Yilmaz Zielinski Ashdown Bellamy Carrow Delacroix Ellwood Fenwick""".split()
PLACES = """Northbridge Calder Falls Westmere Ravenport Ashby Kettering Bay Milford Haven Oakhurst Pinecrest Redcliff
Stonehaven Thornbury Upton Vale Willowmere Yarrow Brackenfield Coldwater Dunsford Elmstead Foxley Glenrock""".split()
ORGS = [
    "Transit Authority",
    "Water Board",
    "School District",
    "Port Authority",
    "Hospital Trust",
    "Housing Agency",
    "Parks Department",
    "Energy Cooperative",
    "Library System",
    "Fire Service",
]
PROJECTS = [
    "bridge",
    "tram line",
    "water treatment plant",
    "stadium",
    "library",
    "ferry terminal",
    "hospital wing",
    "solar farm",
    "bus depot",
    "sea wall",
    "school campus",
    "bike network",
]
ROLES = ["mayor", "council member", "chief executive", "director", "spokesperson", "chair", "treasurer", "engineer"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
FILLER = [
    "{p} residents packed the meeting hall, and several speakers asked for more time to review the plan.",
    "The {org} has faced criticism over delays on earlier projects, including a {proj2} that opened two years late.",
    "Local businesses said they were cautiously optimistic, though some worried about disruption during construction.",
    "A public consultation will run for {n} weeks, with sessions in the town hall and online.",
    "Opposition members argued that the money would be better spent on road repairs and school maintenance.",
    "{name}, a longtime resident, said the neighborhood had waited decades for the investment.",
    "The regional government is expected to decide on additional funding before the end of {month}.",
    "Independent auditors reviewed the budget last year and recommended tighter cost controls.",
    "Turnout at the previous council election in {p} was {pct} percent, the lowest in a decade.",
    "Environmental groups asked for an assessment of the impact on wetlands near the {proj2} site.",
    "Traffic on the main road through {p} has grown by {pct} percent since {year}, according to city figures.",
    "The {org} said it would publish quarterly progress reports on its website.",
    "Union representatives said workers had not been consulted about the new schedules.",
    "Critics pointed to rising interest rates, which have pushed up the cost of public borrowing.",
    "Supporters said the project would create about {n}00 jobs during construction.",
]


@dataclass(frozen=True)
class Needle:
    question: str
    support: str
    source: str


@dataclass(frozen=True)
class SynthArticle:
    name: str
    text: str
    needle: Needle


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def make_article(index: int, rng: random.Random) -> SynthArticle:
    """One article of 4-30 sentences about a project in an invented town, with one needle fact."""
    place, org, proj, proj2 = rng.choice(PLACES), rng.choice(ORGS), rng.choice(PROJECTS), rng.choice(PROJECTS)
    person, role = _person(rng), rng.choice(ROLES)
    amount = rng.randint(2, 950)
    month, year, day = rng.choice(MONTHS), rng.randint(2019, 2027), rng.randint(1, 28)
    code = f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.randint(10, 99)}"
    title = f"{place} {org} backs {proj} plan"
    lead = (
        f"The {place} {org} approved plans on {month} {day}, {year} for a new {proj}, "
        f"ending months of debate over its location and cost."
    )
    needle_sentence = (
        f"{role.capitalize()} {person} said the {proj} project, known internally as {code}, "
        f"would cost {amount} million dollars and be finished by {rng.choice(MONTHS)} {year + rng.randint(1, 4)}."
    )
    question = f"How much will the {proj} project {code} in {place} cost?"
    body = [lead]
    fillers = rng.sample(FILLER, k=min(len(FILLER), rng.randint(3, 14)))
    fillers = fillers + rng.sample(FILLER, k=rng.randint(0, 14)) if rng.random() < 0.3 else fillers
    insert_at = rng.randint(0, len(fillers))
    for i, template in enumerate(fillers):
        if i == insert_at:
            body.append(needle_sentence)
        body.append(
            template.format(
                p=place,
                org=org,
                proj2=proj2,
                n=rng.randint(2, 12),
                name=_person(rng),
                month=rng.choice(MONTHS),
                pct=rng.randint(3, 60),
                year=rng.randint(2005, 2020),
            )
        )
    if insert_at == len(fillers):
        body.append(needle_sentence)
    paragraphs, i = [], 0
    while i < len(body):
        step = rng.randint(1, 4)
        paragraphs.append(" ".join(body[i : i + step]))
        i += step
    name = f"synth-{index:06d}.md"
    published = f"{year}-{MONTHS.index(month) + 1:02d}-{day:02d}"
    text = f"---\ntitle: {title}\noutlet: The {place} Gazette\npublished: {published}\n---\n"
    text += "\n\n".join(paragraphs) + "\n"
    return SynthArticle(name, text, Needle(question, needle_sentence, name))


def generate(count: int, seed: int = 7) -> list[SynthArticle]:
    """`count` articles; the same seed always gives the same articles."""
    rng = random.Random(seed)
    return [make_article(i, rng) for i in range(count)]


def write_corpus(directory: Path, count: int, seed: int = 7) -> list[SynthArticle]:
    """Write the articles into `directory` (created); return them."""
    directory.mkdir(parents=True, exist_ok=True)
    articles = generate(count, seed)
    for a in articles:
        (directory / a.name).write_text(a.text, encoding="utf-8")
    return articles


def fill_records(records: Any, count: int) -> None:
    """`count` one-chunk articles written to the records only (no vectors): enough for anything that
    lists articles (the corpus panel). Article 1234 is about Glazer; every tenth is undated."""
    from rag.documents import Article, Chunk, chunk_id

    items = []
    for i in range(count):
        title = "Glazer takes control of Manchester United" if i == 1234 else f"Harbour story number {i:05d}"
        body = f"{title}. The council met on day {i} and discussed the harbour budget."
        article = Article(
            source=f"synthetic/{i:05d}.md",
            title=title,
            body=body,
            outlet="Gazette" if i % 2 else "Island Times",
            published=f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}" if i % 10 else None,
        )
        chunk = Chunk(chunk_id(article.source, article.content_hash, 0), article.source, 0, 0, len(body), body)
        items.append((article, [chunk]))
        if len(items) == 5000:  # one transaction per few thousand rows keeps memory flat at 100,000
            records.replace_articles(items, [])
            items = []
    records.replace_articles(items, [])
