"""The API keys of agents registered or imported in the app, remembered per market (mode 0600)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from platformdirs import user_config_dir

from engine.errors import MarketError

from .client import MarketClient

CONFIG_DIR_ENV = "AGENTMARKET_CONFIG_DIR"


def config_path() -> Path:
    """Where the keys are kept: agents.json in $AGENTMARKET_CONFIG_DIR or the user's config dir."""
    directory = os.environ.get(CONFIG_DIR_ENV) or user_config_dir("agentmarket")
    return Path(directory) / "agents.json"


@dataclass(frozen=True)
class RememberedAgent:
    """An agent the app can act as again."""

    name: str
    id: str
    api_key: str


class KeyStore:
    """Remembered agents per market location, most recently used last, in a file only its owner reads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_path()

    def _read(self) -> dict[str, list[dict[str, str]]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, list[dict[str, str]]]) -> None:
        """Replace the file atomically, created with mode 0600 so no other user ever reads a key."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".agents-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as file:
                json.dump(data, file, indent=2)
            os.replace(temporary, self.path)
        except BaseException:
            os.unlink(temporary)
            raise

    def agents(self, location: object) -> list[RememberedAgent]:
        """The agents remembered for the market at ``location``, the most recently used last."""
        entries = self._read().get(str(location), [])
        return [RememberedAgent(e["name"], e["id"], e["api_key"]) for e in entries if isinstance(e, dict)]

    def last_used(self, location: object) -> RememberedAgent | None:
        """The agent the app acted as most recently at ``location``, if any."""
        agents = self.agents(location)
        return agents[-1] if agents else None

    def remember(self, location: object, agent: RememberedAgent) -> None:
        """Keep ``agent`` for the market at ``location`` as the most recently used one."""
        data, location = self._read(), str(location)
        others = [e for e in data.get(location, []) if isinstance(e, dict) and e.get("id") != agent.id]
        data[location] = others + [asdict(agent)]
        self._write(data)


def resume_last_agent(client: MarketClient, keys: KeyStore | None = None) -> None:
    """Act as the agent last used at this client's market, unless it already has an identity.

    A remembered key the market no longer accepts is ignored: the app then starts as nobody.
    """
    if client.api_key:
        return
    last = (keys or KeyStore()).last_used(client.location)
    if last is None:
        return
    try:
        client.use_key(last.api_key)
    except MarketError:
        client.use_key(None)
