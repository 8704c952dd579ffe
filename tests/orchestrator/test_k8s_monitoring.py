"""Managed Service for Prometheus collects the bridges' metrics: the PodMonitoring selects exactly the generated
bridge pods, on a port their container declares and serves the metrics on, and the NetworkPolicy lets GKE's
collectors in. A renamed label or port fails here rather than silently stopping collection."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import REPO

BASE = REPO / "orchestrator" / "k8s" / "base"


def _documents(pattern: str) -> list[dict[str, Any]]:
    return [doc for path in sorted(BASE.glob(pattern)) for doc in yaml.safe_load_all(path.read_text()) if doc]


def _pod_templates() -> dict[str, dict[str, Any]]:
    """Every workload's pod template in the base, by workload name."""
    templates = {}
    for doc in _documents("**/*.yaml"):
        if doc["kind"] == "Deployment":
            templates[doc["metadata"]["name"]] = doc["spec"]["template"]
        elif doc["kind"] == "CronJob":
            templates[doc["metadata"]["name"]] = doc["spec"]["jobTemplate"]["spec"]["template"]
    return templates


def test_pod_monitoring_scrapes_every_bridge_and_nothing_else() -> None:
    (monitoring,) = _documents("podmonitoring-bridges.yaml")
    selector = monitoring["spec"]["selector"]
    assert set(selector) == {"matchLabels"}, "matchLabels only, so that this test can evaluate the selector"
    templates = _pod_templates()
    bridges = {doc["metadata"]["name"] for doc in _documents("streams/bridge-*.yaml") if doc["kind"] == "Deployment"}
    assert bridges, "no generated bridge Deployment"
    selected = {
        name
        for name, template in templates.items()
        if selector["matchLabels"].items() <= template["metadata"]["labels"].items()
    }
    assert selected == bridges

    (endpoint,) = monitoring["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    for name in bridges:
        (container,) = templates[name]["spec"]["containers"]
        ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        assert endpoint["port"] in ports, f"{name} declares no port {endpoint['port']!r}: {sorted(ports)}"
        env = {var["name"]: var.get("value") for var in container["env"]}
        assert str(ports[endpoint["port"]]) == env["MDP_BRIDGE_METRICS_PORT"], f"{name} serves its metrics elsewhere"


def test_network_policy_lets_the_managed_collectors_scrape() -> None:
    (monitoring,) = _documents("podmonitoring-bridges.yaml")
    (policy,) = [doc for doc in _documents("networkpolicies.yaml") if doc["metadata"]["name"] == "mdp-bridge-metrics"]
    assert policy["spec"]["podSelector"] == monitoring["spec"]["selector"]
    collectors = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gmp-system"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "collector"}},
    }
    (rule,) = [rule for rule in policy["spec"]["ingress"] if collectors in rule["from"]]
    bridge = next(doc for doc in _documents("streams/bridge-*.yaml") if doc["kind"] == "Deployment")
    ports = {
        port["name"]: port["containerPort"] for port in bridge["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert rule["ports"] == [{"port": ports[monitoring["spec"]["endpoints"][0]["port"]], "protocol": "TCP"}]
