"""The one definition of what valid input is (SPEC §5).

Each request body is a :class:`Schema` of :class:`Field` rules. ``Schema.validate``
turns untrusted JSON-like input into clean values or raises
:class:`~engine.errors.ValidationError` naming the field; ``Schema.json_schema``
renders the same rules for the OpenAPI document, so the two cannot drift apart.
Unknown fields are ignored; wrong types are errors.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from .errors import ValidationError
from .event_catalog import EVENT_TYPES
from .event_catalog import WEBHOOK_EVENTS as WEBHOOK_EVENT_NAMES
from .queries import AgentOrder, AgentQuery, EventQuery, TaskOrder, TaskQuery
from .states import TaskStatus

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"
_SLUG = re.compile(SLUG_PATTERN)
_EMAIL = re.compile(EMAIL_PATTERN)
# Characters that would let one agent's text rewrite another user's terminal or hide
# what it says: C0 controls other than tab, newline and carriage return, DEL, the C1
# controls (U+009B is an escape-sequence introducer on its own) and the bidi embeddings,
# overrides and isolates (U+202A-U+202E, U+2066-U+2069).
CONTROL_CHARACTERS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
# Invisible characters that make two names look the same: zero-width spaces and joiners,
# direction marks, word joiner and invisible operators, soft hyphen, BOM.
INVISIBLE_CHARACTERS = (r"\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
                        r"\u2060-\u2064\u3164\ufe00-\ufe0f\ufeff\uffa0")
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARACTERS}]")
_LINE_BREAK = re.compile(r"[\t\n\r]")

MAX_URL_LENGTH = 2048
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # how the market writes every time
# A URL the market will store: the scheme, a host of ASCII letters, digits, '-', '_' and
# dots (international names in their xn-- form) or a bracketed IPv6 address, a port of
# at most 65535, then a path, query and fragment of RFC 3986's ASCII characters (others
# percent-encoded).
_HOST = r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?"
_PORT = r"6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}"
_URI_CHAR = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})"  # RFC 3986 pchar and '/', ASCII only
_URL_REST = rf"({_HOST}|\[[0-9A-Fa-f:.]+\])(:({_PORT})?)?(/{_URI_CHAR}*)?(\?(?:{_URI_CHAR}|\?)*)?(#(?:{_URI_CHAR}|\?)*)?$"
MAX_EMAIL_LENGTH = 254


@dataclass(frozen=True, slots=True)
class Field:
    """One input field and its bounds.

    ``kind`` is one of ``text`` (a string), ``integer``, ``slugs`` (a list of
    capability slugs), ``choices`` (a list of names from ``choices``), ``boolean``,
    ``email``, ``url`` or ``time`` (an RFC 3339 date-time with an offset, cleaned to the
    market's form ``YYYY-MM-DDTHH:MM:SSZ`` in UTC; bounds relative to now are :func:`deadline`'s).
    """

    name: str
    kind: str
    required: bool = False
    nullable: bool = False
    min_length: int = 0
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    min_items: int = 0
    max_items: int | None = None
    single_line: bool = False
    no_invisible: bool = False
    schemes: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    description: str = ""

    def clean(self, value: Any) -> Any:
        """Return the cleaned value, or raise ValidationError naming this field."""
        if value is None:
            if self.nullable:
                return None
            raise ValidationError(self.name, f"{self.name} must not be null")
        return _CLEANERS[self.kind](self, value)

    def _clean_text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(self.name, f"{self.name} must be a string")
        if self.single_line:
            value = value.strip()
        if len(value) < self.min_length:
            raise ValidationError(
                self.name,
                f"{self.name} must not be empty"
                if self.min_length == 1
                else f"{self.name} must be at least {self.min_length} characters",
            )
        if self.max_length is not None and len(value) > self.max_length:
            raise ValidationError(self.name, f"{self.name} must be at most {self.max_length:,} characters")
        if _CONTROL.search(value) or (self.single_line and _LINE_BREAK.search(value)):
            raise ValidationError(self.name, f"{self.name} must not contain control or bidi-override characters")
        if self.no_invisible and _INVISIBLE.search(value):
            raise ValidationError(self.name, f"{self.name} must not contain zero-width or invisible characters")
        return value

    def _clean_integer(self, value: Any) -> int:
        # bool is an int subclass in Python; JSON true is not a number of credits.
        if type(value) is not int:
            raise ValidationError(self.name, f"{self.name} must be an integer")
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(self.name, f"{self.name} must be at least {self.minimum:,}")
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(self.name, f"{self.name} must be at most {self.maximum:,}")
        return value

    def _clean_slugs(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list | tuple):
            raise ValidationError(self.name, f"{self.name} must be a list of strings")
        # Bounds first: the work per item below must never run over an unbounded list.
        if len(value) < self.min_items:
            raise ValidationError(self.name, f"{self.name} must have at least {self.min_items} entry")
        if self.max_items is not None and len(value) > self.max_items:
            raise ValidationError(self.name, f"{self.name} must have at most {self.max_items} entries")
        for item in value:
            if not isinstance(item, str) or not _SLUG.fullmatch(item):
                shown = repr(item)[:50]
                raise ValidationError(
                    self.name,
                    f"{self.name} entries must be lowercase slugs of 1-40 letters, digits, '-' or '_' (got {shown})",
                )
        return tuple(dict.fromkeys(value))  # duplicates folded, first order kept

    def _clean_choices(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list | tuple):
            raise ValidationError(self.name, f"{self.name} must be a list of strings")
        if self.max_items is not None and len(value) > self.max_items:
            raise ValidationError(self.name, f"{self.name} must have at most {self.max_items} entries")
        chosen: list[str] = []
        for item in value:
            if item not in self.choices:
                raise ValidationError(self.name, f"{self.name} has an unknown entry {repr(item)[:50]}; "
                                                 f"choose from {', '.join(self.choices)}")
            if item not in chosen:
                chosen.append(item)
        if len(chosen) < self.min_items:
            raise ValidationError(self.name, f"{self.name} must have at least {self.min_items} entry")
        return tuple(chosen)

    def _clean_boolean(self, value: Any) -> bool:
        if type(value) is not bool:
            raise ValidationError(self.name, f"{self.name} must be true or false")
        return value

    def _clean_email(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(self.name, f"{self.name} must be a string")
        value = value.strip()
        if len(value) > MAX_EMAIL_LENGTH or not _EMAIL.match(value):
            raise ValidationError(self.name, f"{self.name} must be an email address like me@example.com")
        return value

    def _clean_url(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(self.name, f"{self.name} must be a string")
        allowed = " or ".join(f"{s}://" for s in self.schemes)
        if len(value) > MAX_URL_LENGTH:
            raise ValidationError(self.name, f"{self.name} must be at most {MAX_URL_LENGTH} characters")
        if _CONTROL.search(value) or re.search(r"\s", value):
            raise ValidationError(self.name, f"{self.name} must not contain spaces or control characters")
        try:
            parts = urlsplit(value)
            port = parts.port  # raises ValueError on a bad port
        except ValueError:
            raise ValidationError(self.name, f"{self.name} is not a valid URL") from None
        if parts.scheme.lower() not in self.schemes:
            raise ValidationError(self.name, f"{self.name} must start with {allowed}")
        if not parts.hostname:
            raise ValidationError(self.name, f"{self.name} must name a host")
        if parts.username or parts.password:
            raise ValidationError(self.name, f"{self.name} must not carry credentials")
        del port
        if not re.fullmatch(self.url_pattern(), value) or (parts.netloc.startswith("[") and not _ipv6(parts.hostname)):
            raise ValidationError(self.name, f"{self.name} is not a valid URL: its host must be letters, digits, "
                                             "'-' and '.' (or an IP address), and its path and query URL "
                                             "characters (percent-encode others)")
        return value

    def _clean_time(self, value: Any) -> str:
        if not isinstance(value, str) or not _RFC3339.match(value):
            raise ValidationError(self.name, f"{self.name} must be an RFC 3339 time like 2026-01-31T12:00:00Z")
        try:
            parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(self.name, f"{self.name} is not a valid time") from None
        return parsed.astimezone(UTC).strftime(TIME_FORMAT)
    def url_pattern(self) -> str:
        """What ``_clean_url`` accepts, as a regular expression (also the OpenAPI ``pattern``)."""
        schemes = "|".join("".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in scheme)
                           for scheme in self.schemes)
        return rf"^({schemes})://{_URL_REST}"

    def json_schema(self) -> dict[str, Any]:
        """This field as a JSON Schema (2020-12, as OpenAPI 3.1 uses)."""
        schema: dict[str, Any]
        if self.kind == "time":
            schema = {"type": "string", "format": "date-time"}
        elif self.kind == "text":
            schema = {"type": "string", "minLength": self.min_length}
        if self.kind == "text":
            schema = {"type": "string", "minLength": self.min_length, "pattern": self._text_pattern()}
            if self.max_length is not None:
                schema["maxLength"] = self.max_length
        elif self.kind == "integer":
            schema = {"type": "integer", "description": "A JSON integer literal: 10.0, true and \"10\" are refused."}
            if self.minimum is not None:
                schema["minimum"] = self.minimum
            if self.maximum is not None:
                schema["maximum"] = self.maximum
        elif self.kind == "slugs":
            schema = {
                "type": "array",
                "items": {"type": "string", "pattern": SLUG_PATTERN},
                "minItems": self.min_items,
                "description": "Duplicates are folded into one, in the order first given.",
            }
            if self.max_items is not None:
                schema["maxItems"] = self.max_items
        elif self.kind == "choices":
            schema = {"type": "array", "items": {"type": "string", "enum": list(self.choices)},
                      "minItems": self.min_items}
            if self.max_items is not None:
                schema["maxItems"] = self.max_items
        elif self.kind == "boolean":
            schema = {"type": "boolean"}
        elif self.kind == "email":
            schema = {"type": "string", "format": "email", "maxLength": MAX_EMAIL_LENGTH}
        else:
            schema = {"type": "string", "format": "uri", "maxLength": MAX_URL_LENGTH, "pattern": self.url_pattern()}
        if self.nullable:
            schema["type"] = [schema["type"], "null"]
        if self.description:
            schema["description"] = " ".join(filter(None, (self.description, schema.get("description"))))
        return schema


    def _text_pattern(self) -> str:
        """The characters ``_clean_text`` refuses, as a JSON Schema pattern."""
        refused = CONTROL_CHARACTERS + (r"\t\n\r" if self.single_line else "") + (
            INVISIBLE_CHARACTERS if self.no_invisible else "")
        if self.single_line and self.min_length:  # trimmed first: blanks alone are empty
            return rf"^[^{refused}]*[^{refused}\s][^{refused}]*$"
        return rf"^[^{refused}]*$"


_CLEANERS = {
    "text": Field._clean_text,
    "integer": Field._clean_integer,
    "slugs": Field._clean_slugs,
    "choices": Field._clean_choices,
    "boolean": Field._clean_boolean,
    "email": Field._clean_email,
    "url": Field._clean_url,
    "time": Field._clean_time,
}
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class Schema:
    """A request body: named fields; unknown fields are ignored."""

    name: str
    fields: tuple[Field, ...]

    def validate(self, data: Any, *, partial: bool = False) -> dict[str, Any]:
        """Clean ``data`` against the fields.

        Args:
            data: the decoded JSON body (must be an object) or keyword arguments.
            partial: when true, no field is required (for updates).

        Returns:
            The cleaned values of the fields present in ``data``.

        Raises:
            ValidationError: naming the first field that fails.
        """
        if not isinstance(data, Mapping):
            raise ValidationError("body", "the request body must be a JSON object")
        cleaned: dict[str, Any] = {}
        for field in self.fields:
            if field.name in data:
                cleaned[field.name] = field.clean(data[field.name])
            elif field.required and not partial:
                raise ValidationError(field.name, f"{field.name} is required")
        return cleaned

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)

    def json_schema(self, *, partial: bool = False) -> dict[str, Any]:
        """The body as a JSON Schema object."""
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {f.name: f.json_schema() for f in self.fields},
        }
        required = [f.name for f in self.fields if f.required and not partial]
        if required:
            schema["required"] = required
        return schema


NAME = Field("name", "text", required=True, min_length=1, max_length=100, single_line=True, no_invisible=True,
             description="Unique regardless of case, width and look-alike letters (see name_key).")
AGENT_DESCRIPTION = Field("description", "text", max_length=2_000)
CAPABILITIES = Field("capabilities", "slugs", required=True, min_items=1, max_items=20)
PRICE_PER_TASK = Field("price_per_task", "integer", minimum=0, maximum=1_000_000,
                       description="The least budget this agent can be hired for.")
OWNER_EMAIL = Field("owner_email", "email", required=True)
ENDPOINT_URL = Field("endpoint_url", "url", nullable=True, schemes=("http", "https"))
SYSTEM_PROMPT = Field("system_prompt", "text", nullable=True, max_length=20_000)
WEBHOOK_URL = Field("webhook_url", "url", nullable=True, schemes=("https",))
INVITE_CODE = Field("invite_code", "text", nullable=True, min_length=1, max_length=100, single_line=True,
                    description="A single-use invite code; required when the market is invite-only.")

AGENT_REGISTRATION = Schema(
    "AgentRegistration",
    (NAME, AGENT_DESCRIPTION, CAPABILITIES, PRICE_PER_TASK, OWNER_EMAIL, ENDPOINT_URL,
     SYSTEM_PROMPT, WEBHOOK_URL, INVITE_CODE),
)
#: The fields an agent may change on itself (all optional).
AGENT_UPDATE = Schema(
    "AgentUpdate",
    (NAME, AGENT_DESCRIPTION, CAPABILITIES, PRICE_PER_TASK, OWNER_EMAIL, ENDPOINT_URL, SYSTEM_PROMPT),
)
WEBHOOK_EVENTS = Field("events", "choices", choices=WEBHOOK_EVENT_NAMES, max_items=len(WEBHOOK_EVENT_NAMES),
                       description="The events to be sent (default: task.posted only).")
WEBHOOK_ALL_TASKS = Field("all_tasks", "boolean", description="Also be told of tasks whatever their required "
                          "capabilities (the only way to hear of tasks that require none).")
WEBHOOK = Schema("WebhookUpdate", (Field("webhook_url", "url", required=True, nullable=True, schemes=("https",)),
                                   WEBHOOK_EVENTS, WEBHOOK_ALL_TASKS))
WEBHOOK_CHANGE = Schema("WebhookChange", (WEBHOOK_URL, WEBHOOK_EVENTS, WEBHOOK_ALL_TASKS))

BUDGET = Field("budget", "integer", required=True, minimum=1, maximum=1_000_000)
#: Ids named in a body or a tool's arguments (in a path they are just looked up).
AGENT_ID = Field("agent_id", "text", required=True, min_length=1, max_length=100, single_line=True,
                 description="The agent's id.")
TASK_ID = Field("task_id", "text", required=True, min_length=1, max_length=100, single_line=True,
                description="The task's id.")
#: SPEC §10: a deadline lies this far ahead at least and at most; the default is the market's
#: ``default_task_ttl`` setting.
DEADLINE_MIN = timedelta(minutes=1)
DEADLINE_MAX = timedelta(days=90)
DEADLINE = Field("deadline", "time", description="RFC 3339 time after which the task, while open, expires: "
                 "1 minute to 90 days ahead (default: the market's default_task_ttl, 7 days).")
CLAIM_SECONDS = Field("claim_seconds", "integer", minimum=60, maximum=30 * 86_400,
                      description="How long an assignee has to complete after accepting (default 86400).")
REVIEW_HOURS = Field("review_hours", "integer", minimum=0, maximum=720,
                     description="0: paid on complete. Over 0: the poster reviews within this window.")
EVALUATOR_ID = Field("evaluator_id", "text", nullable=True, min_length=1, max_length=100, single_line=True,
                     description="An agent (not the poster, not the assignee) who settles a dispute.")
TASK = Schema(
    "TaskPost",
    (
        Field("title", "text", required=True, min_length=1, max_length=200, single_line=True),
        Field("description", "text", max_length=100_000),
        BUDGET,
        Field("required_capabilities", "slugs", max_items=20),
        DEADLINE,
        CLAIM_SECONDS,
        REVIEW_HOURS,
        EVALUATOR_ID,
    ),
)

RESULT = Schema("TaskResult", (Field("result", "text", required=True, min_length=1, max_length=200_000),))
RATING = Schema("TaskRating", (Field("rating", "integer", required=True, minimum=1, maximum=5),))
REJECTION = Schema("TaskRejection", (Field("reason", "text", required=True, min_length=1, max_length=2_000),))
RESOLUTION = Schema("TaskResolution", (
    Field("worker_share", "integer", required=True, minimum=0, maximum=100,
          description="Percent of the budget the worker's side gets (before the platform fee)."),
    Field("note", "text", max_length=2_000),
))
EXECUTION = Schema(
    "Execution",
    (
        AGENT_ID,
        Field("task_description", "text", required=True, min_length=1, max_length=100_000),
        BUDGET,
    ),
)

#: An operator's issue of credits (``agentmarket grant``).
GRANT_CREDITS = Field("credits", "integer", required=True, minimum=1, maximum=1_000_000_000)
GRANT_REASON = Field("reason", "text", nullable=True, min_length=1, max_length=500, single_line=True)
#: How many invite codes one ``invites create`` makes.
INVITE_COUNT = Field("count", "integer", required=True, minimum=1, maximum=1000)


def email_key(email: str) -> str:
    """An owner email as the one-grant-per-email rule compares it: trimmed and casefolded."""
    return email.strip().casefold()


#: Every schema, by name, for the OpenAPI document.
SCHEMAS: dict[str, Schema] = {
    s.name: s for s in (AGENT_REGISTRATION, AGENT_UPDATE, WEBHOOK, WEBHOOK_CHANGE, TASK, RESULT, RATING, REJECTION,
                        RESOLUTION, EXECUTION)
}

LIMIT_DEFAULT = 20
LIMIT_MAX = 100
OFFSET_MAX = 10**12


def page(limit: Any = None, offset: Any = None) -> tuple[int, int]:
    """Clean list paging: ``limit`` 1–100 (default 20), ``offset`` ≥ 0.

    Accepts ints or decimal strings (query parameters arrive as strings).
    """
    return (
        _page_int("limit", limit, LIMIT_DEFAULT, 1, LIMIT_MAX),
        _page_int("offset", offset, 0, 0, OFFSET_MAX),
    )


#: The most events one page of ``GET /api/events`` holds, and the greatest ``after``.
EVENTS_LIMIT_MAX = 1000
EVENTS_AFTER_MAX = 2**62


def event_query(after: Any = 0, limit: Any = 100, cursor: str | None = None) -> EventQuery:
    """Clean the events list's parameters: ``after`` 0–2**62, ``limit`` 1–1000 (default 100)."""
    return EventQuery(query_integer("after", after, 0, 0, EVENTS_AFTER_MAX),
                      query_integer("limit", limit, 100, 1, EVENTS_LIMIT_MAX), 0, cursor or None)


def query_integer(name: str, value: Any, default: int, low: int, high: int) -> int:
    """Clean an optional integer query parameter (an int or a decimal string) within ``low``–``high``.

    Raises:
        ValidationError: naming ``name``.
    """
    return _page_int(name, value, default, low, high)


def _page_int(name: str, value: Any, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if isinstance(value, str) and re.fullmatch(r"\d{1,20}", value):
        value = int(value)
    if type(value) is not int or not low <= value <= high:
        raise ValidationError(name, f"{name} must be an integer from {low} to {high:,}")
    return value


@lru_cache(maxsize=1024)  # the same few (second, window) pairs come again and again in a busy market
def later(now: str, seconds: int) -> str:
    """The market time ``seconds`` after ``now`` (both in the market's form)."""
    # isoformat (whole seconds: no fraction) is TIME_FORMAT without the "Z", at half strftime's cost.
    return (datetime.fromisoformat(now[:19]) + timedelta(seconds=int(seconds))).isoformat() + "Z"


def deadline(value: str | None, now: str, default_ttl_seconds: int) -> str:
    """A task's deadline: ``value`` (already cleaned by :data:`DEADLINE`) if 1 minute to 90 days
    after ``now``, or, when None, ``now`` plus the market's default.

    Raises:
        ValidationError: naming ``deadline``.
    """
    if value is None:
        return later(now, default_ttl_seconds)
    if value < later(now, int(DEADLINE_MIN.total_seconds())):
        raise ValidationError("deadline", "deadline must be at least 1 minute ahead")
    if value > later(now, int(DEADLINE_MAX.total_seconds())):
        raise ValidationError("deadline", "deadline must be at most 90 days ahead")
    return value


def _ipv6(host: str | None) -> bool:
    try:
        ipaddress.IPv6Address((host or "").split("%", 1)[0])
    except ValueError:
        return False
    return True


# Look-alikes of Latin letters and digits, each mapped to the Latin prototype Unicode's
# confusables table (TR39) gives it. NFKC already folds full-width, mathematical and
# compatibility forms; what is left that fools a reader in a name is mostly Cyrillic,
# Greek and Armenian letters that look exactly like Latin ones, and 0/O and 1/l/I.
_LOOK_ALIKES = str.maketrans({
    **dict(zip("аԁеһіјӏоԛԝѕсрхуɑɡʏ", "adehijloqwscpxyagy", strict=True)),
    **dict(zip("АВЕНІЈКМОРСЅТХУҮӀԌԚԜ", "ABEHlJKMOPCSTXYYlGQW", strict=True)),
    **dict(zip("αιινορυχγ", "aiivopuxy", strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHlKMNOPTYX", strict=True)),
    **dict(zip("օսոհցզԳՏՍԼ", "ounhgq9SUL", strict=True)),
    **dict(zip("01I|", "olll", strict=True)),
})


def name_key(name: str) -> str:
    """The form under which names are unique: two names that read the same share it.

    NFKC, then look-alike letters folded to their Latin prototype (a subset of the
    Unicode TR39 skeleton), case folded, folded again (case folding can make new
    look-alikes), and ``rn`` read as ``m``; invisible characters are dropped.
    """
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", name)).translate(_LOOK_ALIKES)
    return unicodedata.normalize("NFD", text.casefold().translate(_LOOK_ALIKES)).replace("rn", "m")


def strip_control_characters(text: str) -> str:
    """``text`` without the control characters that text fields refuse (tab, newline and CR stay).

    For text the market did not write itself and must keep, such as an agent's result.
    """
    return _CONTROL.sub("", text)


def terminal_safe(text: str) -> str:
    """``text`` fit to print on a terminal: every character text fields refuse (C0 and C1
    controls, bidi overrides) shown as a visible ``\\uXXXX`` escape; tab and newline stay.

    For text read back from a market or a server, which may predate today's rules.
    """
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text.replace("\r", "\\r"))


def search_text(value: Any) -> str | None:
    """Clean a ``q`` search: text fields hold no control or bidi-override characters, so
    those in a search can match nothing and are dropped; None when nothing is left."""
    if not isinstance(value, str):
        return None
    text = _CONTROL.sub("", value)
    return text if text.strip() else None


def capability_filter(value: Any) -> str | None:
    """Clean an optional ``capability`` query parameter."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise ValidationError("capability", "capability must be a lowercase slug like 'research'")
    return value


def _choice(name: str, value: Any, choices: type[StrEnum], default: StrEnum | None) -> Any:
    if value in (None, ""):
        return default
    if value not in choices.__members__.values():
        raise ValidationError(name, f"{name} must be one of " + ", ".join(choices))
    return choices(value)


def task_query(status: Any = None, capability: Any = None, limit: Any = None, offset: Any = None, *,
               search: Any = None, poster_id: Any = None, assigned_to: Any = None, involving: Any = None,
               order: Any = None, evaluator_id: Any = None, cursor: Any = None) -> TaskQuery:
    """Clean a task list's parameters (as given, or as query strings) into a :class:`TaskQuery`.

    Raises:
        ValidationError: a bad limit, offset, status, capability or order (checked in that order).
    """
    limit, offset = page(limit, offset)
    return TaskQuery(
        status=_choice("status", status, TaskStatus, None),
        capability=capability_filter(capability),
        search=search_text(search),
        poster_id=poster_id or None,
        assigned_to=assigned_to or None,
        involving=involving or None,
        evaluator_id=evaluator_id or None,
        order=_choice("order", order, TaskOrder, TaskOrder.NEWEST),
        limit=limit,
        offset=offset,
        cursor=cursor or None,  # checked against its signature when the page is read
    )


def agent_query(capability: Any = None, limit: Any = None, offset: Any = None, *, search: Any = None,
                order: Any = None, cursor: Any = None) -> AgentQuery:
    """Clean an agent list's parameters into an :class:`AgentQuery`.

    Raises:
        ValidationError: a bad limit, offset, capability or order (checked in that order).
    """
    limit, offset = page(limit, offset)
    return AgentQuery(capability=capability_filter(capability), search=search_text(search),
                      order=_choice("order", order, AgentOrder, AgentOrder.NEWEST), limit=limit, offset=offset,
                      cursor=cursor or None)


#: The most event types one live-stream filter may name.
MAX_EVENT_TYPES = 50


def event_types_filter(name: str, value: Any) -> tuple[str, ...] | None:
    """Clean a comma-separated list of event types from the catalog (None or empty: all types).

    Raises:
        ValidationError: naming ``name``, for an unknown type or too many.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(name, f"{name} must be a comma-separated list of event types")
    names = [part.strip() for part in value.split(",") if part.strip()]
    if len(names) > MAX_EVENT_TYPES:
        raise ValidationError(name, f"{name} may name at most {MAX_EVENT_TYPES} event types")
    for item in names:
        if item not in EVENT_TYPES:
            raise ValidationError(name, f"{name} has an unknown event type {item[:50]!r}; "
                                        f"choose from {', '.join(EVENT_TYPES)}")
    return tuple(dict.fromkeys(names)) or None


def query_flag(name: str, value: Any) -> bool:
    """Clean an optional boolean query parameter: ``true``/``1`` or ``false``/``0`` (absent: false).

    Raises:
        ValidationError: naming ``name``.
    """
    if value is None or value == "":
        return False
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ValidationError(name, f"{name} must be true or false")
