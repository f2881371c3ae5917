"""Prometheus metrics, per app; aggregated over worker processes in multiprocess mode.

With `tollgate serve --workers N` each worker writes its samples to files under
PROMETHEUS_MULTIPROC_DIR and any worker's /metrics reads all of them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self._multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter(
            "tollgate_events",
            "Security events: logins, login failures, throttled logins, refreshes, "
            "refresh reuse detected, logouts, password changes",
            ["event"],
            registry=self.registry,
        )
        self.requests = Histogram(
            "tollgate_http_request_duration_seconds",
            "Time to answer, per route",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.db_connections = Gauge(
            "tollgate_db_connections_in_use",
            "Database connections checked out of the pool",
            multiprocess_mode="livesum",
            registry=self.registry,
        )

        # Shared Signals (issue 16).
        self.ssf_backlog = Gauge(
            "tollgate_ssf_backlog",
            "Security events stored and not yet acknowledged or pushed",
            multiprocess_mode="mostrecent",
            registry=self.registry,
        )
        self.ssf_events = Counter(
            "tollgate_ssf_events",
            "Security events stored for receivers (one per stream)",
            registry=self.registry,
        )
        self.ssf_delivered = Counter(
            "tollgate_ssf_delivered",
            "Security event tokens delivered, by poll (handed out) or push (accepted)",
            ["method"],
            registry=self.registry,
        )
        self.ssf_push_failures = Counter(
            "tollgate_ssf_push_failures",
            "Push deliveries that failed and will be retried",
            registry=self.registry,
        )

        # Mail (issue 17): the outbox.
        self.mail_sent = Counter(
            "tollgate_mail_sent",
            "Mails accepted by the SMTP server, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.mail_failures = Counter(
            "tollgate_mail_failures",
            "Attempts to send a mail that failed and will be retried",
            registry=self.registry,
        )
        self.mail_given_up = Counter(
            "tollgate_mail_given_up",
            "Mails dropped unsent (expired while SMTP kept failing), by kind",
            ["kind"],
            registry=self.registry,
        )
        self.mail_backlog = Gauge(
            "tollgate_mail_backlog",
            "Mails waiting in the outbox",
            multiprocess_mode="mostrecent",
            registry=self.registry,
        )

    def event(self, name: str) -> None:
        self.events.labels(event=name).inc()

    def render(self) -> bytes:
        if self._multiprocess_dir:
            merged = CollectorRegistry()
            MultiProcessCollector(merged, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)
