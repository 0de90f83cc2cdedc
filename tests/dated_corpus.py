"""A dated test corpus: a bridge repair story updated over three days, inspections of different
months, articles of two outlets, and undated articles."""

from __future__ import annotations

import json
from pathlib import Path

ARTICLES = {
    "bridge-monday.md": (
        {"title": "Bridge repairs to cost 2 million", "outlet": "Harbour Gazette", "published": "2026-03-02"},
        "Engineers estimated the repair bill for the Marlow swing bridge at 2 million euros on Monday. "
        "The bridge has been stuck open since a storm damaged its turning gear last week. "
        "Council engineer Priya Raman said repairs would start within a month.",
    ),
    "bridge-wednesday.md": (
        {"title": "Marlow bridge repair bill rises", "outlet": "Harbour Gazette", "published": "2026-03-04"},
        "The repair bill for the Marlow swing bridge is now expected to reach 3.5 million euros, the council said "
        "on Wednesday, after inspectors found corrosion in the bridge's main bearing. "
        "Council engineer Priya Raman said the bridge would stay closed for at least eleven weeks. "
        "Buses will be diverted over the Dock Road crossing while the work goes on.",
    ),
    "bridge-reopening.md": (
        {"title": "Bridge works timetable set", "outlet": "Island Times", "published": "2026-03-09"},
        "The council set a timetable for the Marlow swing bridge works on Monday, with reopening planned for June. "
        "Contractors from Ferrovia Marine will replace the turning gear and the main bearing. "
        "Shop owners on Quay Street said the closure was already costing them trade.",
    ),
    "pier-inspection.md": (
        {"title": "Pier inspection findings", "outlet": "Island Times", "published": "2025-11-12"},
        "Inspectors who examined the Kestrel Point ferry pier found cracks in two of its support columns, the "
        "harbour authority said. The pier stays open to foot passengers while the columns are assessed. "
        "A full report is due before the spring timetable starts.",
    ),
    "roof-inspection.md": (
        {"title": "Library roof inspection findings", "outlet": "Harbour Gazette", "published": "2026-02-10"},
        "Inspectors who examined the central library roof found loose slates above the reading room, the city "
        "said. The reading room is closed until the slates are fixed. Repairs are expected to take two weeks.",
    ),
    "ferry-fares.md": (
        {"title": "Ferry fares rise", "outlet": "Island Times"},
        "Ferry fares on the Kestrel Point route will rise by 4 percent from April, the operator said. "
        "A return ticket for adults will cost 9 euros 40. Season tickets are not affected this year.",
    ),
    "choir.md": (
        {"title": "Harbour choir wins award"},
        "The Harbour Singers choir won the regional choral award in Galway on Saturday. "
        "Conductor Aoife Lyons said the choir had rehearsed twice a week since September.",
    ),
}
UNDATED = 2


def write_dated_corpus(corpus: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for name, (front, body) in ARTICLES.items():
        header = "".join(f"{k}: {json.dumps(v)}\n" for k, v in front.items())
        (corpus / name).write_text(f"---\n{header}---\n{body}\n", encoding="utf-8")
