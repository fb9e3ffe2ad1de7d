"""Configurations that `check-config` used to pass and `run` then crashed on or
ran unsafely with: each is refused by both, naming the key."""
from __future__ import annotations

import sqlite3
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


def _setting(**sections) -> dict:
    return {"setting": {"name": "Willowbrook"}, **sections}


@pytest.mark.parametrize("sections,key", [
    ({"web": {"base_url": "http://"}}, "web.base_url"),  # links would read http:///a/...
    ({"web": {"base_url": "https://watch example.org"}}, "web.base_url"),
    ({"web": {"base_url": "https://watch.example.org/?x=1"}}, "web.base_url"),  # the token would land in the query
    ({"database": {"url": "postgresql:garbage"}}, "database.url"),  # sqlalchemy ArgumentError at run
    ({"setting": {"name": "   "}}, "setting.name"),
    ({"accounts": [{"platform": "x", "id": "1", "token_url": "http://api.x.com/2/oauth2/token"}]}, "accounts[0].token_url"),
    ({"accounts": [{"platform": "x", "id": "1", "token_url": "ftp://api.x.com/token"}]}, "accounts[0].token_url"),
    ({"accounts": [{"platform": "x", "id": "1", "auth_url": "http://x.com/i/oauth2/authorize"}]}, "accounts[0].auth_url"),
    ({"email": {"smtp_host": "bad host!!"}}, "email.smtp_host"),  # every delivery would fail as "cannot reach"
    ({"email": {"smtp_host": "smtp.example.org:587"}}, "email.smtp_host"),  # the port has its own key
    ({"email": {"smtp_host": "-smtp.example.org"}}, "email.smtp_host"),
    ({"web": {"link_max_age": "1s"}}, "web.link_max_age"),  # every acknowledgement link dead on arrival
    ({"web": {"link_max_age": "59m"}}, "web.link_max_age"),
])
def test_check_config_refuses_what_run_would_crash_on_or_use_unsafely(sections, key):
    with pytest.raises(ConfigError) as err:
        config_from_dict(_setting(**sections), "nursery.toml")
    assert f"  {key}: " in str(err.value)


@pytest.mark.parametrize("host", ["smtp.example.org", "127.0.0.1", "::1", "mail", "smtp.bücher.example"])
def test_host_names_and_addresses_are_accepted_as_the_smtp_host(host):
    assert config_from_dict(_setting(email={"smtp_host": host, "smtp_port": 25})).email.smtp_host == host


def test_a_local_token_url_and_a_sound_base_url_are_accepted():
    config = config_from_dict(_setting(web={"base_url": "https://watch.example.org/nursery/"},
                                       accounts=[{"platform": "x", "id": "1", "token_url": "http://127.0.0.1:9/token"}]))
    assert config.web.base_url == "https://watch.example.org/nursery"


def test_an_in_memory_database_is_refused_by_check_config_and_run(tmp_path, monkeypatch):
    path = write_config(tmp_path, "sqlite://")
    (code, err), (run_code, run_err) = _check_and_run(path, monkeypatch)
    assert code == 1 and run_code == 2
    assert "database.url: an in-memory SQLite database forgets" in err and "database.url" in run_err


def test_run_names_database_url_when_the_database_cannot_be_opened_instead_of_a_traceback(tmp_path, monkeypatch):
    from tests.conftest import free_port

    path = write_config(tmp_path, f"postgresql://nobody:s3cret-pw@127.0.0.1:{free_port()}/nowhere")
    code, _, err = run_cli(["run", "--once", "--config", path], "", monkeypatch)
    assert code == 2
    assert "database.url: cannot open the database postgresql://nobody:***@127.0.0.1" in err
    assert "s3cret-pw" not in err and "Traceback" not in err


@pytest.mark.parametrize("listen", ["999.1.1.1:{port}", "127.0.0.1:{busy}"])
def test_the_daemon_exits_2_naming_web_listen_when_it_cannot_listen_before_polling_anything(tmp_path, monkeypatch,
                                                                                            listen):
    import socket

    from tests.conftest import free_port

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        path = Path(write_config(tmp_path, f"sqlite:///{tmp_path}/nw.db"))
        where = listen.format(port=free_port(), busy=taken.getsockname()[1])
        path.write_text(path.read_text() + f'\n[web]\nlisten = "{where}"\n')
        code, _, err = run_cli(["run", "--config", str(path)], "", monkeypatch)
    finally:
        taken.close()
    assert code == 2  # not 3, which says another nurserywatch holds the database
    assert f"web.listen: cannot listen on {where.rpartition(':')[0]}" in err
    with sqlite3.connect(tmp_path / "nw.db") as db:
        assert db.execute("SELECT count(*) FROM item").fetchone() == (0,)  # refused before the first poll


def test_trailing_days_that_is_not_a_number_is_refused_by_check_config_naming_it(tmp_path, monkeypatch):
    path = Path(write_config(tmp_path, f"sqlite:///{tmp_path}/nw.db"))
    path.write_text(path.read_text() + '\n[[accounts]]\nplatform = "facebook"\nid = "1000"\ntoken_env = "FB"\n'
                                       'options = { trailing_days = "abc" }\n')
    code, _, err = run_cli(["check-config", "--config", str(path)], "", monkeypatch)
    assert code == 2 and "accounts[1].options.trailing_days" in err
