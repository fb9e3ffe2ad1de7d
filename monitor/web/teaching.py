"""Teaching the classifier from the web app: missed comments and phrase rules.

- `/comments` lists recent comments that raised no alert; "This needed a
  human" stores the comment, with the labels it should have had, as a
  labelled example for the setting (`nurserywatch train --with-feedback`).
- `/phrases` keeps the setting's always/never phrase lists per label; the
  pipeline applies them from the next cycle (`monitor/phrase_rules.py`).
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alerts.ack import audit
from alerts.outcomes import record_example
from alerts.policy import CATEGORY_TITLES
from alerts.visibility import READER_ROLES, Viewer
from monitor.core.models import Alert, Item, Recipient
from monitor.core.types import CATEGORIES
from monitor.core.webmodels import PHRASE_ACTIONS, LabelledExample, PhraseRule
from monitor.phrase_rules import normalise_phrase
from monitor.web.auth import actor_for, app_page, check_csrf, need_role, require
from monitor.web.pages import LinkProblem, WebDeps, off_loop

RECENT = timedelta(days=14)
LIMIT = 100


def routes(deps: WebDeps) -> list[Route]:
    # plain code run in worker threads (`off_loop`, with the busy-retry helper): a locked
    # database delays these pages, never the others
    def signed_in_reader(request: Request, session):
        who = require(deps, request)
        person = session.get(Recipient, who.recipient_id)
        need_role(person, READER_ROLES)
        return who, person

    def comments(request: Request, form=None, flash: str | None = None, status: int = 200) -> Response:
        with deps.sessions() as session:
            who, person = signed_in_reader(request, session)
            viewer = Viewer(session, deps.env, person)
            since = deps.clock() - RECENT
            items = session.scalars(
                select(Item).outerjoin(Alert, Alert.item_id == Item.id)
                .where(Item.setting_id == deps.env.setting_id, Item.classified_at.is_not(None), Alert.id.is_(None),
                       Item.created_at >= since)
                .order_by(Item.created_at.desc()).limit(LIMIT)
            ).all()
            # a missed allegation may name the person looking: they do not see it
            items = [i for i in items if not viewer.names_me(i.text, ("safeguarding",))]
            marked = {e.item_id: e.labels for e in session.scalars(select(LabelledExample).where(
                LabelledExample.item_id.in_([i.id for i in items]), LabelledExample.source == "needed_human"))}
            return app_page(deps, request, who, person, "comments.html", {
                "items": items, "marked": marked, "categories": CATEGORIES, "flash": flash}, status)

    def needed_human(request: Request, form) -> Response:
        item_id = int(request.path_params["item_id"])
        with deps.sessions() as session:
            who, person = signed_in_reader(request, session)
        check_csrf(deps, request, who, form)
        labels = [c for c in form.getlist("label") if c in CATEGORIES]
        if not labels:
            return comments(request, flash="Tick at least one label the comment should have had.", status=400)
        with deps.sessions.begin() as session:
            person = session.get(Recipient, who.recipient_id)
            item = session.get(Item, item_id)
            if item is None or item.setting_id != deps.env.setting_id or Viewer(session, deps.env, person).names_me(
                    item.text, ("safeguarding",)):
                raise LinkProblem(404, "Comment not found", "There is no such comment here.")
            record_example(session, deps.env.setting_id, item, "needed_human", labels, person.id, deps.clock())
            audit(session, None, deps.env.setting_id, "needed_human", actor_for(request, person), deps.clock(),
                  item_id=item.id, labels=labels)
        return comments(request, flash="Thank you: kept as an example of a comment that needed a human.")

    def phrases(request: Request, form=None, flash: str | None = None, error: str | None = None,
                status: int = 200) -> Response:
        with deps.sessions() as session:
            who, person = signed_in_reader(request, session)
            rules = session.scalars(select(PhraseRule).where(PhraseRule.setting_id == deps.env.setting_id)
                                    .order_by(PhraseRule.label, PhraseRule.action, PhraseRule.phrase)).all()
            return app_page(deps, request, who, person, "phrases.html", {
                "rules": rules, "categories": CATEGORIES, "titles": CATEGORY_TITLES, "flash": flash, "error": error},
                status)

    def phrase_add(request: Request, form) -> Response:
        with deps.sessions() as session:
            who, person = signed_in_reader(request, session)
        check_csrf(deps, request, who, form)
        phrase = normalise_phrase(str(form.get("phrase", "")))
        label, action = str(form.get("label", "")), str(form.get("action", ""))
        if len(phrase) < 2 or label not in CATEGORIES or action not in PHRASE_ACTIONS:
            return phrases(request, error="Write a phrase (two letters or more), and choose a label and a list.",
                                 status=400)
        with deps.sessions.begin() as session:
            person = session.get(Recipient, who.recipient_id)
            rule = session.scalar(select(PhraseRule).where(PhraseRule.setting_id == deps.env.setting_id,
                                                           PhraseRule.phrase == phrase, PhraseRule.label == label))
            if rule is None:
                session.add(PhraseRule(setting_id=deps.env.setting_id, phrase=phrase, label=label, action=action,
                                       created_by_id=person.id, created_at=deps.clock()))
            else:
                rule.action, rule.created_by_id, rule.created_at = action, person.id, deps.clock()
            audit(session, None, deps.env.setting_id, "phrase_added", actor_for(request, person), deps.clock(),
                  phrase=phrase, label=label, list=action)
        return phrases(request, flash="Saved. It applies from the next check of new comments.")

    def phrase_delete(request: Request, form) -> Response:
        rule_id = int(request.path_params["rule_id"])
        with deps.sessions() as session:
            who, person = signed_in_reader(request, session)
        check_csrf(deps, request, who, form)
        with deps.sessions.begin() as session:
            person = session.get(Recipient, who.recipient_id)
            rule = session.get(PhraseRule, rule_id)
            if rule is None or rule.setting_id != deps.env.setting_id:
                raise LinkProblem(404, "Phrase not found", "It may have been removed already.")
            audit(session, None, deps.env.setting_id, "phrase_removed", actor_for(request, person), deps.clock(),
                  phrase=rule.phrase, label=rule.label, list=rule.action)
            session.delete(rule)
        return phrases(request, flash="Removed.")

    return [
        Route("/comments", off_loop(comments), methods=["GET"]),
        Route("/comments/{item_id:int}/needed", off_loop(needed_human), methods=["POST"]),
        Route("/phrases", off_loop(phrases), methods=["GET"]),
        Route("/phrases", off_loop(phrase_add), methods=["POST"]),
        Route("/phrases/{rule_id:int}/delete", off_loop(phrase_delete), methods=["POST"]),
    ]
