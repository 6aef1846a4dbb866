"""Rules the OpenAPI document states in words because JSON Schema cannot say them: each
test fails when the document and the server disagree (issue 12, finding 12)."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

from engine import validation as v
from engine.server import ROUTES, openapi_document

from .conftest import Api, assert_error

DOCUMENT = openapi_document()
SCHEMAS = DOCUMENT["components"]["schemas"]


def _operation(method: str, path: str) -> dict[str, Any]:
    return DOCUMENT["paths"][path][method.lower()]


#: A body each schema accepts, to change one field of.
VALID = {"AgentRegistration": {"name": "N", "capabilities": ["x"], "owner_email": "n@example.com"},
         "TaskPost": {"title": "T", "budget": 1}, "TaskRating": {"rating": 5},
         "Execution": {"agent_id": "someone", "task_description": "d", "budget": 1}}
INTEGER_FIELDS = [(schema.name, field.name) for schema in v.SCHEMAS.values() for field in schema.fields
                  if field.kind == "integer"]


@pytest.mark.parametrize(("schema", "field"), INTEGER_FIELDS)
def test_integers_are_integer_literals_in_the_document_and_the_server(shared_api: Api, schema: str, field: str) -> None:
    assert "10.0" in SCHEMAS[schema]["properties"][field]["description"]
    agent = shared_api.register("Integral")
    route = next(r for r in ROUTES if r.body is not None and r.body.name == schema)
    path = route.path.replace("{id}", "00000000-0000-0000-0000-000000000000")
    response = agent.http.request(route.method, path, json={**VALID.get(schema, {}), field: 10.0})
    assert_error(response, 400, "validation_error", field)


def test_look_alike_names_are_taken_in_the_document_and_the_server(shared_api: Api) -> None:
    assert "look-alike" in SCHEMAS["AgentRegistration"]["properties"]["name"]["description"]
    taken = shared_api.register("Paypal").name
    response = shared_api.anonymous.post("/api/agents/register", json={
        "name": "\u0420\u0430" + taken[2:], "capabilities": ["x"], "owner_email": "p@example.com"})
    assert_error(response, 409, "name_taken", "name")


def test_duplicate_capabilities_are_folded_in_the_document_and_the_server(shared_api: Api) -> None:
    assert "folded" in SCHEMAS["AgentRegistration"]["properties"]["capabilities"]["description"]
    agent = shared_api.register("Folder", "coding", "coding", "writing")
    assert agent.get("/api/agents/me").json()["data"]["capabilities"] == ["coding", "writing"]


def test_empty_query_parameters_are_declared_as_allowed(shared_api: Api) -> None:
    for route in ROUTES:
        for parameter in _operation(route.method, route.path)["parameters"]:
            if parameter["in"] == "query":
                assert parameter["allowEmptyValue"] is True, (route.path, parameter["name"])
    assert shared_api.anonymous.get("/api/agents?limit=&offset=&capability=").status_code == 200


@pytest.mark.parametrize(("key", "valid"), [("k", True), ("~" * 255, True), ("a b", True), ("", False),
                                            ("k" * 256, False), ("k\u00e9", False)])
def test_the_idempotency_key_format_is_the_documented_one(shared_api: Api, key: str, valid: bool) -> None:
    (header,) = [p for p in _operation("POST", "/api/tasks")["parameters"] if p["name"] == "Idempotency-Key"]
    schema = header["schema"]
    documented = bool(re.fullmatch(schema["pattern"], key)) and schema["minLength"] <= len(key) <= schema["maxLength"]
    assert documented is valid
    if not key or not key.isascii():
        return  # not sendable as an HTTP header value by the client
    poster = shared_api.register("Poster")
    response = poster.post("/api/tasks", {"title": "t", "budget": 1}, headers={"Idempotency-Key": key})
    assert response.status_code == (201 if valid else 400), response.text


@pytest.mark.parametrize("url", ["https://hooks.example.com/in?a=1#x", "https://xn--bcher-kva.example:8443/",
                                 "https://[2001:db8::1]/h", "https://b\u00fccher.example/", "https://h.example/\u00e9",
                                 "https://h.example/a b", "https://h.example:70000/", "https://u@h.example/",
                                 "http://h.example/"])
def test_webhook_urls_the_document_allows_are_exactly_those_the_server_takes(shared_api: Api, url: str) -> None:
    schema = SCHEMAS["WebhookUpdate"]["properties"]["webhook_url"]
    documented = bool(re.search(schema["pattern"], url)) and len(url) <= schema["maxLength"]
    agent = shared_api.register("Hook")
    response = agent.http.put("/api/agents/me/webhook", json={"webhook_url": url})
    assert (response.status_code == 200) is documented, (url, response.text)


def test_an_update_without_a_body_is_documented_as_allowed(shared_api: Api) -> None:
    assert _operation("PATCH", "/api/agents/me")["requestBody"]["required"] is False
    agent = shared_api.register("Same")
    assert agent.http.patch("/api/agents/me").status_code == 200


def test_every_answer_to_a_valid_key_documents_the_headers_it_sends(shared_api: Api) -> None:
    for route in ROUTES:
        if route.fault is not None:
            continue  # answered in its own protocol (JSON-RPC), documented by that protocol
        responses = _operation(route.method, route.path)["responses"]
        assert "Retry-After" in responses["429"]["headers"] and "Retry-After" in responses["503"]["headers"]
        if route.idempotent:
            assert "Idempotent-Replayed" in responses[str(route.status)]["headers"]


def test_the_document_is_valid_json_schema_throughout() -> None:
    for name, schema in SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema), name
    for event in DOCUMENT["webhooks"].values():
        jsonschema.Draft202012Validator.check_schema(
            event["post"]["requestBody"]["content"]["application/json"]["schema"])

