"""Schemathesis hooks for tests/server/test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

- JSON Schema cannot say "an integer literal, not 10.0": to it, 10.0 is an integer. The
  server refuses it on purpose (tests/server/test_openapi_truth.py checks that rule and its
  documentation), so generated bodies send integral numbers as integers.
- Whitespace before a header's value is not part of the value (RFC 9110, section 5.5): the
  server never sees it, so cases whose header values start with whitespace are left out.
- A ``cursor`` is valid only as the server issued it (signed, bound to its list): any other
  string, schema-valid or not, must be refused with 400 ``invalid_cursor`` (tests of forged
  and foreign cursors check that), so generated requests leave it out.
"""

from __future__ import annotations

from typing import Any

import schemathesis


def _integers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    return value


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    return _integers(body)


@schemathesis.hook
def filter_headers(ctx: Any, headers: Any) -> bool:
    # Python's header parser drops every leading whitespace character, \x1c-\x1f included.
    return not any(str(value)[:1].isspace() for value in (headers or {}).values())


@schemathesis.hook
def map_query(ctx: Any, query: Any) -> Any:
    if isinstance(query, dict):
        query.pop("cursor", None)
    return query
