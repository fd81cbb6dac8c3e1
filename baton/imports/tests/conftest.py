import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def datasets_dir() -> Path:
    return Path(os.environ.get("BATON_DATASETS") or (REPO / ".." / "shared" / "datasets")).resolve()


def dataset(rel: str) -> Path:
    """The dataset file, or a visible skip — a failure under CI=true, where every dataset must be present."""
    path = datasets_dir() / rel
    if not path.exists():
        msg = f"dataset missing: {path} (set BATON_DATASETS)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " — CI=true forbids skipping dataset tests")
        pytest.skip(msg)
    return path


@pytest.fixture(autouse=True)
def _english():
    """These tests read the row errors' English wording; a Chinese user gets them translated."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def importer(db):
    from baton.core.testing import factories as f

    return f.user(roles=("ops",), language="en")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
