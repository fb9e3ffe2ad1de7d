"""Mailbox connector against a real IMAP server over TLS on 127.0.0.1 (tests/connectors/imap_server.py)."""
from __future__ import annotations

import asyncio
import ssl
from email.message import EmailMessage

import httpx
import pytest
import trustme

from connectors.base import AuthFailed, Misconfigured
from connectors.mailbox import MailboxConnector
from connectors.testing import drain
from monitor.core.settings import AccountConfig
from tests.connectors.imap_server import Mailbox, serve

ALLOW = ["jo.manager@willowbrook.example", "@staff.willowbrook.example"]


def mail(sender: str, subject: str, body: str, *, html: str | None = None, msgid: str | None = None,
         extra: dict | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "watch@example.org"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 23 Nov 2026 08:30:00 +0000"
    if msgid:
        msg["Message-ID"] = msgid
    for k, v in (extra or {}).items():
        msg[k] = v
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def imap(ca, tmp_path):
    box = Mailbox()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server, port = serve(box, context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield box, port, str(ca_file)
    server.shutdown()
    server.server_close()


def connector(port, ca_file, clock, password="mail-pass", **options):
    opts = {"host": "127.0.0.1", "port": port, "username": "watch@example.org", "allow": ALLOW,
            "ca_file": ca_file, **options}
    acc = AccountConfig(platform="mailbox", id="forwarded", token_env="MAIL_PASSWORD", options=opts)
    return MailboxConnector(acc, password, httpx.AsyncClient(), clock)


def test_a_forwarded_post_from_an_allowed_address_becomes_an_item(imap, clock):
    box, port, ca_file = imap
    box.add(mail("Jo Manager <Jo.Manager@willowbrook.example>", "Fwd: post in the parents' group",
                 "---------- Forwarded message ---------\nSomeone wrote in the group: the new room leader "
                 "grabbed my son's arm.\nhttps://www.facebook.com/groups/123456/posts/789/\n",
                 msgid="<abc123@mail.example>"))
    cursors: dict = {}
    [item] = asyncio.run(drain(connector(port, ca_file, clock), cursors))

    assert item.external_id == "abc123@mail.example"
    assert item.text.startswith("post in the parents' group\n\n")
    assert "grabbed my son's arm" in item.text
    assert item.permalink == "https://www.facebook.com/groups/123456/posts/789/"
    assert item.kind == "mention" and item.can_hide is False
    assert item.source == "email forwarded by jo.manager@willowbrook.example"
    assert item.created_at.isoformat() == "2026-11-23T08:30:00+00:00"
    assert cursors == {("mail", "INBOX"): {"uidvalidity": "42", "last_uid": 1}}
    assert "EXAMINE" in box.commands and "UID FETCH" in box.commands  # read-only, nothing marked


def test_mail_from_an_address_not_on_the_allow_list_is_skipped_and_not_read_again(imap, clock, caplog):
    box, port, ca_file = imap
    box.add(mail("stranger@elsewhere.example", "please read", "Willowbrook is awful"))
    box.add(mail("deputy@staff.willowbrook.example", "screenshot text", "A parent wrote: they lost my child at pickup"))
    cursors: dict = {}
    caplog.set_level("INFO")
    items = asyncio.run(drain(connector(port, ca_file, clock), cursors))

    assert [i.source for i in items] == ["email forwarded by deputy@staff.willowbrook.example"]
    assert "uid 1 ignored: sender not on the allow-list" in caplog.text
    assert "Willowbrook is awful" not in caplog.text
    assert asyncio.run(drain(connector(port, ca_file, clock), cursors)) == []
    assert cursors[("mail", "INBOX")]["last_uid"] == 2


def test_malformed_mail_is_read_as_far_as_possible_or_skipped(imap, clock):
    box, port, ca_file = imap
    box.add(b"this is not an email at all \xff\xfe")  # no headers, no sender
    box.add(mail("jo.manager@willowbrook.example", "html only", "",
                 html="<p>Posted in the group:</p><p>staff <b>smoke</b> by the gate</p>"))
    box.add(b"From: jo.manager@willowbrook.example\r\nSubject: odd charset\r\n"
            b"Content-Type: text/plain; charset=x-unknown-charset\r\n\r\nthe room was freezing\r\n")
    box.add(mail("jo.manager@willowbrook.example", "empty", "   "))
    cursors: dict = {}
    items = asyncio.run(drain(connector(port, ca_file, clock), cursors))

    texts = [i.text for i in items]
    assert any("staff smoke by the gate" in t for t in texts)
    assert any("the room was freezing" in t for t in texts)
    assert len(items) == 2 and cursors[("mail", "INBOX")]["last_uid"] == 4


def test_mail_that_failed_dmarc_is_skipped_even_from_an_allowed_address(imap, clock):
    box, port, ca_file = imap
    box.add(mail("jo.manager@willowbrook.example", "urgent", "forged text", extra={
        "Authentication-Results": "mx.example.org; dmarc=fail (p=none) header.from=willowbrook.example"}))
    assert asyncio.run(drain(connector(port, ca_file, clock), {})) == []


def test_a_new_uidvalidity_reads_the_folder_again(imap, clock):
    box, port, ca_file = imap
    box.add(mail("jo.manager@willowbrook.example", "one", "first forwarded post", msgid="<one@x>"))
    cursors: dict = {}
    asyncio.run(drain(connector(port, ca_file, clock), cursors))
    box.uidvalidity = 43
    again = asyncio.run(drain(connector(port, ca_file, clock), cursors))
    assert [i.external_id for i in again] == ["one@x"]  # the store drops it by Message-ID
    assert cursors[("mail", "INBOX")] == {"uidvalidity": "43", "last_uid": 1}


def test_a_wrong_password_asks_for_the_account_to_be_fixed(imap, clock):
    _box, port, ca_file = imap
    with pytest.raises(AuthFailed, match="refused the login"):
        asyncio.run(drain(connector(port, ca_file, clock, password="wrong"), {}))


def test_a_server_certificate_that_is_not_trusted_is_refused(imap, clock):
    _box, port, _ca_file = imap
    with pytest.raises(Misconfigured, match="TLS with 127.0.0.1 failed"):
        asyncio.run(drain(connector(port, None, clock), {}))


def test_a_missing_folder_is_a_configuration_error_naming_it(imap, clock):
    _box, port, ca_file = imap
    with pytest.raises(Misconfigured, match="no folder 'Forwarded'"):
        asyncio.run(drain(connector(port, ca_file, clock, folder="Forwarded"), {}))
