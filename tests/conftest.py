"""Test set-up: a throw-away BIENESTAR_HOME (and with it AIRFLOW_HOME) for the whole session.

Airflow reads its configuration when first imported, so the environment is set here, at collection time,
before any test module can import it.
"""

import os
import tempfile
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="bienestar-tests-"))
os.environ["BIENESTAR_HOME"] = str(_HOME)
os.environ.pop("BIENESTAR_CITY", None)
os.environ.pop("BIENESTAR_CITIES", None)
os.environ.pop("BIENESTAR_PSEUDONYM_KEY", None)

from bienestar.runner import configure_airflow  # noqa: E402

configure_airflow()


@pytest.fixture(scope="session")
def bienestar_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB (SQLite) migrated once per session, with every city's pools."""
    from bienestar.orchestration import deployed_cities
    from bienestar.runner import prepare_metadata_db

    prepare_metadata_db(deployed_cities())
