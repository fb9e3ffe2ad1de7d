from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from monitor.accounts.vault import KEY_ENV, Credential, StaleCredential, Vault, VaultError, load_keys

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def cred(**secret) -> Credential:
    return Credential("google", "accounts/1/locations/2", "oauth2", secret or {"refresh_token": "rt-secret-1"})


def test_a_saved_credential_loads_back_and_is_not_in_clear_in_the_database(vault, sessions):
    vault.save(cred(refresh_token="rt-very-secret", access_token="at-very-secret"), NOW)
    loaded = vault.load("google", "accounts/1/locations/2")
    assert loaded.secret == {"refresh_token": "rt-very-secret", "access_token": "at-very-secret"}
    with sessions() as s:
        dump = " ".join(str(v) for row in s.execute(text("SELECT * FROM credential")) for v in row)
    assert "very-secret" not in dump
    assert "very-secret" not in repr(loaded)


def test_each_save_bumps_the_version_and_a_stale_compare_and_swap_loses(vault):
    assert vault.save(cred(), NOW) == 1
    assert vault.save(cred(refresh_token="rt-2"), NOW, expect_version=1) == 2
    with pytest.raises(StaleCredential):
        vault.save(cred(refresh_token="rt-3"), NOW, expect_version=1)
    assert vault.load("google", "accounts/1/locations/2").secret["refresh_token"] == "rt-2"


def test_rotation_re_encrypts_with_the_new_key_so_the_old_one_can_go(vault, monkeypatch, credentials_key):
    vault.save(cred(), NOW)
    new = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_ENV, f"{new},{credentials_key}")
    assert Vault(vault.sessions, vault.setting_id).rotate() == 1
    monkeypatch.setenv(KEY_ENV, new)
    assert Vault(vault.sessions, vault.setting_id).load("google", "accounts/1/locations/2").secret["refresh_token"] == "rt-secret-1"


def test_a_wrong_key_is_named_as_the_problem_without_showing_any_secret(vault, monkeypatch):
    vault.save(cred(), NOW)
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    with pytest.raises(VaultError, match="cannot be decrypted with NURSERYWATCH_CREDENTIALS_KEY"):
        Vault(vault.sessions, vault.setting_id).load("google", "accounts/1/locations/2")


def test_a_missing_or_malformed_key_says_how_to_make_one(monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(VaultError, match="credentials new-key"):
        load_keys()
    monkeypatch.setenv(KEY_ENV, "not-a-key")
    with pytest.raises(VaultError, match="key 1 of 1 is not a Fernet key"):
        load_keys()


def test_the_credentials_commands_list_and_rotate_without_showing_a_secret(db_url, tmp_path, monkeypatch, capsys):
    from monitor.cli.main import main
    from monitor.core.db import open_database
    from monitor.core.settings import load_config
    from monitor.core.store import sync_config

    path = tmp_path / "c.toml"
    path.write_text(f'[setting]\nname = "Willowbrook"\n[database]\nurl = "{db_url}"\n')
    db = open_database(db_url)
    with db.begin() as s:
        setting_id = sync_config(s, load_config(path)).id
    Vault(db, setting_id).save(Credential("x", "99", "oauth2", {"refresh_token": "rt-top-secret"}, label="@acorns",
                                          scopes=["tweet.read"]), NOW)
    db.dispose()
    assert main(["credentials", "list", "--config", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "x 99: oauth2, @acorns" in shown and "tweet.read" in shown and "rt-top-secret" not in shown
    old = os.environ[KEY_ENV]
    monkeypatch.setenv(KEY_ENV, f"{Fernet.generate_key().decode()},{old}")
    assert main(["credentials", "rotate", "--config", str(path)]) == 0
    assert "re-encrypted 1 stored credential(s)" in capsys.readouterr().out
