"""Configurations that `check-config` used to pass and `run` then crashed on or
ran unsafely with: each is refused by both, naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from monitor.core.settings import ConfigError, config_from_dict
from tests.monitor.test_cli import run_cli
from tests.monitor.test_run_command import write_config


def _check_and_run(path: str, monkeypatch) -> tuple[tuple[int, str], tuple[int, str]]:
    code, _, err = run_cli(["check-config", "--config", path], "", monkeypatch)
    run_code, _, run_err = run_cli(["run", "--once", "--config", path], "", monkeypatch)
    return (code, err), (run_code, run_err)


@pytest.mark.parametrize("key,said", [("12345", "5 characters"),
                                      ("change-me-to-32-or-more-random-characters", "placeholder")])
def test_a_short_or_placeholder_signing_key_is_refused_by_check_config_and_run(tmp_path, monkeypatch, key, said):
    monkeypatch.setenv("NURSERYWATCH_SECRET_KEY", key)
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/nw.db")
    (code, err), (run_code, run_err) = _check_and_run(path, monkeypatch)
    assert code == 1 and run_code == 2
    for text in (err, run_err):
        assert "web.secret_key_env" in text and "NURSERYWATCH_SECRET_KEY" in text and said in text
        assert "at least 32" in text
    assert not (tmp_path / "nw.db").exists()  # refused before anything ran


def test_a_signing_key_of_32_characters_is_accepted(tmp_path, monkeypatch):
    monkeypatch.setenv("NURSERYWATCH_SECRET_KEY", "k" * 32)
    code, out, err = run_cli(["check-config", "--config", write_config(tmp_path, f"sqlite:///{tmp_path}/nw.db")], "",
                             monkeypatch)
    assert code == 0, err


def _email(**email) -> dict:
    return {"setting": {"name": "Willowbrook"}, "email": {"from": "n@example.org", **email}}


LOGIN = {"smtp_username_env": "SMTP_USER", "smtp_password_env": "SMTP_PASSWORD"}


@pytest.mark.parametrize("email", [
    {"smtp_host": "smtp.example.org", "smtp_starttls": False, **LOGIN},
    {"smtp_host": "192.0.2.10", "smtp_port": 25, "smtp_starttls": False, "smtp_password_env": "SMTP_PASSWORD"},
    {"smtp_host": "smtp.example.org", "smtp_starttls": False, "allow_insecure": True, **LOGIN},  # no reason given
])
def test_an_smtp_login_without_tls_to_another_machine_is_refused(email):
    with pytest.raises(ConfigError) as err:
        config_from_dict(_email(**email), "nursery.toml")
    assert "email" in str(err.value) and ("without encryption" in str(err.value) or "insecure_reason" in str(err.value))


@pytest.mark.parametrize("email", [
    {"smtp_host": "smtp.example.org", **LOGIN},  # STARTTLS by default
    {"smtp_host": "smtp.example.org", "smtp_port": 465, "smtp_tls": True, "smtp_starttls": False, **LOGIN},
    {"smtp_host": "127.0.0.1", "smtp_starttls": False, **LOGIN},  # never leaves the machine
    {"smtp_host": "localhost", "smtp_starttls": False, **LOGIN},
    {"smtp_host": "relay.internal", "smtp_starttls": False},  # no login to read
    {"smtp_host": "smtp.example.org", "smtp_starttls": False, "allow_insecure": True,
     "insecure_reason": "the relay is on a private cable to this server", **LOGIN},
])
def test_an_smtp_login_is_accepted_with_tls_locally_without_a_login_or_with_a_stated_reason(email):
    assert config_from_dict(_email(**email)).email.smtp_host == email["smtp_host"]


def test_run_refuses_to_start_with_a_clear_text_smtp_login(tmp_path, monkeypatch):
    path = write_config(tmp_path, f"sqlite:///{tmp_path}/nw.db")
    text = Path(path).read_text().replace('outbox_dir =', 'smtp_host = "smtp.example.org"\nsmtp_starttls = false\n'
                                                     'smtp_username_env = "SMTP_USER"\noutbox_dir =')
    Path(path).write_text(text)
    (code, err), (run_code, run_err) = _check_and_run(path, monkeypatch)
    assert code == 2 and run_code == 2
    assert "email" in run_err and "without encryption" in run_err
    assert not (tmp_path / "nw.db").exists()
