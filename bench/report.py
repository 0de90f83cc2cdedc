"""Summarise bench/results/*.json into bench/RESULTS.md and bench/results.png.

Usage: python -m bench.report
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.common import BENCH_DIR, RESULTS_DIR, read_result

HAND_WRITTEN = "<!-- Written by hand from here on: python -m bench.report keeps this part as it is. -->"
"""The line after which RESULTS.md is history written by hand, which a new report keeps."""


def load(name: str) -> dict[str, Any] | None:
    return read_result(name) or None


def bar_rows() -> list[tuple[str, str, str, bool | None]]:
    """(figure, bar, measured, met) for every bar of the benchmark issue."""
    rows: list[tuple[str, str, str, bool | None]] = []
    ing, q, cold, qual = load("ingest-1000"), load("query"), load("cold"), load("quality")
    rss = load("rss-100000")

    def add(figure: str, bar: str, value: Any, ok: bool | None) -> None:
        rows.append((figure, bar, "not measured" if value is None else str(value), ok if value is not None else None))

    if ing:
        add(
            "full ingest / raw encode of the same chunk texts (1,000 articles)",
            "<= 1.15",
            f"{ing['ratio_ours_over_raw']} ({ing['ours_s']} s / {ing['raw_encode_s']} s)",
            ing["ratio_ours_over_raw"] <= 1.15,
        )
        add(
            "full ingest / peer ingest, same articles",
            "<= 1.0",
            f"{ing['ratio_ours_over_peer']} ({ing['ours_s']} s / {ing['peer_s']} s)",
            ing["ratio_ours_over_peer"] <= 1.0,
        )
        add(
            "re-ingest unchanged / first ingest",
            "<= 0.03, 0 embeddings",
            f"{ing['ratio_reingest_over_first']} ({ing['reingest_s']} s, {ing['reingest_embeddings']} embeddings)",
            ing["ratio_reingest_over_first"] <= 0.03 and ing["reingest_embeddings"] == 0,
        )
    else:
        add("ingest bars", "", None, None)
    if q and "retrieval_10000" in q:
        r, p = q["retrieval_10000"], q.get("peer_similarity_search_10000")
        ratio = q.get("retrieval_over_peer_10k")
        add(
            "retrieval p50 at 10k chunks (warm)",
            "<= 30 ms and <= 1.5x peer",
            f"{r['p50_ms']} ms; peer {p['p50_ms'] if p else '?'} ms; ratio {ratio}",
            r["p50_ms"] <= 30 and (ratio is not None and ratio <= 1.5),
        )
        a = q.get("answer_10000")
        if a:
            add(
                "extractive answer() p50 / p95 at 10k chunks (warm)",
                "<= 150 / 300 ms",
                f"{a['p50_ms']} / {a['p95_ms']} ms",
                a["p50_ms"] <= 150 and a["p95_ms"] <= 300,
            )
        growth = q.get("retrieval_growth_1k_to_100k")
        add("retrieval p50 growth 1k -> 100k chunks", "<= 3x", growth, None if growth is None else growth <= 3)
    else:
        add("query bars", "", None, None)
    if cold:
        add(
            "cold `rag ask` / bare import + model load + one encode",
            "<= 1.3",
            f"{cold['ratio']} ({cold['rag_ask_median_s']} s / {cold['bare_median_s']} s)",
            cold["ratio"] <= 1.3,
        )
    add(
        "peak RSS answering at 100k chunks",
        "<= 1.5 GB",
        f"{rss['peak_rss_mb']} MB" if rss else None,
        None if not rss else rss["peak_rss_mb"] <= 1536,
    )
    if qual:
        d, n = qual["dev_set"], qual["needles"]
        add(
            "hit@3, dev set with distractors",
            ">= peer and >= 0.95",
            f"{d['ours']} (peer {d['peer']})",
            d["ours"] >= d["peer"] and d["ours"] >= 0.95,
        )
        add(
            "hit@3, 200 synthetic needles over 1,000 articles",
            ">= peer and >= 0.95",
            f"{n['ours']} (peer {n['peer']})",
            n["ours"] >= n["peer"] and n["ours"] >= 0.95,
        )
    archive = load("ingest-archive")
    if archive:
        add(
            "full ingest / peer ingest, BBC archive (2,226 real articles)",
            "<= 1.0",
            f"{archive['ratio_ours_over_peer']} ({archive['ours_s']} s for {archive['our_chunks']} chunks / "
            f"{archive['peer_s']} s for {archive['peer_chunks']})",
            archive["ratio_ours_over_peer"] <= 1.0,
        )
        add(
            "re-ingest of the unchanged archive",
            "0 embeddings",
            f"{archive['reingest_s']} s, {archive['reingest_embeddings']} embeddings",
            archive["reingest_embeddings"] == 0,
        )
    load_ask, load_api = load("load"), load("load-api")
    if load_ask:
        add(
            "load: 20 clients x 25 questions through `/ask`",
            "0 errors",
            f"{load_ask['errors']} errors, {load_ask['throughput_rps']} answers/s, p95 {load_ask['p95_ms']} ms",
            load_ask["errors"] == 0,
        )
    if load_api:
        for name, served in load_api["runs"].items():
            for kind in ("non_streamed", "streamed"):
                run = served[kind]
                ratio = served["throughput_over_reference"][kind]
                onnx = name.startswith("onnx")
                add(
                    f"load: 20 clients x 25 questions through `/v1/chat/completions`, `rag serve` {name}, "
                    f"{kind.replace('_', '-')}",
                    ">= 2x the PyTorch backend's answers/s, 0 errors" if onnx else "0 errors",
                    f"{run['errors']} errors, {run['throughput_rps']} answers/s ({ratio}x), p95 {run['p95_ms']} ms",
                    run["errors"] == 0 and (ratio >= 2.0 or not onnx),
                )
    rows += speed_rows()
    scale = load("scale_out")
    if scale:
        sqlite, postgres = scale["backends"]["sqlite"], scale["backends"]["postgres"]
        add(
            "retrieval p50, PostgreSQL records / SQLite records (BBC archive, same Chroma)",
            "<= 1.5",
            f"{scale['postgres_vs_sqlite_retrieval_p50']} ({postgres['retrieval']['p50_ms']} / "
            f"{sqlite['retrieval']['p50_ms']} ms)",
            scale["postgres_vs_sqlite_retrieval_p50"] <= 1.5,
        )
        add(
            "`rag eval` on the BBC dev set, PostgreSQL vs SQLite records",
            "identical",
            "identical" if scale["same_eval_figures"] else "different",
            scale["same_eval_figures"],
        )
        runs = scale["load"]
        add(
            "load: 20 clients x 25 questions split across two chat servers (Chroma server + PostgreSQL)",
            "0 errors",
            f"{runs['2_servers']['errors']} errors, {runs['2_servers']['throughput_rps']} answers/s vs "
            f"{runs['1_servers']['throughput_rps']} with one server ({scale['two_vs_one_server_throughput']}x "
            f"on {scale['cpus']} cores)",
            runs["2_servers"]["errors"] == 0 and runs["1_servers"]["errors"] == 0,
        )
    return rows


QUALITY_BARS = [
    # (figure key, label, bar text, test on the dev-set value)
    ("fact_accuracy", "fact accuracy", ">= 0.85", lambda v: v >= 0.85),
    ("support", "support", ">= 0.80", lambda v: v >= 0.80),
    ("citation_validity", "citation validity", "1.0", lambda v: v == 1.0),
    ("hit_at_4", "hit@4", ">= 0.96", lambda v: v >= 0.96),
    ("refused_near_topic", "near-topic refused", ">= 5/7", lambda v: int(v.split("/")[0]) >= 5),
    ("refused_off_topic", "off-topic refused", "3/3", lambda v: v == "3/3"),
    ("false_refusals", "false refusals", "<= 2/50", lambda v: int(v.split("/")[0]) <= 2),
    ("refusal_precision", "refusal precision", "", None),
    ("refusal_recall", "refusal recall", "", None),
    ("latency_p50_ms", "latency p50 in the eval run, ms", "", None),
    ("latency_p95_ms", "latency p95 in the eval run, ms", "", None),
]


def quality_lines() -> list[str]:
    """The answer-quality section: train CV beside the dev test set, the seed dev set, the ablation."""
    aq, local, rr = load("answer_quality"), load("answer_quality_local"), load("reranker")
    if not aq or "bbc_dev_test" not in aq:
        return []
    cv, dev, seed = aq["bbc_train_cross_validated_2_fold"], aq["bbc_dev_test"], aq["seed_dev"]
    lines = [
        "",
        "## Answer quality",
        "",
        "`python -m bench.train_reranker`, then `python -m bench.answer_quality`. Archive of 2,225 BBC articles",
        "+ the seed indexed. Everything is fitted and chosen on bbc_train.jsonl (348 questions): its column is",
        "2-fold cross-validated (each half answered by a selector and a reranker fitted on the other half only).",
        "bbc_dev.jsonl (60 questions) is the test set, answered once by the shipped selector and reranker,",
        "fitted on all of bbc_train; it chose nothing. The bars are on the test set.",
        "",
        "| figure | bar | bbc_train, cross-validated | bbc_dev, test | met (test) |",
        "|---|---|---|---|---|",
    ]
    for key, label, bar, test in QUALITY_BARS:
        met = "" if test is None else ("yes" if test(dev[key]) else "no")
        lines.append(f"| {label} | {bar} | {cv[key]} | {dev[key]} | {met} |")
    latency = aq.get("answer_latency_bbc_dev")
    if latency:
        ok = "yes" if latency["p50_ms"] <= 250 and latency["p95_ms"] <= 400 else "no"
        lines.append(
            f"| extractive answer() p50 / p95 at BBC scale, warm, ms | <= 250 / <= 400 | | "
            f"{latency['p50_ms']} / {latency['p95_ms']} | {ok} |"
        )
    lines += [
        "",
        "On bbc_train the answer sentence is among the candidates read for "
        f"{aq['train_answer_sentence_among_candidates']} of the answerable questions.",
    ]
    if rr:
        lines += [
            "",
            "Reranker (`bench/results/reranker.json`), on the held-out half of bbc_train, given the candidates",
            "`answer()` reads: how often an answer sentence is ranked first / among the first three.",
            "",
            "| fold | reranker first | reranker top 3 | dense similarity first | dense top 3 | training, s |",
            "|---|---|---|---|---|---|",
        ]
        for n, f in enumerate(rr["folds"]):
            r, d = f["reranker_held_out"], f["dense_held_out"]
            lines.append(f"| {n} | {r['first']} | {r['top3']} | {d['first']} | {d['top3']} | {f['train_seconds']} |")
    lines += [
        "",
        "| seed dev set (distractors indexed) | shipped selector (fitted on bbc_train) |",
        "|---|---|",
    ]
    for key, label, _, _ in QUALITY_BARS:
        lines.append(f"| {label} | {seed[key]} |")
    if local:
        run = f"one run ({local['recorded']}, with the earlier selector)"
        lines += ["", f"`local` answerer (SmolLM2-135M) over the BBC dev set, {run}:", ""]
        lines += ["| figure | local | extractive |", "|---|---|---|"]
        for key, label, _, _ in QUALITY_BARS:
            lines.append(f"| {label} | {local['overall'].get(key, 'n/a')} | {dev[key]} |")
        lines.append(f"| answered by | {local['overall'].get('answered_by')} | extractive |")
    ablation = aq.get("ablation_bbc_train_cross_validated")
    if ablation:
        lines += [
            "",
            "Ablation on bbc_train, cross-validated: feature groups of the sentence selector left out in turn",
            "(300 answerable questions: one question is 0.0033).",
            "",
            "| left out | facts | support | hit@4 | near-topic refused | off-topic refused | false refusals |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, v in ablation.items():
            lines.append(
                f"| {name} | {v['fact_accuracy']} | {v['support']} | {v['hit_at_4']} | "
                f"{v['refused_near_topic']} | {v['refused_off_topic']} | {v['false_refusals']} |"
            )
    weights = ", ".join(f"{k} {v}" for k, v in aq["weights"].items())
    lines += ["", f"Selector weights (standardised features): {weights}."]
    a = aq.get("answerability") or {}
    if a.get("weights"):
        answer_weights = ", ".join(f"{k} {v}" for k, v in a["weights"].items())
        lines += [
            "",
            f"Answerability weights (the four question features; shipped in answerability.json; the model "
            f"that also reads the reranker's reading, under Answerability, is measured, not shipped): "
            f"{answer_weights}; refusal below probability {a['threshold']}.",
        ]
    return lines


def speed_rows() -> list[tuple[str, str, str, bool | None]]:
    """The bars of the ONNX backend: each a ratio measured in one `bench.speed` run."""
    speed = load("speed")
    if not speed:
        return []
    rows: list[tuple[str, str, str, bool | None]] = []
    for key, what in (("ingest_200_synthetic", "200 synthetic articles"), ("ingest_archive", "the BBC archive")):
        if key not in speed:
            continue
        run = speed[key]
        for backend in ("onnx", "torch"):
            b = run[backend]
            rows.append(
                (
                    f"whole-process `rag ingest` / peer, {what}, {backend} backend",
                    "<= 0.6 (onnx)" if backend == "onnx" else "context",
                    f"{b['ratio_over_peer']} ({b['ingest_s']} s / {run['peer_s']} s)",
                    b["ratio_over_peer"] <= 0.6 if backend == "onnx" else None,
                )
            )
        earlier = speed.get(f"{key}_earlier_runs")
        if earlier:  # runs before a change that the latest includes: shown, so no run is hidden
            figure, bar, measured, met = rows[-2]
            by_note: dict[str, list[str]] = {}
            for r in earlier:
                by_note.setdefault(r["note"], []).append(str(r["onnx"]["ratio_over_peer"]))
            shown = "; ".join(f"{', '.join(ratios)} ({note})" for note, ratios in by_note.items())
            rows[-2] = (figure, bar, f"{measured}; earlier runs: {shown}", met)
        b = run["onnx"]
        rows.append(
            (
                f"unchanged re-ingest / first, {what}, onnx backend (whole process)",
                "<= 0.1",
                f"{b['reingest_ratio']} ({b['reingest_s']} s)",
                b["reingest_ratio"] <= 0.1,
            )
        )
    if "parity_archive" in speed:
        p = speed["parity_archive"]
        rows.append(
            (
                "mean cosine, onnx vs torch vectors of the same archive chunks",
                ">= 0.99",
                f"{p['mean_cosine']} (min {p['min_cosine']}, {p['chunks']} chunks)",
                p["mean_cosine"] >= 0.99,
            )
        )
    if "answer_latency_bbc_dev" in speed:
        a = speed["answer_latency_bbc_dev"]
        rows.append(
            (
                "warm extractive answer() p50 at BBC scale, onnx / torch",
                "<= 0.6",
                f"{a['p50_ratio_onnx_over_torch']} ({a['onnx']['p50_ms']} / {a['torch']['p50_ms']} ms; "
                f"p95 {a['onnx']['p95_ms']} / {a['torch']['p95_ms']} ms)",
                a["p50_ratio_onnx_over_torch"] <= 0.6,
            )
        )
    if "cold_rag_ask" in speed:
        c = speed["cold_rag_ask"]
        rows.append(
            (
                "cold `rag ask` (fresh process) on the BBC archive, onnx / torch",
                "<= 0.8",
                f"{c['ratio_onnx_over_torch']} ({c['onnx']['median_s']} s / {c['torch']['median_s']} s)",
                c["ratio_onnx_over_torch"] <= 0.8,
            )
        )
    return rows


def serving_rows() -> list[tuple[str, str, str, bool | None]]:
    """The serving bars at BBC scale: one warm client (`bench.profile`), 20 clients (`bench.load_archive`)."""
    rows: list[tuple[str, str, str, bool | None]] = []
    profile, load_ = load("profile"), load("load-archive")
    if profile:
        for key, how in (("answer", "`answer()`"), ("api", "`/v1/chat/completions`, one connection")):
            a = profile[key]
            rows.append(
                (
                    f"one warm client at BBC scale, extractive, via {how}: p50 / p95",
                    "<= 100 / 200 ms",
                    f"{a['p50_ms']} / {a['p95_ms']} ms",
                    a["p50_ms"] <= 100 and a["p95_ms"] <= 200,
                )
            )
        compared = profile.get("compared")
        if compared:
            base = next(name for name in compared if not name.startswith("current"))
            c = compared["current"]
            rows.append(
                (
                    f"answer() p50 / p95 over the same questions, this code / {base}'s, alternating fresh processes",
                    "context",
                    f"{c['p50_over_baseline']} / {c['p95_over_baseline']} "
                    f"({c['p50_ms']} / {compared[base]['p50_ms']} ms)",
                    None,
                )
            )
    if load_:
        for name, run in load_["runs"].items():
            how = "the chat's `/ask`" if name == "chat-ask" else f"`/v1/chat/completions`, `rag serve` {name}"
            api = name != "chat-ask" and name.startswith("current")
            baseline = name != "chat-ask" and not api
            rows.append(
                (
                    f"load at BBC scale: {load_['clients']} clients x {load_['questions_per_client']} different "
                    f"questions through {how}",
                    ">= 15 answers/s, p95 <= 2 s, 0 errors" if api else "context" if baseline else "0 errors",
                    f"{run['errors']} errors, {run['throughput_rps']} answers/s, p95 {run['p95_ms']} ms",
                    (run["errors"] == 0 and run["throughput_rps"] >= 15 and run["p95_ms"] <= 2000)
                    if api
                    else None
                    if baseline
                    else run["errors"] == 0,
                )
            )
    return rows


def profile_lines() -> list[str]:
    """Where one warm answer's time goes, stage by stage, with the encoder passes beside (`bench.profile`)."""
    profile = load("profile")
    if not profile:
        return []
    p = profile["profile"]
    lines = [
        "",
        "## Where an answer's time goes",
        "",
        f"`python -m bench.profile`: {p['answers']} bbc_dev questions over the {profile['index']}, warm, "
        "one client; each stage's own time per answer (time in its functions less the stages they call).",
        "",
        "| stage | ms per answer |",
        "|---|---|",
    ]
    lines += [f"| {stage} | {ms} |" for stage, ms in p["stages_ms"].items()]
    lines += [
        f"| {stage} (in another thread, beside the question's embedding) | {ms} |"
        for stage, ms in p["beside_ms"].items()
    ]
    lines += [
        f"| **answer** | **{p['answer_ms']}** |",
        f"| of which the encoder passes alone (ONNX Runtime's run: the floor) | {p['encoder_passes_ms']} |",
        f"| of which everything else | {p['above_encoder_passes_ms']} |",
        f"| token positions the encoder passes read per answer (padding included) | {p['encoder_tokens_per_answer']} |",
        f"| encoder time per token position, ms | {p['encoder_ms_per_token']} |",
        f"| the API layer (`/v1/chat/completions`, client mean less the server's answer time) | "
        f"{profile['api']['api_layer_ms']} |",
    ]
    return lines


def answerability_lines() -> list[str]:
    """Answerability models with and without the reranker's reading, held out on the unseen training
    questions (`bench.train_answerability`): traps refused per kind at the policy's share of answerable ones."""
    trained = load("train_answerability")
    if not trained:
        return []
    kinds = ("later", "premise", "undisclosed", "off-topic")
    lines = [
        "",
        "## Answerability",
        "",
        f"`python -m bench.train_answerability`: the {trained['rows']} bbc_train questions that retrieval lets "
        "through, of the writers the shipped reranker and selector were not fitted on, answered by the shipped "
        "pipeline; models fitted without each "
        "question's article (5 folds, repeated). Share refused of each kind at 2% / 3% of answerable questions "
        "refused.",
        "",
        "| model | AUC (answerable vs near-topic) | " + " | ".join(kinds) + " |",
        "|---|---|" + "---|" * len(kinds),
    ]
    for name, figures in trained.items():
        if not isinstance(figures, dict) or "auc_answerable_vs_near_topic" not in figures:
            continue
        at2, at3 = figures["refused_at_2%_of_answerable"], figures["refused_at_3%_of_answerable"]
        cells = " | ".join(f"{at2[k]} / {at3[k]}" for k in kinds)
        lines.append(f"| {name} | {figures['auc_answerable_vs_near_topic']} | {cells} |")
    whole = trained["pipeline_held_out"]
    lines += [
        "",
        f"With the reading (not shipped: see `bench/train_answerability.py`), its ridge penalty "
        f"{trained['chosen_penalty']:g}, refusal below probability {trained['threshold']}: the whole pipeline, "
        "each question judged by a model fitted without "
        f"its article: facts {whole['fact_accuracy']}, answerable refused {whole['refused_answerable']}, "
        f"traps refused: later {whole['refused_later']}, premise {whole['refused_premise']}, undisclosed "
        f"{whole['refused_undisclosed']}; off-topic {whole['refused_off-topic']}.",
    ]
    alone = trained.get("pipeline_held_out_question_features_only")
    if alone:
        lines[-1] += (
            f" The four question features refitted on the same rows, held out alike: facts {alone['fact_accuracy']}, "
            f"answerable refused {alone['refused_answerable']}, traps refused: later {alone['refused_later']}, "
            f"premise {alone['refused_premise']}, undisclosed {alone['refused_undisclosed']}; off-topic "
            f"{alone['refused_off-topic']}."
        )
    return lines


def plot(path: Path) -> bool:
    ing, q = load("ingest-1000"), load("query")
    if not ing and not q:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    speed = load("speed")
    fig, axes = plt.subplots(1, 3 if speed else 2, figsize=(16 if speed else 11, 4))
    if speed:
        plot_backends(axes[2], speed)
    if ing:
        names = ["raw encode", "newsrag", "peer (LangChain tutorial)"]
        values = [ing["raw_encode_s"], ing["ours_s"], ing["peer_s"]]
        axes[0].bar(names, values, color=["#9ca3af", "#2563eb", "#f59e0b"])
        axes[0].set_title(f"Ingest of {ing['articles']} articles (s, lower is better)")
        for i, v in enumerate(values):
            axes[0].text(i, v, f"{v:.1f}", ha="center", va="bottom")
    if q:
        sizes = [s for s in (1000, 10000, 100000) if f"retrieval_{s}" in q]
        axes[1].plot(
            sizes, [q[f"retrieval_{s}"]["p50_ms"] for s in sizes], "o-", label="newsrag retrieval p50", color="#2563eb"
        )
        if "answer_10000" in q:
            axes[1].plot([10000], [q["answer_10000"]["p50_ms"]], "s", label="newsrag answer() p50", color="#16a34a")
        if "peer_similarity_search_10000" in q:
            axes[1].plot(
                [10000],
                [q["peer_similarity_search_10000"]["p50_ms"]],
                "^",
                label="peer similarity_search p50",
                color="#f59e0b",
            )
        axes[1].set_xscale("log")
        axes[1].set_xlabel("chunks in the index")
        axes[1].set_ylabel("ms")
        axes[1].set_title("Warm query latency")
        axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def plot_backends(ax: Any, speed: dict[str, Any]) -> None:
    """Each backend's time as a share of the PyTorch backend's, measured in one run (lower is better)."""
    figures = []
    for key, label in (("ingest_200_synthetic", "ingest 200"), ("ingest_archive", "ingest BBC")):
        if key in speed:
            run = speed[key]
            figures.append((label, run["onnx"]["ingest_s"], run["torch"]["ingest_s"], run["peer_s"]))
    if "answer_latency_bbc_dev" in speed:
        a = speed["answer_latency_bbc_dev"]
        figures.append(("answer p50", a["onnx"]["p50_ms"], a["torch"]["p50_ms"], None))
    if "cold_rag_ask" in speed:
        c = speed["cold_rag_ask"]
        figures.append(("cold ask", c["onnx"]["median_s"], c["torch"]["median_s"], None))
    xs = range(len(figures))
    ax.bar([x - 0.27 for x in xs], [f[1] / f[2] for f in figures], 0.27, label="onnx (int8)", color="#2563eb")
    ax.bar(list(xs), [1.0] * len(figures), 0.27, label="torch (fp32)", color="#9ca3af")
    peers = [(x + 0.27, f[3] / f[2]) for x, f in zip(xs, figures, strict=True) if f[3]]
    if peers:
        ax.bar([p[0] for p in peers], [p[1] for p in peers], 0.27, label="peer (LangChain tutorial)", color="#f59e0b")
    ax.set_xticks(list(xs), [f[0] for f in figures])
    ax.set_ylabel("time / torch backend's")
    ax.set_title("Backends, one run (lower is better)")
    ax.set_ylim(0, 1.45)  # room for the legend above the bars
    ax.legend(fontsize=8, ncols=3, loc="upper center")


def kept_history(path: Path) -> list[str]:
    """The hand-written part of an existing RESULTS.md, from its marker line on (none if absent)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    start = text.find(HAND_WRITTEN)
    return [] if start < 0 else ["", *text[start:].rstrip("\n").split("\n")]


def main() -> None:
    rows = bar_rows() + serving_rows()
    has_plot = plot(BENCH_DIR / "results.png")
    lines = [
        "# Benchmark results",
        "",
        "Produced by `python -m bench.report` from `bench/results/*.json` (each benchmark's command is in its",
        "JSON file's name: `python -m bench.<name>`; `make bench` runs them all). One run on a 2-core",
        "machine: ratios measured within one run count, absolute times are context. How the figures",
        "came about, earlier runs, and the ideas tried and left: [Measurement history](#measurement-history).",
        "",
    ]
    if has_plot:
        lines += ["![ingest time and query latency](results.png)", ""]
    lines += ["| figure | bar | measured | met |", "|---|---|---|---|"]
    for figure, bar, measured, ok in rows:
        lines.append(f"| {figure} | {bar} | {measured} | {'yes' if ok else 'no' if ok is False else 'n/a'} |")
    recorded = [
        f"`{path.stem}` {json.loads(path.read_text()).get('recorded', '?')}"
        for path in sorted(RESULTS_DIR.glob("*.json"))
    ]
    lines += ["", "Each row comes from the latest run of its benchmark, recorded: " + ", ".join(recorded) + "."]
    lines += profile_lines()
    lines += quality_lines()
    lines += answerability_lines()
    for extra in (
        "profile",
        "load-archive",
        "scale_out",
        "load",
        "load-api",
        "rss-100000",
        "cold",
        "query",
        "ingest-1000",
        "ingest-archive",
        "quality",
        "feeds",
        "corpus_panel",
        "lede_by_writer",
        "properties",
        "speed",
    ):
        data = load(extra)
        if data:
            lines += ["", f"## {extra}", "", "```json", json.dumps(data, indent=2), "```"]
    lines += kept_history(BENCH_DIR / "RESULTS.md")
    (BENCH_DIR / "RESULTS.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:20]))


if __name__ == "__main__":
    main()
