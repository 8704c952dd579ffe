"""Generate the Kubernetes bridge of each stream spec: a Deployment running `mdp bridge run <name>` and its
PodDisruptionBudget, in `orchestrator/k8s/base/streams/`, with the kustomization that lists them.

Every generated file starts with a header naming this module; files carrying it and no longer produced (a removed
spec) are stale and removed. The overlays size the bridges by their common label (app.kubernetes.io/name:
mdp-bridge) or one of them by its name (mdp-bridge-<stream>).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orchestrator.specs.dbt_codegen import apply_generated_files, plan_generated_files
from streaming.spec import StreamSpec

__all__ = [
    "STREAMS_FOLDER",
    "STREAM_K8S_MARKER",
    "deployment_name",
    "generate_stream_k8s_files",
    "stale_stream_k8s_files",
]

STREAM_K8S_MARKER = "by streaming/k8s_codegen.py"
STREAMS_FOLDER = "streams"
"""Under the kustomize base (orchestrator/k8s/base), which lists it as a resource."""


def _header(source: str) -> str:
    return f"# Generated from {source} {STREAM_K8S_MARKER}: do not edit; change the spec and regenerate.\n"


def deployment_name(spec: StreamSpec) -> str:
    """The name of a stream's bridge Deployment (and its PodDisruptionBudget)."""
    return f"mdp-bridge-{spec.name.replace('_', '-')}"


def _labels(spec: StreamSpec, indent: int) -> str:
    """The labels of a stream's bridge objects, as YAML lines after the first indented by `indent` spaces."""
    pairs = {
        "app.kubernetes.io/name": "mdp-bridge",
        "app.kubernetes.io/instance": deployment_name(spec),
        "app.kubernetes.io/component": "streaming",
        "mdp.bank/stream": spec.name,
    }
    return f"\n{' ' * indent}".join(f"{key}: {value}" for key, value in pairs.items())


def _bridge_yaml(spec: StreamSpec) -> str:
    name = deployment_name(spec)
    return (
        _header(f"source_specs/streaming/{spec.path.name}")
        + f"""# Kafka -> Pub/Sub bridge of the {spec.name} stream (`mdp bridge run {spec.name}`). Replicas share the
# spec's consumer group ({spec.consumer_group}), so Kafka spreads the partitions over them; on SIGTERM a replica
# flushes its publishes and commits before it exits.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    {_labels(spec, 4)}
spec:
  replicas: 2
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      app.kubernetes.io/name: mdp-bridge
      app.kubernetes.io/instance: {name}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # One consumer-group rebalance at a time.
      maxUnavailable: 1
      maxSurge: 0
  template:
    metadata:
      labels:
        {_labels(spec, 8)}
    spec:
      serviceAccountName: mdp-bridge
      automountServiceAccountToken: false
      # Time to flush in-flight publishes and commit the acknowledged offsets.
      terminationGracePeriodSeconds: 60
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              app.kubernetes.io/instance: {name}
      containers:
        - name: bridge
          image: mdp-bridge
          args: ["bridge", "run", "{spec.name}"]
          ports:
            - name: http
              containerPort: 8080
          envFrom:
            - configMapRef:
                name: mdp-settings
          env:
            - name: MDP_BRIDGE_METRICS_PORT
              value: "8080"
            # Static group membership: a restarted pod gets its partitions back without a rebalance.
            - name: MDP_BRIDGE_INSTANCE_ID
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            # Avro streams that take writer schemas from the producers' registry (MDP_SCHEMA_REGISTRY_URL in
            # mdp-settings): its user:password, where it wants one.
            - name: MDP_SCHEMA_REGISTRY_USER_INFO
              valueFrom:
                secretKeyRef: {{ name: mdp-schema-registry, key: user-info, optional: true }}
          # /healthz fails while the loop stops turning or a partition stays unread (docs/streaming.md,
          # Backpressure): after a minute of failures the pod is restarted.
          livenessProbe:
            httpGet: {{ path: /healthz, port: http }}
            initialDelaySeconds: 10
            periodSeconds: 15
            failureThreshold: 4
          readinessProbe:
            httpGet: {{ path: /healthz, port: http }}
            periodSeconds: 10
          resources:
            requests: {{ cpu: "1", memory: 1Gi }}
            limits: {{ memory: 2Gi }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - {{ name: tmp, mountPath: /tmp }}
      volumes:
        - name: tmp
          emptyDir: {{ sizeLimit: 256Mi }}
---
# Voluntary disruptions (node upgrades, drains) take at most one replica of this bridge at a time.
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {name}
  labels:
    {_labels(spec, 4)}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: mdp-bridge
      app.kubernetes.io/instance: {name}
"""
    )


def _kustomization_yaml(specs: Sequence[StreamSpec]) -> str:
    listed = (
        "resources:\n" + "".join(f"  - bridge-{spec.name}.yaml\n" for spec in specs) if specs else "resources: []\n"
    )
    return (
        _header("source_specs/streaming/*.yaml")
        + "# One bridge Deployment and PodDisruptionBudget per stream spec.\n"
        + "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        + "kind: Kustomization\n\n"
        + listed
    )


def _render_all(specs: Sequence[StreamSpec]) -> dict[str, str]:
    """Every generated file's path (relative to the kustomize base) and content."""
    ordered = sorted(specs, key=lambda spec: spec.name)
    files = {f"{STREAMS_FOLDER}/kustomization.yaml": _kustomization_yaml(ordered)}
    for spec in ordered:
        files[f"{STREAMS_FOLDER}/bridge-{spec.name}.yaml"] = _bridge_yaml(spec)
    return files


def stale_stream_k8s_files(specs: Sequence[StreamSpec], base_dir: Path) -> list[Path]:
    """Generated bridge files that are missing, out of date or no longer produced (for `--check`)."""
    to_write, to_remove = plan_generated_files(_render_all(specs), base_dir, (STREAMS_FOLDER,), STREAM_K8S_MARKER)
    return sorted([*to_write, *to_remove])


def generate_stream_k8s_files(specs: Sequence[StreamSpec], base_dir: Path) -> list[Path]:
    """Write generated bridge files whose content changed, remove stale ones; return every path touched."""
    plan = plan_generated_files(_render_all(specs), base_dir, (STREAMS_FOLDER,), STREAM_K8S_MARKER)
    return apply_generated_files(plan, base_dir, (STREAMS_FOLDER,))
