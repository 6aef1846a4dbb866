"""One configuration object: options over environment over stored settings over defaults."""

from __future__ import annotations

import pytest

from engine.config import SOURCES, Config, load_config
from engine.errors import ValidationError


def test_defaults_when_nothing_is_given() -> None:
    assert load_config() == Config()


def test_environment_is_read_only_from_the_mapping_passed_in() -> None:
    config = load_config({}, {"AGENTMARKET_EXECUTION_TIMEOUT": "3", "AGENTMARKET_ALLOW_PRIVATE_URLS": "1",
                              "ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "UNRELATED": "x"})
    assert config.execution_timeout == 3.0
    assert config.allow_private_urls is True
    assert config.anthropic_base_url == "http://127.0.0.1:9"


def test_an_option_wins_over_the_environment_and_none_means_not_given() -> None:
    environ = {"AGENTMARKET_PUBLIC_URL": "https://env.example", "AGENTMARKET_RESPONSE_CACHE": "0"}
    config = load_config({"public_url": "https://option.example", "response_cache": None}, environ)
    assert config.public_url == "https://option.example"
    assert config.response_cache is False


def test_stored_settings_fill_only_what_options_and_environment_left_open() -> None:
    assert Config().with_stored({"public_url": "https://stored.example"}).public_url == "https://stored.example"
    given = Config(public_url="https://given.example")
    assert given.with_stored({"public_url": "https://stored.example"}).public_url == "https://given.example"


@pytest.mark.parametrize(("name", "text"), [
    ("AGENTMARKET_EXECUTION_TIMEOUT", "soon"),
    ("AGENTMARKET_EXECUTION_TIMEOUT", "-1"),
    ("AGENTMARKET_WEBHOOK_BACKOFF", "nan"),
    ("AGENTMARKET_ALLOW_PRIVATE_URLS", "maybe"),
])
def test_a_bad_variable_is_refused_naming_it(name: str, text: str) -> None:
    with pytest.raises(ValidationError, match=name):
        load_config({}, {name: text})


def test_an_unknown_option_is_refused() -> None:
    with pytest.raises(ValidationError):
        load_config({"fee": 3})


def test_every_source_names_a_distinct_variable() -> None:
    names = [s.env for s in SOURCES if s.env]
    assert len(names) == len(set(names))


def test_registration_limits_from_the_environment() -> None:
    assert (Config().registrations_per_hour, Config().trusted_proxies) == (10, ())
    config = load_config({}, {"AGENTMARKET_REGISTRATIONS_PER_HOUR": "0",
                              "AGENTMARKET_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::/32,"})
    assert (config.registrations_per_hour, config.trusted_proxies) == (0, ("10.0.0.0/8", "2001:db8::/32"))
    for name, text in (("AGENTMARKET_REGISTRATIONS_PER_HOUR", "-1"), ("AGENTMARKET_TRUSTED_PROXIES", "10.0.0.0/33")):
        with pytest.raises(ValidationError, match=name):
            load_config({}, {name: text})
