"""One ``/metrics`` for every worker: each worker's exposition, labelled ``worker="i"``,
merged family by family with the front's own (so each metric has one HELP and TYPE)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


class _Families:
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> list[Metric]:
        return self.families


def merge(parts: Sequence[tuple[str | None, str]]) -> str:
    """``parts``: (worker label or None for the front, exposition text)."""
    merged: dict[str, Metric] = {}
    for worker, text in parts:
        for family in text_string_to_metric_families(text):
            into = merged.get(family.name)
            if into is None:
                into = Metric(family.name, family.documentation, family.type, family.unit)
                merged[family.name] = into
            for s in family.samples:
                labels = s.labels if worker is None else {**s.labels, "worker": worker}
                into.samples.append(Sample(s.name, labels, s.value, s.timestamp, s.exemplar))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(merged.values()))
    return generate_latest(registry).decode()
