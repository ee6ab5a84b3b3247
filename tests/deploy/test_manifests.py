"""The shipped deployment files agree with the daemon: every manifest parses, and ports,
probes and drain timeouts match the ``serve`` command's own defaults and flags (read from
its parser and streamasr/server/defaults.py, never retyped here)."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamasr.cli import build_parser
from streamasr.server import defaults
from streamasr.server.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def serve_args(argv: list[str]) -> argparse.Namespace:
    """What ``streamasr serve ARGV`` would run with (the daemon's own parser)."""
    return build_parser().parse_args(["serve", *argv])


def manifests() -> dict[str, dict[str, Any]]:
    docs = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            docs[doc["kind"]] = doc
    return docs


def prestop_seconds(container: dict[str, Any]) -> float:
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    return float(command[1])


def test_every_manifest_is_valid_yaml_with_a_kind() -> None:
    assert set(manifests()) == {"Deployment", "Service", "HorizontalPodAutoscaler"}


def test_deployment_ports_probes_and_grace_period_agree_with_the_daemon() -> None:
    deployment = manifests()["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][0] == "serve"
    args = serve_args(container["args"][1:])
    assert args.port == defaults.DEFAULT_PORT
    assert args.host == "0.0.0.0"  # reachable from the Service, not only from the pod
    (port,) = container["ports"]
    assert port["containerPort"] == args.port
    readiness = container["readinessProbe"]["httpGet"]
    assert readiness["path"] == "/healthz" and readiness["port"] == port["name"]
    # A draining pod answers 503 on /healthz: liveness must not use it (it would be killed).
    assert "httpGet" not in container["livenessProbe"]
    # SIGKILL must not come before the preStop wait and the whole drain are over.
    grace = pod["terminationGracePeriodSeconds"]
    assert grace > prestop_seconds(container) + args.drain_timeout
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(args.port)
    assert annotations["prometheus.io/path"] == "/metrics"


def test_service_targets_the_container_port() -> None:
    docs = manifests()
    (container,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    (port,) = docs["Service"]["spec"]["ports"]
    assert port["targetPort"] in (
        container["ports"][0]["name"],
        container["ports"][0]["containerPort"],
    )
    assert (
        docs["Service"]["spec"]["selector"] == docs["Deployment"]["spec"]["selector"]["matchLabels"]
    )


def test_autoscaler_scales_on_a_metric_the_daemon_exports_below_its_session_limit() -> None:
    docs = manifests()
    hpa = docs["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == docs["Deployment"]["metadata"]["name"]
    (metric,) = hpa["spec"]["metrics"]
    name = metric["pods"]["metric"]["name"]
    exported = Metrics().render().decode()
    assert re.search(rf"^{name} ", exported, re.M), f"{name} is not on /metrics"
    (container,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    limit = serve_args(container["args"][1:]).max_connections
    assert 0 < float(metric["pods"]["target"]["averageValue"]) < limit


def systemd_unit() -> dict[str, str]:
    unit = {}
    for line in (DEPLOY / "systemd" / "streamasr@.service").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            unit[key] = value
    return unit


def test_systemd_replica_listens_on_its_instance_port_and_outlasts_its_drain() -> None:
    unit = systemd_unit()
    command = unit["ExecStart"].split()
    assert command[0].endswith("bin/serve")
    args = serve_args([w.replace("%i", "2701") for w in command[1:]])
    assert args.port == 2701
    assert unit["KillSignal"] == "SIGTERM"
    assert float(unit["TimeoutStopSec"]) > args.drain_timeout


def haproxy_lines() -> list[list[str]]:
    text = (DEPLOY / "haproxy.cfg").read_text()
    return [line.split("#")[0].split() for line in text.splitlines() if line.split("#")[0].strip()]


def seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", value).groups()  # type: ignore[union-attr]
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 0.001}[unit]


def test_haproxy_balances_sessions_on_health_checks_of_the_daemon() -> None:
    lines = haproxy_lines()
    assert ["balance", "leastconn"] in lines
    check = next(w for w in lines if w[:2] == ["http-check", "send"])
    assert check[check.index("uri") + 1] == "/healthz"
    assert check[check.index("ver") + 1] == "HTTP/1.1"  # the daemon answers nothing older
    assert ["http-check", "expect", "status", "200"] in lines  # 503 "draining" is out
    (bind,) = [w for w in lines if w[0] == "bind"]
    assert bind[1].endswith(f":{defaults.DEFAULT_PORT}")
    servers = [w for w in lines if w[0] == "server"]
    assert servers and all(int(w[2].rsplit(":", 1)[1]) != defaults.DEFAULT_PORT for w in servers)
    retry = next(w for w in lines if w[0] == "retry-on")
    assert "503" in retry  # a new session that reaches a draining replica goes elsewhere


def test_haproxy_tunnel_outlives_the_daemon_idle_timeout() -> None:
    timeouts = {w[1]: seconds(w[2]) for w in haproxy_lines() if w[0] == "timeout"}
    assert timeouts["tunnel"] > serve_args([]).idle_timeout


def test_haproxy_accepts_the_configuration() -> None:
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy is not installed; bin/test installs it")
    done = subprocess.run(
        ["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
