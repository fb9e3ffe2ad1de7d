"""Every Prometheus metric nurserywatch exports, defined in one place.

Two kinds. Counters and the cycle histogram count what this process did (items
fetched, API calls): they live in prometheus_client's default registry and
start at zero on restart, which Prometheus' rate() expects. Gauges that describe
durable state (outbox depth, account states, alerts by category) are read from
the database at scrape time by `DatabaseCollector`, so they are right whichever
process did the work and survive restarts.

Labels carry platforms, states and categories only: never ids, names or text.
"""
from __future__ import annotations

import contextvars
import logging
from datetime import datetime
from typing import Callable

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.core.models import Account, Alert, OutboxMessage, OutboxState
from monitor.core.types import CycleReport

log = logging.getLogger(__name__)

CYCLE_SECONDS = Histogram(
    "nurserywatch_cycle_duration_seconds", "Time one fetch-classify-alert-deliver cycle took",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
CYCLES = Counter("nurserywatch_cycles_total", "Cycles completed, by outcome", ["outcome"])
ITEMS_FETCHED = Counter("nurserywatch_items_fetched_total", "Items the connectors returned")
ITEMS_STORED = Counter("nurserywatch_items_stored_total", "Items stored for the first time")
CLASSIFICATIONS = Counter("nurserywatch_classifications_total", "Items classified")
ALERTS_RAISED = Counter("nurserywatch_alerts_raised_total", "Alerts raised by this process")
EMAILS_SENT = Counter("nurserywatch_emails_sent_total", "Emails the SMTP server accepted in pipeline cycles")
API_REQUESTS = Counter("nurserywatch_api_requests_total", "HTTP requests to platform APIs", ["platform"])
API_ERRORS = Counter("nurserywatch_api_errors_total", "Platform API answers >= 400", ["platform", "status"])
WEBHOOK_EVENTS = Counter("nurserywatch_webhook_events_total", "Webhook deliveries received, by outcome",
                         ["platform", "outcome"])  # outcome: queued, replay, refused (bad signature)
PINGS = Counter("nurserywatch_deadman_pings_total", "Dead-man's switch pings, by outcome", ["outcome"])

# The platform whose account is being polled, set by the pipeline around each
# account so the shared HTTP client's hooks can label its requests.
API_PLATFORM: contextvars.ContextVar[str | None] = contextvars.ContextVar("nurserywatch_api_platform", default=None)


def observe_cycle(report: CycleReport, seconds: float) -> None:
    CYCLE_SECONDS.observe(seconds)
    CYCLES.labels("accounts_failing" if report.failed_accounts else "ok").inc()
    ITEMS_FETCHED.inc(report.fetched)
    ITEMS_STORED.inc(report.stored)
    CLASSIFICATIONS.inc(report.classified)
    ALERTS_RAISED.inc(report.alerts)
    EMAILS_SENT.inc(report.sent)


async def _count_request(request: httpx.Request) -> None:
    if (platform := API_PLATFORM.get()) is not None:  # None: not a platform call (the dead-man's ping)
        API_REQUESTS.labels(platform).inc()


async def _count_response(response: httpx.Response) -> None:
    if (platform := API_PLATFORM.get()) is not None and response.status_code >= 400:
        API_ERRORS.labels(platform, str(response.status_code)).inc()


def instrument(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Count the client's requests, and its error answers, per platform (once, however often called)."""
    if _count_request in client.event_hooks["request"]:
        return client
    client.event_hooks["request"] = [*client.event_hooks["request"], _count_request]
    client.event_hooks["response"] = [*client.event_hooks["response"], _count_response]
    return client


class DatabaseCollector(Collector):
    """Gauges read from the database on each scrape; `nurserywatch_database_up`
    is 0 (and the others absent) when the database does not answer."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]):
        self.sessions, self.clock = sessions, clock

    def collect(self):
        up = GaugeMetricFamily("nurserywatch_database_up", "1 when the database answered this scrape")
        try:
            families = list(self._from_database())
        except Exception as err:  # the scrape must still answer, saying the database is down
            log.warning("metrics: database did not answer (%s)", type(err).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _from_database(self):
        now = self.clock()
        with self.sessions() as s:
            outbox = GaugeMetricFamily("nurserywatch_outbox_messages", "Outbox rows by state", labels=["state"])
            counts = dict(s.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())
            for state in OutboxState:
                outbox.add_metric([state.value], counts.get(state.value, 0))
            yield outbox
            oldest = s.scalar(select(func.min(OutboxMessage.created_at)).where(OutboxMessage.state == "pending"))
            age = GaugeMetricFamily("nurserywatch_outbox_oldest_age_seconds", "Age of the oldest unsent email (0 if none)")
            age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
            yield age
            retrying = GaugeMetricFamily(
                "nurserywatch_delivery_retrying_messages", "Unsent emails whose last attempt failed"
            )
            retrying.add_metric([], s.scalar(
                select(func.count()).where(OutboxMessage.state == "pending", OutboxMessage.attempts > 0)
            ))
            yield retrying
            accounts = GaugeMetricFamily("nurserywatch_accounts", "Watched accounts by platform and state",
                                         labels=["platform", "state"])
            for platform, state, n in s.execute(
                select(Account.platform, Account.state, func.count()).group_by(Account.platform, Account.state)
            ):
                accounts.add_metric([platform, state], n)
            yield accounts
            alerts = GaugeMetricFamily("nurserywatch_alerts", "Alerts by category and state",
                                       labels=["category", "state"])
            tally: dict[tuple[str, str], int] = {}
            for categories, state in s.execute(select(Alert.categories, Alert.state)):
                for c in categories or []:
                    tally[(c, state)] = tally.get((c, state), 0) + 1
            for (c, state), n in sorted(tally.items()):
                alerts.add_metric([c, state], n)
            yield alerts


def exposition(collector: DatabaseCollector) -> bytes:
    """The /metrics body: this process's counters, then the database gauges."""
    db_registry = CollectorRegistry(auto_describe=False)
    db_registry.register(collector)
    return generate_latest() + generate_latest(db_registry)
