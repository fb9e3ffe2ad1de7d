"""`nurserywatch connect PLATFORM --config FILE`: a guided flow that ends with
working, validated credentials stored encrypted (see docs/connecting.md).

The app's own id and secret come from environment variables: those the
config's account names (`client_id_env`, `client_secret_env`), else
META_APP_ID / META_APP_SECRET, GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET,
X_CLIENT_ID / X_CLIENT_SECRET. With a browser at hand the answer comes back
to 127.0.0.1; `--paste` is for a server without one.
"""
from __future__ import annotations

import argparse
import asyncio
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import httpx

from monitor.accounts.connect_meta import connect_meta
from monitor.accounts.connect_oauth import connect_google, connect_x
from monitor.accounts.flow import ConnectError, ConsoleUI, Prompt
from monitor.accounts.oauth import FACTS, endpoints
from monitor.accounts.vault import Vault, VaultError
from monitor.core.db import open_database
from monitor.core.graph_api import GRAPH_BASE
from monitor.core.group import load_setting
from monitor.core.settings import AccountConfig, Config, ConfigError, add_config_option
from monitor.core.store import sync_config

APP_ENV = {
    "facebook": ("META_APP_ID", "META_APP_SECRET"),
    "instagram": ("META_APP_ID", "META_APP_SECRET"),
    "google": ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"),
    "x": ("X_CLIENT_ID", "X_CLIENT_SECRET"),
}


def connect_command(platform: str, config: Config, account_id: str | None = None) -> str:
    """The exact command that reconnects an account (for emails and `check`)."""
    path = str(Path(config.source).resolve()) if config.source else "FILE"  # the daemon's cwd is not the admin's
    same = [a for a in config.accounts if a.platform == platform]
    extra = f" --account {account_id}" if account_id and len(same) > 1 else ""
    return f"nurserywatch connect {platform} --config {path}{extra}"


def reconnect_fix(config: Config, account: AccountConfig) -> str:
    """What a person does to restore an account, in one sentence (the reconnect email, `check`)."""
    command = connect_command(account.platform, config, account.id)
    if account.token_env:
        return (f"put a new access token in the environment variable {account.token_env} and restart nurserywatch "
                f"(or remove token_env from the account and run: {command})")
    if account.refresh_token_env:
        return (f"put a new refresh token in {account.refresh_token_env} and restart nurserywatch, or remove "
                f"refresh_token_env from the account and run: {command}")
    return f"run: {command}  (no restart needed: polling resumes at the next cycle)"


def pick_account(config: Config, platform: str, account_id: str | None) -> AccountConfig | None:
    same = [a for a in config.accounts if a.platform == platform]
    if account_id:
        match = [a for a in same if a.id == account_id]
        return match[0] if match else None
    if len(same) > 1:
        ids = ", ".join(a.id for a in same)
        raise ConfigError(f"the configuration has {len(same)} {platform} accounts ({ids}): choose one with --account")
    return same[0] if same else None


def app_credentials(platform: str, account: AccountConfig | None) -> tuple[str, str | None]:
    id_env, secret_env = APP_ENV[platform]
    if account is not None:
        id_env, secret_env = account.client_id_env or id_env, account.client_secret_env or secret_env
    client_id, client_secret = os.environ.get(id_env), os.environ.get(secret_env)
    if not client_id:
        raise ConfigError(f"environment variable {id_env} is not set: it holds the app's id "
                          f"(see docs/connecting.md, {platform})")
    if not client_secret and platform != "x":
        raise ConfigError(f"environment variable {secret_env} is not set: it holds the app's secret")
    return client_id, client_secret


async def run_connect(
    platform: str, config: Config, vault: Vault, ui: Prompt, *, account_id: str | None = None, paste: bool = False,
    redirect_uri: str | None = None, paste_token: bool = False, transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> int:
    account = pick_account(config, platform, account_id)
    probe = account or AccountConfig(platform=platform, id=account_id or "new", token_env=None)
    if account is not None and (account.token_env or account.refresh_token_env):
        ui.say(f"note: this account is configured with {'token_env' if account.token_env else 'refresh_token_env'}, "
               "which is used instead of stored credentials: remove it from the configuration to use these")
    auth_url, token_url = endpoints(probe)
    client_id, client_secret = app_credentials(platform, account)
    wanted = account.id if account else account_id
    async with httpx.AsyncClient(transport=transport, timeout=30.0) as http:
        if platform in ("facebook", "instagram"):
            user_token = ui.ask("Paste the user access token from the Graph API Explorer: ") if paste_token else None
            cred, report = await connect_meta(
                platform, base=probe.api_base or GRAPH_BASE, auth_url=auth_url, token_url=token_url, app_id=client_id,
                app_secret=client_secret, ui=ui, http=http, page_id=wanted, user_token=user_token or None,
                paste=paste, redirect_uri=redirect_uri, transport=transport)
            need_read, need_hide = report.missing_read, report.missing_hide
            for line in report.lines():
                ui.say(line)
        elif platform == "google":
            cred, need_read, need_hide = await connect_google(
                auth_url=auth_url, token_url=token_url, api_base=probe.api_base, client_id=client_id,
                client_secret=client_secret, ui=ui, http=http, location=wanted, paste=paste,
                redirect_uri=redirect_uri, now=clock(), transport=transport)
        else:
            cred, need_read, need_hide = await connect_x(
                auth_url=auth_url, token_url=token_url, api_base=probe.api_base, client_id=client_id,
                client_secret=client_secret, ui=ui, http=http, paste=paste, redirect_uri=redirect_uri, now=clock(),
                transport=transport)
    if need_read:
        raise ConnectError("nothing was stored: without " + ", ".join(need_read) + " nothing can be watched ("
                           + "; ".join(need_read.values()) + "). Grant it and connect again.")
    if wanted and platform != "instagram" and cred.external_id != wanted and not wanted.endswith(cred.external_id.rsplit("/", 1)[-1]):
        raise ConnectError(f"the account connected ({cred.label}, {cred.external_id}) is not the configured {wanted}")
    vault.save(cred, clock())
    ui.say(f"Connected {FACTS[platform].platform} {cred.label} ({cred.external_id}); credentials stored encrypted.")
    for name, cost in need_hide.items():
        ui.say(f"warning: permission {name} was not granted: {cost}")
    if account is None or account.id != cred.external_id:
        ui.say("Add this account to the configuration:")
        ui.say(f'  [[accounts]]\n  platform = "{platform}"\n  id = "{cred.external_id}"\n  name = "{cred.label}"')
    ui.say("A running nurserywatch picks the new credentials up at its next poll; no restart is needed.")
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    config = load_setting(args.config, args.setting)
    db = open_database(config.database.url)
    try:
        with db.begin() as session:
            setting_id = sync_config(session, config).id
        vault = Vault(db, setting_id)
        vault.keys  # fail before the browser dance when the key is missing
        ui = ConsoleUI(browser=not args.paste)
        return asyncio.run(run_connect(args.platform, config, vault, ui, account_id=args.account, paste=args.paste,
                                       redirect_uri=args.redirect_uri, paste_token=args.paste_token))
    except (ConnectError, VaultError) as err:
        raise ConfigError(f"connect {args.platform}: {err}") from None
    finally:
        db.dispose()


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("connect", help="connect a Facebook Page, Instagram, Google or X account (guided)")
    p.add_argument("platform", choices=sorted(FACTS))
    add_config_option(p)
    p.add_argument("--account", metavar="ID", help="which configured account (when there are several), or the Page/location to pick")
    p.add_argument("--paste", action="store_true", help="no browser here: print the address, then paste where the browser ended up")
    p.add_argument("--redirect-uri", metavar="URI", help="the redirect address registered in the app (default http://127.0.0.1:PORT/callback)")
    p.add_argument("--paste-token", action="store_true", help="facebook/instagram: paste a user token from the Graph API Explorer instead of logging in")
    p.set_defaults(func=cmd_connect)
