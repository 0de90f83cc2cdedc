"""The chat page's weight against the archive's size: page load, opening the Corpus panel, the
page's height, and the bytes of the panel's data, with 10, 2,226 and 100,000 articles (records
filled synthetically: the panel reads the records only) and with the BBC archive itself when it is
indexed under bench/data/archive.

Usage: python -m bench.corpus_panel   (needs Debian's chromium; RAG_CHROMIUM to point elsewhere)
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from typing import Any

from bench.common import DATA_DIR, write_result
from bench.synth import fill_records

CHROMIUM = os.environ.get("RAG_CHROMIUM", "/usr/bin/chromium")
SIZES = (10, 2226, 100_000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(settings: Any, browser: Any) -> dict[str, Any]:
    from ui.app import build_app, launch

    settings = settings.with_overrides(ui_port=_free_port())
    app = build_app(settings, examples=())
    launch(app, settings, block=False)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        started = time.perf_counter()
        page.goto(f"http://127.0.0.1:{settings.ui_port}/")
        page.wait_for_selector("#question textarea")
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        page.click("#corpus >> text=Corpus")
        page.wait_for_selector("#corpus-table tbody tr", state="visible", timeout=120_000)
        opened = time.perf_counter() - started
        height = page.evaluate("document.documentElement.scrollHeight")
        rows = page.locator("#corpus-table tbody tr").count()
        table_bytes = page.evaluate("document.querySelector('#corpus-table').innerHTML.length")
        page.close()
    finally:
        app.close()
    return {
        "page_load_s": round(loaded, 3),
        "open_panel_s": round(opened, 3),
        "page_height_px": height,
        "rows_in_page": rows,
        "table_html_chars": table_bytes,
    }


def main() -> None:
    from playwright.sync_api import sync_playwright

    from rag.config import Settings
    from rag.records import open_records

    results: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        for size in SIZES:
            root = DATA_DIR / f"panel-{size}"
            shutil.rmtree(root, ignore_errors=True)
            (root / "corpus").mkdir(parents=True)
            settings = Settings(corpus_dir=root / "corpus", data_dir=root / "data", collection="bench")
            started = time.perf_counter()
            fill_records(open_records(settings), size)
            filled = time.perf_counter() - started
            results[f"synthetic_{size}"] = measure(settings, browser) | {"records_filled_s": round(filled, 1)}
        archive = DATA_DIR / "archive"
        if (archive / "data").is_dir():
            settings = Settings(corpus_dir=archive / "corpus", data_dir=archive / "data")
            results["bbc_archive"] = measure(settings, browser)
        browser.close()
    write_result("corpus_panel", results)


if __name__ == "__main__":
    main()
