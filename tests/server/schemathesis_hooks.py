"""Schemathesis hooks for tests/server/test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

JSON Schema cannot say "an integer literal, not 10.0": to it, 10.0 is an integer. The
server refuses it on purpose (tests/server/test_openapi_truth.py checks that rule and its
documentation), so generated bodies send integral numbers as integers.
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
