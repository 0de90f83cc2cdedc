"""Every module of the installed packages imports: no missing dependency waits for a user to find it."""

import importlib
import pkgutil

import pytest

import ingest
import rag
import ui

MODULES = sorted(
    name
    for package in (rag, ingest, ui)
    for _, name, _ in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
    if not name.endswith("__main__")  # runs the command line when imported
)


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_every_package_module_is_listed() -> None:
    assert {"rag.api", "rag.answering.selection", "ingest.watch", "ui.app"} <= set(MODULES)
