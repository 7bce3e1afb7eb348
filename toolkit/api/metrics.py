"""Prometheus metrics of the HTTP API: requests, latencies and errors per target; model
tokens per adapter; plugins' outcomes (Plugin.outcomes)."""

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pitchcraft_requests_total",
            "Requests by route kind, target and status code.",
            ["route", "target", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pitchcraft_request_seconds",
            "Request latency by route kind and target.",
            ["route", "target"],
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.errors = Counter(
            "pitchcraft_errors_total",
            "Errors by target and error type.",
            ["target", "type"],
            registry=self.registry,
        )

    def count_tokens(self, usage: Callable[[], dict[tuple[str, str], int]]) -> None:
        """Export the model client's running token totals, read at each scrape."""
        self.registry.register(TokenCollector(usage))

    def count_outcomes(self, totals: Callable[[], dict[tuple[str, str, str], int]]) -> None:
        """Export the plugins' outcome totals (who answered, why handed over, what was
        refused), read at each scrape."""
        self.registry.register(OutcomeCollector(totals))

    def observe(self, route: str, target: str, status: int, seconds: float) -> None:
        self.requests.labels(route, target, str(status)).inc()
        self.latency.labels(route, target).observe(seconds)


class TokenCollector(Collector):
    def __init__(self, usage: Callable[[], dict[tuple[str, str], int]]) -> None:
        self.usage = usage

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "pitchcraft_model_tokens",
            "Model tokens by adapter (each plugin asks for its own) and kind.",
            labels=["adapter", "kind"],
        )
        for (adapter, kind), count in sorted(self.usage().items()):
            family.add_metric([adapter, kind], count)
        yield family


class OutcomeCollector(Collector):
    def __init__(self, totals: Callable[[], dict[tuple[str, str, str], int]]) -> None:
        self.totals = totals

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "pitchcraft_plugin_outcomes",
            "Results by plugin and what they say about themselves (kind, value), e.g. "
            "answered_by=model or refused=prompt_injection; every surface of this process.",
            labels=["plugin", "kind", "value"],
        )
        for labels, count in sorted(self.totals().items()):
            family.add_metric(list(labels), count)
        yield family
