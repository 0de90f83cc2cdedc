"""Off-topic questions of kinds the training set lacks, over the BBC archive: how many are refused.

bbc_train's off-topic questions are cooking, gardening and coding how-tos. These 25 (arithmetic,
general knowledge, science, how-to) were written to measure refusal on other kinds; nothing is
fitted or chosen on them. Each answered one is listed with its best passage's similarity and the
start of its answer, to show what it rode on.

Usage: python -m bench.off_topic [--shared ../shared]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import REPO, archive_index, write_result

QUESTIONS = (
    "What is 17 times 23?",
    "What is the square root of 144?",
    "How do I convert Celsius to Fahrenheit?",
    "What is the capital of Australia?",
    "How many legs does a spider have?",
    "What is the boiling point of water at sea level?",
    "How do I make a sourdough starter?",
    "What temperature should I bake bread at?",
    "How do I reset my router password?",
    "How do I center a div in CSS?",
    "What is the difference between a list and a tuple in Python?",
    "How do I change a flat tyre on a bicycle?",
    "What is the chemical symbol for gold?",
    "How long does it take to walk a marathon?",
    "Which planet is closest to the sun?",
    "What is photosynthesis?",
    "How do I get red wine out of a carpet?",
    "What rhymes with orange?",
    "How should I water a cactus?",
    "What is the best way to learn the guitar?",
    "Who wrote Pride and Prejudice?",
    "How many bones are in the human body?",
    "What is the speed of light?",
    "How do I tie a bowline knot?",
    "What is a good name for a pet goldfish?",
)


def main(shared: Path) -> None:
    from rag.api import answer

    settings, store = archive_index(shared)
    answered = []
    for question in QUESTIONS:
        result = answer(question, settings=settings, store=store)
        if not result.refused:
            best = max((p.score for p in result.passages), default=0.0)
            answered.append({"question": question, "best_passage": round(best, 3), "answer": result.text[:120]})
    write_result("off_topic", {"refused": f"{len(QUESTIONS) - len(answered)}/{len(QUESTIONS)}", "answered": answered})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    main(parser.parse_args().shared)
