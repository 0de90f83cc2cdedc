"""Fine-tune the reranker: for each question, its candidate sentences form one list, and the model
learns to put the sentences that answer it above the others and above a fixed "none answers"
option at 0 (listwise softmax loss). A question that the articles do not answer teaches the other
side: every sentence below "none".

The top `tuned_layers` layers of the bundled MiniLM (all six by default) and the head change; the
word embeddings stay frozen and are read from the bundled model, so the shipped weights stay
small. Seeds are fixed: one command (`python -m bench.train_reranker`) rebuilds the shipped weights.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.answering.reranker import CrossEncoderModule, Reranker

log = logging.getLogger(__name__)

TUNED_LAYERS = 6
"""Layers fine-tuned (of six). Reading a question and a sentence together is a new task for the
embedder's layers: with only the top two tuned, 100 training questions put the answer first for
0.13 of held-out ones, with all six for 0.38 (dense similarity: 0.37). The word embeddings stay
frozen, so 21 MB of layers ship."""
EPOCHS = 2
"""Passes over the training lists (the shipped reranker: two over 338 lists). On two cores a pass
over half of the enlarged training set (820 lists, 350 of them near-topic traps) takes 24-30
minutes."""
LIST_SIZE = 24
"""Sentences per question and step: every answer sentence (up to `MAX_POSITIVES`), the rest sampled."""
MAX_POSITIVES = 4
LEARNING_RATE = 1e-4
HEAD_LEARNING_RATE = 2e-3
"""The head starts from nothing and needs larger steps than the pre-trained layers."""


@dataclass(frozen=True)
class RankingList:
    """One question's candidate sentences; `answers` indexes those that answer it (none: unanswerable)."""

    question: str
    sentences: tuple[str, ...]
    answers: frozenset[int]


def train_reranker(
    lists: Sequence[RankingList],
    *,
    tuned_layers: int = TUNED_LAYERS,
    epochs: int = EPOCHS,
    list_size: int = LIST_SIZE,
    seed: int = 0,
) -> Reranker:
    """Fine-tune a reranker on `lists` and return it (save with `reranker.module.save(dir)`)."""
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    module = CrossEncoderModule(tuned_layers)
    torch.nn.init.normal_(module.head.weight, std=0.02)
    torch.nn.init.zeros_(module.head.bias)
    tuned = module.tuned_parameters()
    for p in module.encoder.parameters():
        p.requires_grad_(False)  # frozen layers then keep no graph: their backward pass costs nothing
    for p in tuned.values():
        p.requires_grad_(True)
    head = [p for n, p in tuned.items() if n.startswith("head.")]
    layers = [p for n, p in tuned.items() if not n.startswith("head.")]
    optimizer = torch.optim.AdamW(
        [{"params": layers, "lr": LEARNING_RATE}, {"params": head, "lr": HEAD_LEARNING_RATE}], weight_decay=0.01
    )
    usable = [rl for rl in lists if rl.sentences]
    steps = max(1, epochs * len(usable))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / steps))
    module.encoder.train()
    for epoch in range(epochs):
        order = list(range(len(usable)))
        rng.shuffle(order)
        total = 0.0
        for i in order:
            sentences, positives = _sample(usable[i], list_size, rng)
            batch = module.encode_pairs(usable[i].question, sentences)
            logits = torch.cat([module.logits(batch), torch.zeros(1)])  # the last option: "none answers"
            log_probs = torch.log_softmax(logits, dim=0)
            target = positives if positives else [len(sentences)]
            loss = -torch.logsumexp(log_probs[target], dim=0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        log.info("reranker epoch %d: mean loss %.3f over %d questions", epoch + 1, total / len(usable), len(usable))
    module.encoder.eval()
    for p in tuned.values():
        p.requires_grad_(False)
    return Reranker(module)


def _sample(rl: RankingList, size: int, rng: random.Random) -> tuple[list[str], list[int]]:
    """The answer sentences (up to `MAX_POSITIVES`) and random others, shuffled; positions of the answers."""
    answers = sorted(rl.answers)
    rng.shuffle(answers)
    keep = answers[:MAX_POSITIVES]
    others = [i for i in range(len(rl.sentences)) if i not in rl.answers]
    keep += rng.sample(others, min(len(others), size - len(keep)))
    rng.shuffle(keep)
    return [rl.sentences[i] for i in keep], [n for n, i in enumerate(keep) if i in rl.answers]


def rank_of_first_answer(reranker: Reranker, lists: Sequence[RankingList]) -> list[int]:
    """For each list with an answer: the rank (0 = first) of its best-placed answer sentence."""
    return [first_answer_rank(reranker.score(rl.question, rl.sentences), rl.answers) for rl in lists if rl.answers]


def first_answer_rank(scores: np.ndarray, answers: frozenset[int]) -> int:
    """The rank (0 = first) of the best-scored of the `answers` among all `scores`."""
    order = list(np.argsort(-scores))
    return min(order.index(i) for i in answers)
