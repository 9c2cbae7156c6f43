"""Shared fixtures: where the corpus is, how a test skips (or fails under CI) without it, and
how a test loads one of the project's scripts (docs generators, benchmark builders)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings

# Under CI the property tests run a fixed sequence of examples, so a run is repeatable; on a
# developer's machine they keep exploring new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = ROOT / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_script(path: Path) -> ModuleType:
    """A script of the project (not a package module) loaded as a module named after its file
    (registered in sys.modules: dataclasses look their module up)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def corpus_path(*parts: str) -> Path:
    """A path under ../shared/corpus; skips the test when the corpus is absent (fails in CI)."""
    p = CORPUS.joinpath(*parts)
    if not CORPUS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus missing at {CORPUS} (CI=true requires it)")
        pytest.skip(f"corpus not present at {CORPUS}")
    return p


def corpus_files(pattern: str, *parts: str) -> list[Path]:
    """Files under the corpus matching a glob (empty list when the corpus is absent).

    Use in ``pytest.mark.parametrize``; pair it with ``corpus_path`` inside the test so an
    absent corpus skips (or fails under CI) instead of silently parametrizing nothing.
    """
    base = CORPUS.joinpath(*parts)
    if not base.is_dir():
        return []
    return sorted(base.glob(pattern))


@pytest.fixture(scope="session", autouse=True)
def _corpus_required_in_ci() -> None:
    if os.environ.get("CI") == "true" and not CORPUS.is_dir():
        pytest.fail(f"corpus missing at {CORPUS}: CI=true requires ../shared/corpus")
