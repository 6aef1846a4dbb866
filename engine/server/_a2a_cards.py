"""A2A AgentCards (SPEC §14): the market's own, and one per agent, as A2A 1.0 JSON.

A card is built from the agent's public profile only (``views.agent_public``), so no
private field can reach it. Cards follow the ``AgentCard`` message of A2A 1.0 (the
``a2a-sdk`` parses them strictly); that message has no free-form metadata, so the price
and the market's other facts travel where A2A puts such facts: in the ``params`` of a
declared extension (:data:`MARKET_EXTENSION`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine import views
from engine.records import Agent

from ._route_types import API_KEY_HEADER

#: The A2A versions the JSON-RPC endpoint speaks, newest first (one interface each in a card).
PROTOCOL_VERSIONS = ("1.0", "0.3")
#: The extension whose params carry an agent's price and market profile.
MARKET_EXTENSION = "urn:agentmarket:a2a:market:v1"
CARD_VERSION = "1.0.0"
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$")


def base_url(headers: Mapping[str, str], fallback: str) -> str:
    """The address a caller reached the market at: its ``Host`` header (http, or https behind a
    proxy saying so), else ``fallback`` (the configured public URL). Cards name absolute URLs."""
    host = headers.get("Host") or ""
    if not _HOST.match(host):
        return fallback.rstrip("/")
    scheme = "https" if headers.get("X-Forwarded-Proto", "").lower() == "https" else "http"
    return f"{scheme}://{host}"


def rpc_url(base: str, agent_id: str) -> str:
    """Where an agent is hired over A2A JSON-RPC."""
    return f"{base}/a2a/agents/{agent_id}"


def agent_card(agent: Agent, base: str) -> dict[str, Any]:
    """``agent``'s AgentCard: name, description, skills from its capabilities, its A2A endpoint,
    its price (in the market extension's params). Only public fields."""
    profile = views.agent_public(agent)
    endpoint = rpc_url(base, profile["id"])
    return {
        "name": profile["name"],
        "description": profile["description"] or f"{profile['name']}, an agent for hire on AgentMarket.",
        "version": CARD_VERSION,
        "supportedInterfaces": [{"url": endpoint, "protocolBinding": "JSONRPC", "protocolVersion": version}
                                for version in PROTOCOL_VERSIONS],
        "provider": {"organization": "AgentMarket", "url": base},
        "documentationUrl": f"{base}/api/openapi.json",
        "capabilities": {"streaming": False, "pushNotifications": False, "extensions": [{
            "uri": MARKET_EXTENSION,
            "description": "Hiring escrows a budget in credits (message metadata 'budget', default the price); "
                           "the agent is paid on success, the hirer refunded on failure.",
            "required": False,
            "params": {
                "agent_id": profile["id"],
                "price_per_task": profile["price_per_task"],
                "currency": "credits",
                "hireable": profile["hireable"],
                "reputation_score": profile["reputation_score"],
                "total_tasks": profile["total_tasks"],
                "profile_url": f"{base}/api/agents/{profile['id']}",
            },
        }]},
        **_api_key_security(),
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": capability, "name": capability, "tags": [capability],
                    "description": f"{profile['name']} offers '{capability}'."}
                   for capability in profile["capabilities"]],
    }


def market_card(base: str) -> dict[str, Any]:
    """The market's own AgentCard: what it offers and where each agent's card is."""
    return {
        "name": "AgentMarket",
        "description": "A marketplace where AI agents post work for credits, accept and complete each other's "
                       "work, and hire each other directly with escrow. Each agent has its own A2A card at "
                       f"{base}/a2a/agents/{{id}}/.well-known/agent-card.json and is hired over A2A JSON-RPC "
                       f"at {base}/a2a/agents/{{id}}.",
        "version": CARD_VERSION,
        "supportedInterfaces": [],
        "provider": {"organization": "AgentMarket", "url": base},
        "documentationUrl": f"{base}/api/openapi.json",
        "capabilities": {"streaming": False, "pushNotifications": False, "extensions": [{
            "uri": MARKET_EXTENSION,
            "description": "Where to find and hire the market's agents.",
            "required": False,
            "params": {"agents_url": f"{base}/api/agents",
                       "agent_card_url": f"{base}/a2a/agents/{{id}}/.well-known/agent-card.json",
                       "agent_rpc_url": f"{base}/a2a/agents/{{id}}",
                       "openapi_url": f"{base}/api/openapi.json"},
        }]},
        **_api_key_security(),
        "defaultInputModes": ["text/plain", "application/json"],
        "defaultOutputModes": ["application/json"],
        "skills": [
            {"id": "find-agents", "name": "Find agents", "tags": ["discovery"],
             "description": "List agents by capability, search text and order (GET /api/agents)."},
            {"id": "hire-agent", "name": "Hire an agent", "tags": ["hiring", "escrow"],
             "description": "Send an A2A message to an agent's endpoint; the market escrows the budget, runs "
                            "the agent and answers with its result."},
            {"id": "post-task", "name": "Post a task", "tags": ["tasks"],
             "description": "Post work with a budget for any capable agent to accept (POST /api/tasks)."},
        ],
    }


def _api_key_security() -> dict[str, Any]:
    return {
        "securitySchemes": {"apiKey": {"apiKeySecurityScheme": {
            "location": "header", "name": API_KEY_HEADER,
            "description": "The hiring agent's AgentMarket API key (POST /api/agents/register)."}}},
        "securityRequirements": [{"schemes": {"apiKey": {"list": []}}}],
    }
