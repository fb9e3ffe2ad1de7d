"""Configuration: errors name the key and the problem; secrets stay out of files."""
from __future__ import annotations

from pathlib import Path

import pytest

from monitor.demo import demo_config
from monitor.core.settings import ConfigError, config_from_dict, load_config, parse_duration

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = {"setting": {"name": "Willowbrook"}}


def with_(**sections):
    return {**MINIMAL, **sections}


@pytest.mark.parametrize(
    "data, key, problem",
    [
        ({}, "setting", "required key is missing"),
        (with_(setting={"name": "W", "timezon": "Europe/London"}), "setting.timezon", "unknown key"),
        (with_(setting={"name": "W", "timezone": "Mars/Olympus"}), "setting.timezone", "unknown time zone"),
        (with_(accounts=[{"platform": "myspace", "id": "1"}]), "accounts[0].platform", "Input should be"),
        (with_(accounts=[{"platform": "google", "id": "1", "refresh_token_env": "R"}]), "accounts[0]", "needs client_id_env"),
        (with_(accounts=[{"platform": "demo", "id": "1", "poll_every": "often"}]), "accounts[0].poll_every", "duration"),
        (with_(recipients=[{"name": "Jo", "email": "not-an-address", "roles": ["manager"]}]), "recipients[0].email", "not an email"),
        (with_(recipients=[{"name": "Jo", "email": "jo@example.org", "roles": ["boss"]}]), "recipients[0].roles[0]", "Input should be"),
        (with_(web={"listen": "8080"}), "web.listen", "HOST:PORT"),
        (with_(database={"url": "mysql://x"}), "database.url", "postgresql"),
        (with_(digest={"at": "half seven"}), "digest.at", "07:30"),
        (with_(email={"smtp_tls": True, "smtp_starttls": True}), "email", "not both"),
        (with_(accounts=[{"platform": "demo", "id": "1"}, {"platform": "demo", "id": "1"}]), "accounts[1]", "listed twice"),
    ],
)
def test_a_bad_config_error_names_the_key_and_the_problem(data, key, problem):
    with pytest.raises(ConfigError) as err:
        config_from_dict(data, "nursery.toml")
    message = str(err.value)
    assert message.startswith("nursery.toml: ")
    line = next(l for l in message.splitlines()[1:] if l.strip().startswith(key + ":"))
    assert problem in line


def test_a_file_that_is_not_toml_is_reported_with_its_name(tmp_path):
    bad = tmp_path / "nursery.toml"
    bad.write_text("[setting\nname = 'x'")
    with pytest.raises(ConfigError, match="nursery.toml: not valid TOML"):
        load_config(bad)


def test_a_missing_file_is_reported_clearly(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        load_config(tmp_path / "absent.toml")


def test_the_example_config_is_valid_and_documents_every_section():
    config = load_config(ROOT / "config/example.toml")
    text = (ROOT / "config/example.toml").read_text()
    for section in type(config).model_fields:
        if section != "source":
            assert section in text, section


def test_the_demo_file_matches_the_embedded_demo_defaults():
    assert load_config(ROOT / "config/demo.toml").model_dump() == demo_config("data/demo").model_dump()


def test_a_config_with_only_setting_and_roster_is_valid_for_classify():
    config = config_from_dict({"setting": {"name": "W"}, "roster": {"children": ["Amelia Hart"]}})
    assert config.roster.children == ["Amelia Hart"]


def test_secrets_come_from_the_environment_named_in_the_file(monkeypatch):
    config = config_from_dict(
        with_(accounts=[{"platform": "facebook", "id": "1", "token_env": "FB_TOKEN_FOR_TEST"}])
    )
    monkeypatch.delenv("FB_TOKEN_FOR_TEST", raising=False)
    assert "accounts[0].token_env: environment variable FB_TOKEN_FOR_TEST is not set" in config.check_runnable()
    monkeypatch.setenv("FB_TOKEN_FOR_TEST", "abc")
    assert config.secret("FB_TOKEN_FOR_TEST", "token") == "abc"


def test_a_token_written_into_the_file_is_refused():
    with pytest.raises(ConfigError, match="accounts\\[0\\].token: unknown key"):
        config_from_dict(with_(accounts=[{"platform": "facebook", "id": "1", "token_env": "X", "token": "EAAB..."}]))


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), (45, 45)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds
