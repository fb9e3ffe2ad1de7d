"""Accounts tests: a credentials key in the environment and a vault on the test database."""
from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from monitor.accounts.vault import KEY_ENV, Vault
from monitor.core.store import sync_config


@pytest.fixture(autouse=True)
def credentials_key(monkeypatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_ENV, key)
    return key


@pytest.fixture
def vault(sessions, make_config) -> Vault:
    with sessions.begin() as session:
        setting_id = sync_config(session, make_config()).id
    return Vault(sessions, setting_id)
