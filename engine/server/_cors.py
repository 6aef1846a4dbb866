"""Cross-origin requests from browsers (CORS), for the origins a market allows and no others.

With an empty allowlist (the default) nothing here adds a header: browsers keep
refusing cross-origin calls. For an allowed ``Origin``, answers carry
``Access-Control-Allow-Origin`` (that origin, never ``*``) and a preflight ``OPTIONS``
is answered 204 with the methods the path has and the headers the API reads.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

#: The request headers a browser may send to the API.
ALLOWED_HEADERS = "Content-Type, X-API-Key, Idempotency-Key, Last-Event-ID"
#: The answer headers a browser's script may read.
EXPOSED_HEADERS = "Retry-After, Idempotent-Replayed, Allow"
#: Seconds a browser may reuse a preflight answer.
MAX_AGE_SECONDS = 600

Headers = tuple[tuple[str, str], ...]


class Cors:
    """The CORS answers for an allowlist of origins (``scheme://host[:port]``, compared exactly)."""

    def __init__(self, origins: Collection[str]) -> None:
        self.origins = frozenset(origins)

    def allowed(self, headers: Mapping[str, str]) -> str | None:
        """The request's Origin if it is allowed, else None."""
        origin = headers.get("Origin")
        return origin if origin is not None and origin in self.origins else None

    def is_preflight(self, method: str, headers: Mapping[str, str]) -> bool:
        """Whether this is a preflight from an allowed origin (which this module answers)."""
        return (method == "OPTIONS" and "Access-Control-Request-Method" in headers
                and self.allowed(headers) is not None)

    def preflight_headers(self, origin: str, methods: Collection[str]) -> Headers:
        """The headers of a 204 answer to a preflight for a path allowing ``methods``."""
        return (*self.answer_headers(origin),
                ("Access-Control-Allow-Methods", ", ".join(methods)),
                ("Access-Control-Allow-Headers", ALLOWED_HEADERS),
                ("Access-Control-Max-Age", str(MAX_AGE_SECONDS)))

    @staticmethod
    def answer_headers(origin: str) -> Headers:
        """The headers every answer to an allowed origin carries."""
        return (("Access-Control-Allow-Origin", origin), ("Vary", "Origin"),
                ("Access-Control-Expose-Headers", EXPOSED_HEADERS))

