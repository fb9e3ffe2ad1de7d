"""Tokens kept in the database, encrypted with a key from the environment.

The key is a Fernet key (`nurserywatch credentials new-key` prints one) in
NURSERYWATCH_CREDENTIALS_KEY. Several keys separated by commas form a
MultiFernet: the first encrypts, all of them decrypt. Rotation:

1. put a new key first: NURSERYWATCH_CREDENTIALS_KEY="NEW,OLD", restart;
2. `nurserywatch credentials rotate --config FILE` re-encrypts every row with NEW;
3. remove OLD from the variable and restart.

What is stored is a small JSON object (access token, refresh token, ...),
sealed as one Fernet token; the row's other columns (kind, expiry, granted
scopes, the watched name) are not secret and can be shown. `save` bumps
`version` with a compare-and-swap, so two refreshes racing on a single-use
refresh token cannot both win: the loser reloads instead of overwriting.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.core.db import insert_ignoring_conflict
from monitor.core.models import StoredCredential

KEY_ENV = "NURSERYWATCH_CREDENTIALS_KEY"


class VaultError(Exception):
    """The key is missing or wrong: worded for the admin, never holding a secret."""


class StaleCredential(Exception):
    """Another process saved a newer version first."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def load_keys(env: str = KEY_ENV) -> MultiFernet:
    raw = os.environ.get(env, "")
    keys = [k.strip() for k in raw.replace("\n", ",").split(",") if k.strip()]
    if not keys:
        raise VaultError(
            f"environment variable {env} is not set: it holds the key that encrypts stored tokens "
            "(create one with `nurserywatch credentials new-key`)"
        )
    fernets = []
    for i, k in enumerate(keys, 1):
        try:
            fernets.append(Fernet(k))
        except ValueError:
            raise VaultError(f"{env}: key {i} of {len(keys)} is not a Fernet key (32 url-safe base64 bytes)") from None
    return MultiFernet(fernets)


@dataclass
class Credential:
    """One account's secrets, decrypted. `repr` never shows them."""

    platform: str
    external_id: str
    kind: str
    secret: dict = field(repr=False)
    version: int = 0
    expires_at: datetime | None = None
    scopes: list[str] = field(default_factory=list)
    label: str | None = None
    updated_at: datetime | None = None


class Vault:
    def __init__(self, sessions: sessionmaker[Session], setting_id: int, keys: MultiFernet | None = None):
        self.sessions = sessions
        self.setting_id = setting_id
        self._keys = keys

    @property
    def keys(self) -> MultiFernet:
        if self._keys is None:
            self._keys = load_keys()
        return self._keys

    def _row(self, session: Session, platform: str, external_id: str) -> StoredCredential | None:
        return session.scalar(
            select(StoredCredential).where(
                StoredCredential.setting_id == self.setting_id,
                StoredCredential.platform == platform,
                StoredCredential.external_id == external_id,
            )
        )

    def version(self, platform: str, external_id: str) -> int:
        """The stored version (0: nothing stored), without decrypting anything."""
        with self.sessions() as session:
            row = self._row(session, platform, external_id)
            return row.version if row else 0

    def load(self, platform: str, external_id: str) -> Credential | None:
        with self.sessions() as session:
            row = self._row(session, platform, external_id)
            if row is None:
                return None
            return self._open(row)

    def _open(self, row: StoredCredential) -> Credential:
        try:
            secret = json.loads(self.keys.decrypt(row.sealed.encode()))
        except InvalidToken:
            raise VaultError(
                f"the stored credentials of {row.platform}:{row.external_id} cannot be decrypted with "
                f"{KEY_ENV}: was the key changed without `nurserywatch credentials rotate`?"
            ) from None
        return Credential(row.platform, row.external_id, row.kind, secret, row.version, row.expires_at,
                          list(row.scopes or []), row.label, row.updated_at)

    def save(self, cred: Credential, now: datetime, *, expect_version: int | None = None) -> int:
        """Store `cred` in one transaction; with `expect_version`, only if nobody saved since.

        Returns the new version; raises StaleCredential when the compare-and-swap loses.
        """
        sealed = self.keys.encrypt(json.dumps(cred.secret, sort_keys=True).encode()).decode()
        values = dict(kind=cred.kind, sealed=sealed, expires_at=cred.expires_at, scopes=list(cred.scopes),
                      label=cred.label, updated_at=now)
        with self.sessions.begin() as session:
            row = self._row(session, cred.platform, cred.external_id)
            if row is None:
                if expect_version not in (None, 0):
                    raise StaleCredential(f"{cred.platform}:{cred.external_id} was forgotten meanwhile")
                inserted = insert_ignoring_conflict(
                    session, StoredCredential,
                    dict(setting_id=self.setting_id, platform=cred.platform, external_id=cred.external_id,
                         version=1, **values),
                    ["setting_id", "platform", "external_id"],
                )
                if not inserted:
                    raise StaleCredential(f"{cred.platform}:{cred.external_id} was saved by another process")
                new_version = 1
            else:
                current = row.version
                if expect_version is not None and expect_version != current:
                    raise StaleCredential(f"{cred.platform}:{cred.external_id} changed meanwhile")
                res = session.execute(
                    update(StoredCredential)
                    .where(StoredCredential.id == row.id, StoredCredential.version == current)
                    .values(version=current + 1, **values)
                )
                if res.rowcount != 1:
                    raise StaleCredential(f"{cred.platform}:{cred.external_id} changed meanwhile")
                new_version = current + 1
        cred.version = new_version
        return new_version

    def forget(self, platform: str, external_id: str) -> bool:
        with self.sessions.begin() as session:
            row = self._row(session, platform, external_id)
            if row is None:
                return False
            session.delete(row)
            return True

    def listing(self) -> list[StoredCredential]:
        """Rows without their secrets, for `credentials list` and `check`."""
        with self.sessions() as session:
            rows = session.scalars(
                select(StoredCredential).where(StoredCredential.setting_id == self.setting_id)
                .order_by(StoredCredential.platform, StoredCredential.external_id)
            ).all()
            for r in rows:
                session.expunge(r)
            return list(rows)

    def rotate(self) -> int:
        """Re-encrypt every row with the first key; returns how many rows."""
        count = 0
        with self.sessions.begin() as session:
            for row in session.scalars(select(StoredCredential).where(StoredCredential.setting_id == self.setting_id)):
                try:
                    row.sealed = self.keys.rotate(row.sealed.encode()).decode()
                except InvalidToken:
                    raise VaultError(
                        f"{row.platform}:{row.external_id} is sealed with a key that is not in {KEY_ENV}; "
                        "nothing was rotated"
                    ) from None
                count += 1
        return count
