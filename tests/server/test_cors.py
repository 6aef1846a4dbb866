"""CORS: browsers from allowed origins only; off by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.config import load_config
from engine.errors import ValidationError
from tests.support.server import RunningServer, running_server

from .conftest import assert_error

ALLOWED = "https://app.example.com"
PREFLIGHT = {"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "x-api-key, content-type"}


@pytest.fixture
def cors_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    monkeypatch.setenv("AGENTMARKET_CORS_ORIGINS", f"{ALLOWED}, http://localhost:5173")
    with running_server(tmp_path / "market.db") as server:
        yield server


def test_off_by_default(tmp_path: Path) -> None:
    with running_server(tmp_path / "market.db") as served:
        answer = httpx.get(f"{served.url}/api/stats", headers={"Origin": ALLOWED})
        assert answer.status_code == 200
        assert not [h for h in answer.headers if h.lower().startswith("access-control-")]
        assert_error(httpx.options(f"{served.url}/api/tasks", headers=PREFLIGHT), 405, "method_not_allowed")


def test_an_allowed_origin_gets_a_preflight_and_its_headers(cors_server: RunningServer) -> None:
    preflight = httpx.options(f"{cors_server.url}/api/tasks", headers=PREFLIGHT)
    assert preflight.status_code == 204 and preflight.content == b""
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    assert set(preflight.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
    assert "X-API-Key" in preflight.headers["access-control-allow-headers"]
    assert preflight.headers["vary"] == "Origin"
    register = httpx.post(f"{cors_server.url}/api/agents/register", headers={"Origin": ALLOWED},
                          json={"name": "Browser", "capabilities": ["coding"], "owner_email": "b@example.com"})
    assert register.status_code == 201 and register.headers["access-control-allow-origin"] == ALLOWED
    refused = httpx.post(f"{cors_server.url}/api/tasks", headers={"Origin": ALLOWED}, json={})
    assert_error(refused, 401, "auth_required")  # errors carry the headers too, so the page can read them
    assert refused.headers["access-control-allow-origin"] == ALLOWED


def test_other_origins_get_no_cors_headers(cors_server: RunningServer) -> None:
    for origin in ("https://evil.example.com", "https://app.example.com.evil.com", "null", "https://APP.example.com"):
        answer = httpx.get(f"{cors_server.url}/api/stats", headers={"Origin": origin})
        assert "access-control-allow-origin" not in answer.headers
        preflight = httpx.options(f"{cors_server.url}/api/tasks", headers={**PREFLIGHT, "Origin": origin})
        assert_error(preflight, 405, "method_not_allowed")
        assert "access-control-allow-origin" not in preflight.headers


def test_a_preflight_for_an_unknown_path_is_a_404(cors_server: RunningServer) -> None:
    answer = httpx.options(f"{cors_server.url}/api/nowhere", headers=PREFLIGHT)
    assert_error(answer, 404, "not_found")


@pytest.mark.parametrize("value", ["app.example.com", "https://app.example.com/path", "ftp://x.org",
                                   "https://user@app.example.com"])
def test_a_bad_allowlist_is_refused_naming_its_variable(value: str) -> None:
    with pytest.raises(ValidationError, match="AGENTMARKET_CORS_ORIGINS"):
        load_config({}, {"AGENTMARKET_CORS_ORIGINS": value})
