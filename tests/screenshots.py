"""Screenshots the browser tests take: full pages for debugging, and the docs' images."""

from __future__ import annotations

import io
from typing import Any

from tests.conftest import REPO

ARTIFACTS = REPO / "test-artifacts"
DOC_IMAGES = REPO / "docs" / "images"
MAX_HEIGHT = 900


def save_screenshots(page: Any, artifact: str, doc_image: str, element: str | None = None) -> None:
    """Save the full page into test-artifacts/, and into docs/images/ the first screen (or the top of
    `element`), in few colours so that the committed file stays small."""
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / artifact), full_page=True)
    if element is None:
        shot = page.screenshot()
    else:
        page.evaluate("window.scrollTo(0, 0)")
        box = page.locator(element).bounding_box()
        assert box is not None, f"{element} is not on the page"
        clip = {"x": box["x"], "y": box["y"], "width": box["width"], "height": min(box["height"], MAX_HEIGHT)}
        shot = page.screenshot(full_page=True, clip=clip)
    DOC_IMAGES.mkdir(parents=True, exist_ok=True)
    Image.open(io.BytesIO(shot)).convert("RGB").quantize(colors=64).save(DOC_IMAGES / doc_image, optimize=True)
