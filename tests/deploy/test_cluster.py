"""bin/bench cluster, small: HAProxy (deploy/haproxy.cfg) over two real replicas on
loopback, four real-time clients, one replica stopped with SIGTERM partway. Its clients
must get every answer owed and go on through the other: nothing lost, and failover seen."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from bench import cluster

pytestmark = pytest.mark.slow


def test_a_replica_stopped_under_load_loses_no_audio_and_its_clients_fail_over() -> None:
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy is not installed; bin/test installs it")
    args = cluster.main_parser().parse_args(
        ["--streams", "4", "--seconds", "6", "--kill-at", "3", "--warmup", "1",
         "--decoder", "greedy"]
    )  # fmt: skip
    level = asyncio.run(cluster.run_level(4, cluster.utterance(args.sample_rate), args))
    assert not level.errors, level.errors[:3]
    assert level.sent_samples > 0
    assert level.lost == 0
    assert level.failovers, "no client was on the stopped replica"
    assert all(0 < s < 30 for s in level.failovers)


def test_cluster_config_replaces_only_the_address_and_the_replicas() -> None:
    template = cluster.HAPROXY_CONFIG.read_text()
    config = cluster.cluster_config(template, 4321, [5001, 5002])
    lines = [line.split() for line in config.splitlines()]
    assert ["bind", "127.0.0.1:4321"] in lines
    servers = [w for w in lines if w[:1] == ["server"]]
    assert servers == [["server", "r5001", "127.0.0.1:5001"], ["server", "r5002", "127.0.0.1:5002"]]
    kept = [w for w in template.splitlines() if w.split()[:1] not in (["bind"], ["server"])]
    assert [w for w in config.splitlines() if w.split()[:1] not in (["bind"], ["server"])] == kept


def test_the_baseline_drives_one_replica_directly_and_needs_no_failover() -> None:
    args = cluster.main_parser().parse_args(
        ["--seconds", "3", "--kill-at", "1", "--warmup", "1", "--decoder", "greedy"]
    )
    level = asyncio.run(cluster.run_baseline(2, cluster.utterance(args.sample_rate), args))
    assert not level.balanced and not level.failovers
    assert not level.errors, level.errors[:3]
    assert level.sent_samples == 2 * 30 * args.sample_rate * args.chunk_ms // 1000
    assert level.lost == 0 and level.latencies
    assert level.held
