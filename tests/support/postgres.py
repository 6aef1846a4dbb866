"""A PostgreSQL server for the tests of the PostgreSQL store (SPEC §13).

Where the server comes from, in order:

1. ``AGENTMARKET_TEST_PG_URL``: a server someone started (``.ci/run`` does, see ``.ci/postgres.sh``);
2. a throwaway cluster this process starts with Debian's ``initdb``/``pg_ctl`` when they are
   installed, stopped when the tests end;
3. none: the PostgreSQL half is skipped, with the reason, on a developer's machine. Under CI
   (``CI`` set) it fails instead, so CI never skips it silently.

Each test gets a database of its own (:func:`fresh_database`), created from ``template0`` and
dropped afterwards, so tests run in parallel on one server without seeing each other.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

URL_VARIABLE = "AGENTMARKET_TEST_PG_URL"


def _unavailable(reason: str) -> None:
    """Skip the PostgreSQL half, or fail it under CI."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL half cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL half skipped: {reason} (set {URL_VARIABLE} or install Debian's postgresql)")


def _bindir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return candidates[-1].parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_owner(command: list[str]) -> list[str]:
    """Run as ``postgres`` when we are root: initdb and postgres refuse to run as root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def throwaway_server() -> Iterator[str]:
    """Start a PostgreSQL cluster in a temporary directory; yield its URL; stop and remove it.

    Raises:
        RuntimeError: the binaries are missing or the server would not start.
    """
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError("initdb was not found under /usr/lib/postgresql")
    data = Path(tempfile.mkdtemp(prefix="agentmarket-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = _free_port()
    run = lambda *args: subprocess.run(_as_owner(list(args)), check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run(str(bindir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        run(str(bindir / "pg_ctl"), "-D", str(data / "db"), "-l", str(data / "server.log"), "-w",
            "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off",
            "start")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(data, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {(exc.stderr or exc.stdout).strip()}") from exc
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the URL of a running PostgreSQL server's maintenance database, or skip/fail (see module)."""
    url = os.environ.get(URL_VARIABLE)
    if url:
        yield url
        return
    if _bindir() is None:
        _unavailable("no PostgreSQL server is installed")
    try:
        with throwaway_server() as started:
            yield started
    except RuntimeError as exc:
        _unavailable(str(exc))


def _admin_connect(server_url: str):  # type: ignore[no-untyped-def]
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[postgres]')")
    return psycopg.connect(server_url, autocommit=True)


def database_url(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url``."""
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the server; yield its URL; drop it afterwards."""
    name = f"t_{uuid.uuid4().hex[:20]}"
    with _admin_connect(server_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
    try:
        yield database_url(server_url, name)
    finally:
        with _admin_connect(server_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
