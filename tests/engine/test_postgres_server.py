"""The PostgreSQL half has a real server: CI starts one (.ci/run), developers get a throwaway one."""

from __future__ import annotations

import psycopg
import pytest


def test_each_test_gets_an_empty_database_of_its_own(postgres_url: str, postgres_server_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] != "postgres"
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
    with psycopg.connect(postgres_server_url) as conn:
        assert conn.execute("SHOW server_version_num").fetchone()[0] >= "150000"


@pytest.mark.parametrize("round_", [1, 2])
def test_databases_are_not_shared_between_tests(postgres_url: str, round_: int) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE marker (n integer)")  # would fail if the other round's table were here
