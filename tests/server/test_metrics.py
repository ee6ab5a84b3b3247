"""The daemon's Prometheus collectors: basic behaviour (what they count is issue 14's)."""

from __future__ import annotations

from streamasr.engine.jobs import StepStats
from streamasr.server.metrics import Metrics


def sample(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    value = metrics.registry.get_sample_value(name, labels or {})
    assert value is not None, name
    return value


def test_each_server_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()
    a.sessions.inc()
    assert sample(a, "streamasr_sessions_total") == 1.0
    assert sample(b, "streamasr_sessions_total") == 0.0


def test_a_step_is_observed_in_both_histograms() -> None:
    m = Metrics()
    m.observe_step(StepStats(batch=3, bucket=4, steps=2, seconds=0.02))
    assert sample(m, "streamasr_step_seconds_count") == 1.0
    assert sample(m, "streamasr_step_seconds_sum") == 0.02
    assert sample(m, "streamasr_step_batch_streams_sum") == 3.0


def test_render_is_the_prometheus_text_format() -> None:
    m = Metrics()
    m.refusals.labels("capacity").inc()
    text = m.render().decode()
    assert 'streamasr_refusals_total{reason="capacity"} 1.0' in text
    assert "# TYPE streamasr_streams gauge" in text
