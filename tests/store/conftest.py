"""The store fixtures: one contract suite over every backend.

PostgreSQL is real: ``scripts/test.sh`` starts a throw-away cluster and exports
``VOICEROOM_TEST_POSTGRES_URL``. Each test gets its own schema in it (dropped afterwards).
Without the variable the PostgreSQL cases skip, saying why, except under ``CI=true``, where
a missing database is a failure: the suite must not pass by not running.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from voiceroom.store import Store, open_store

PG_ENV = "VOICEROOM_TEST_POSTGRES_URL"


def postgres_url() -> str:
    """The test cluster's URL, or skip (fail under CI)."""
    url = os.environ.get(PG_ENV)
    if not url:
        reason = f"{PG_ENV} is not set: run scripts/test.sh, which starts a real PostgreSQL"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    return url


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A fresh, empty schema in the test cluster; its URL pins search_path to it."""
    base = postgres_url()
    schema = f"t_{secrets.token_hex(6)}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


BACKENDS = ("memory", "sqlite", "postgresql")


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    if kind == "memory":
        url = "memory"
    elif kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_schema_url")
    store = open_store(url)
    store.upgrade()
    return store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = make_store(request.param, tmp_path, request)
    yield s
    s.close()


@pytest.fixture(params=("sqlite", "postgresql"))
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("pg_schema_url")
    return url
