"""Shared fixtures: the offline checkpoints and the shared sample data beside the repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA_DIR = SHARED / "data"
BUILD_SCRIPT = SHARED / "tools" / "offline-models" / "build.sh"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _models_dir() -> Path:
    return Path(os.environ.get("XBENCH_OFFLINE_MODELS", REPO / ".cache" / "offline-models"))


@pytest.fixture(scope="session")
def offline_models() -> Path:
    """Folder holding tiny-xlmr, tiny-xlmr-fullvocab and the multilingual-e5-small checkpoints.

    Built once with ../shared/tools/offline-models/build.sh (it is a no-op when complete).
    """
    out = _models_dir()
    if not (out / ".complete-v1").exists():
        if not BUILD_SCRIPT.exists():
            pytest.fail(f"offline model builder missing: {BUILD_SCRIPT}")
        env = dict(os.environ, PY=sys.executable)
        subprocess.run(["bash", str(BUILD_SCRIPT), str(out)], check=True, env=env)
    return out


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real sample data in XTREME's download layout (../shared/data)."""
    if not DATA_DIR.exists():
        pytest.fail(f"shared sample data missing: {DATA_DIR}")
    return DATA_DIR


@pytest.fixture()
def fixtures_dir() -> Path:
    return FIXTURES
