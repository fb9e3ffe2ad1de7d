"""Accounts and delivery, for the admin role: each account's state, last poll
and last error with a "try again" action, the outbox's state, a channel that
stopped delivering (a refused SMTP login, a bad certificate) with the fix, and
a button that sends a test email to the person pressing it.

Admins see no comment text here: outbox rows show kind, address and state,
never the message.
"""
from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alerts.ack import audit
from monitor.core.models import Account, AccountState, DeliveryProblem, OutboxMessage, Recipient
from monitor.web.auth import actor_for, app_page, check_csrf, need_role, require
from monitor.web.pages import LinkProblem, WebDeps, in_thread, off_loop, withhold_request

ADMIN = frozenset({"admin"})


def routes(deps: WebDeps) -> list[Route]:
    # database work in worker threads (`off_loop` / `in_thread`, with the busy-retry helper)
    def admin(request: Request):
        who = require(deps, request)
        with deps.sessions() as session:
            person = session.get(Recipient, who.recipient_id)
        need_role(person, ADMIN)
        return who, person

    def local(when):
        return when.astimezone(deps.env.timezone).strftime("%H:%M %a %d %b") if when else "never"

    def show(request: Request, form=None, flash: str | None = None) -> Response:
        who, person = admin(request)
        with deps.sessions() as session:
            accounts = session.scalars(select(Account).where(Account.setting_id == deps.env.setting_id)
                                       .order_by(Account.id)).all()
            counts = dict(session.execute(select(OutboxMessage.state, func.count(OutboxMessage.id))
                                          .where(OutboxMessage.setting_id == deps.env.setting_id)
                                          .group_by(OutboxMessage.state)).all())
            stuck = session.scalars(select(OutboxMessage).where(
                OutboxMessage.setting_id == deps.env.setting_id, OutboxMessage.state.in_(("pending", "sending", "failed")))
                .order_by(OutboxMessage.id.desc()).limit(20)).all()
            last_sent = session.scalar(select(func.max(OutboxMessage.sent_at)).where(
                OutboxMessage.setting_id == deps.env.setting_id))
            stopped = session.scalars(select(DeliveryProblem).order_by(DeliveryProblem.channel)).all()
        return app_page(deps, request, who, person, "admin.html", {
            "accounts": [{"a": a, "last_poll": local(a.last_poll_at), "last_ok": local(a.last_success_at)} for a in accounts],
            "counts": counts, "stuck": [{"m": m, "created": local(m.created_at)} for m in stuck],
            "last_sent": local(last_sent), "flash": flash, "can_test": deps.send_test_alert is not None,
            "stopped": [{"channel": p.channel, "detail": p.detail, "since": local(p.since)} for p in stopped]})

    def retry_account(request: Request, form) -> Response:
        who, person = admin(request)
        check_csrf(deps, request, who, form)
        with deps.sessions.begin() as session:
            acc = session.get(Account, int(request.path_params["account_id"]))
            if acc is None or acc.setting_id != deps.env.setting_id:
                raise LinkProblem(404, "Account not found", "It may have been removed from the configuration.")
            acc.state, acc.backoff_until, acc.reconnect_notified_at = AccountState.ok.value, None, None
            audit(session, None, deps.env.setting_id, "account_retry", actor_for(request, person), deps.clock(),
                  account_id=acc.id)
        return show(request, flash="The account will be polled again on the next cycle.")

    async def test_alert(request: Request) -> Response:
        """A [TEST] alert to the person pressing it, by the real route (`nurserywatch test-alert`'s function)."""
        form = await request.form()
        withhold_request(request, form)
        who, person = await in_thread(admin, request)
        check_csrf(deps, request, who, form)
        if deps.send_test_alert is None:
            raise LinkProblem(409, "Test alerts are sent by the running service",
                              "Start nurserywatch with `nurserywatch run`, or use `nurserywatch test-alert`.")
        await asyncio.to_thread(deps.send_test_alert, deps.env.setting_id, person.email)  # once: not in the busy retries

        def sent(request: Request) -> Response:
            with deps.sessions.begin() as session:
                audit(session, None, deps.env.setting_id, "test_alert", actor_for(request, person), deps.clock())
            return show(request, flash=f"A [TEST] alert was sent to {person.email} through the real route. Open its "
                                       "link and press \"I've got this\" to check the whole path; it is never escalated.")

        return await in_thread(sent, request)

    return [
        Route("/admin", off_loop(show), methods=["GET"]),
        Route("/admin/accounts/{account_id:int}/retry", off_loop(retry_account), methods=["POST"]),
        Route("/admin/test-alert", test_alert, methods=["POST"]),
    ]
