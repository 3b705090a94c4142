"""The operator's own manifests: namespace, ServiceAccount, least-privilege RBAC, Deployment and the
metrics Service; the Helm chart (``lifecycle.generate.chart``) is made from the same objects.

Generated from the registry, so every installed runtime kind gets exactly the verbs the lifecycle
uses on it. Each rule below is there because some code path needs it (named in the comment).
``fluidlc manifests`` writes ``deploy/operator.yaml`` (shipped in the package as
``lifecycle/deploy/operator.yaml``); a test checks it is current, another runs the operator with
nothing but this ServiceAccount's token.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from lifecycle.api.operations import OPERATION_MODELS
from lifecycle.deploy import OPERATOR_YAML, output, version
from lifecycle.engine.registry import Registry

NAMESPACE = "fluid-system"
NAME = "fluid-lifecycle-operator"
METRICS_PORT = 8080
LABELS = {"app.kubernetes.io/name": "fluid-lifecycle", "app.kubernetes.io/component": "operator"}
IMAGE_REPOSITORY = "fluid-lifecycle"
IMAGE = f"{IMAGE_REPOSITORY}:{version()}"  # what `make image` builds: the package version is the tag
DEFAULT_PATH = OPERATOR_YAML
READ = ["get", "list", "watch"]


OPERATIONS = tuple(sorted(m.PLURAL for m in OPERATION_MODELS))


def cluster_rules(registry: Registry, watch_secrets: bool = True) -> list[dict[str, Any]]:
    kinds = sorted(k.plural for k in registry.kinds())
    return [
        # Datasets: watched; finalizers, labels, annotations are merge patches. Never deleted.
        {"apiGroups": ["data.fluid.io"], "resources": ["datasets"], "verbs": [*READ, "patch"]},
        # Runtimes: the same, and a Dataset being deleted deletes its runtime.
        {"apiGroups": ["data.fluid.io"], "resources": kinds, "verbs": [*READ, "patch", "delete"]},
        # Status is replaced (PUT) through the status subresource; it is read with the object.
        {"apiGroups": ["data.fluid.io"], "resources": [f"{p}/status" for p in ["datasets", *kinds, *OPERATIONS]],
         "verbs": ["update"]},
        # Data operations: watched; our finalizer is a merge patch; a finished one's TTL deletes it.
        {"apiGroups": ["data.fluid.io"], "resources": list(OPERATIONS), "verbs": [*READ, "patch", "delete"]},
        # Their Jobs: one per run, deleted with the run or the operation.
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": [*READ, "create", "delete"]},
        # Workloads: watched, created, then applied server-side (a patch), deleted on shutdown.
        {"apiGroups": ["apps"], "resources": ["statefulsets", "daemonsets"],
         "verbs": [*READ, "create", "patch", "delete"]},
        # Config and services of the cache: watched (read from the cache), created, applied, deleted.
        {"apiGroups": [""], "resources": ["configmaps", "services"],
         "verbs": [*READ, "create", "patch", "delete"]},
        # The PV and PVC of each Dataset.
        {"apiGroups": [""], "resources": ["persistentvolumes", "persistentvolumeclaims"],
         "verbs": [*READ, "create", "delete"]},
        # Pods: which ones mount a Dataset's PVC, and the cache master to run commands in.
        {"apiGroups": [""], "resources": ["pods"], "verbs": READ},
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
        # Nodes: cache placement labels.
        {"apiGroups": [""], "resources": ["nodes"], "verbs": [*READ, "patch"]},
        # Secrets: read for encryptOptions; listed and watched as metadata only (values never sent)
        # to wake the pairs that read them, unless the operator runs with --no-watch-secrets.
        {"apiGroups": [""], "resources": ["secrets"], "verbs": READ if watch_secrets else ["get"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    ]


def manifests(registry: Registry, image: str = IMAGE, watch_secrets: bool = True) -> list[dict[str, Any]]:
    """The operator's objects; ``watch_secrets=False`` runs it with ``--no-watch-secrets`` and grants
    only ``get`` on Secrets (a changed Secret is then seen at the next resync)."""
    labels = dict(LABELS)
    meta = {"name": NAME, "namespace": NAMESPACE, "labels": labels}
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "failureThreshold": 3}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": labels}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": NAME, "labels": labels}, "rules": cluster_rules(registry, watch_secrets)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": NAME, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
        # Leader election, in the operator's namespace only.
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
         "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                    "verbs": ["get", "create", "patch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
            "replicas": 2,  # one leads, one stands by
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "serviceAccountName": NAME,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65532,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "terminationGracePeriodSeconds": 40,
                "containers": [{
                    "name": "operator",
                    "image": image,
                    "args": ["operator", "--metrics-address", f"0.0.0.0:{METRICS_PORT}", "--lease-namespace", NAMESPACE,
                             *([] if watch_secrets else ["--no-watch-secrets"])],
                    "env": [{"name": "FLUIDLC_LOG_FORMAT", "value": "json"},
                            {"name": "FLUIDLC_IDENTITY", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    "ports": [{"name": "http", "containerPort": METRICS_PORT}],
                    "livenessProbe": probe,
                    "readinessProbe": {**probe, "httpGet": {"path": "/readyz", "port": "http"}},
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                  "limits": {"memory": "512Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}},
                }],
            }},
        }},
        # /metrics of every replica (the standby's too), for a scraper that follows Service endpoints.
        {"apiVersion": "v1", "kind": "Service", "metadata": {**meta, "name": f"{NAME}-metrics"}, "spec": {
            "selector": labels,
            "ports": [{"name": "http", "port": METRICS_PORT, "targetPort": "http", "protocol": "TCP"}],
        }},
    ]


def render(registry: Registry, watch_secrets: bool = True) -> str:
    flag = "" if watch_secrets else " --no-watch-secrets"
    header = f"# Generated by `fluidlc manifests{flag}` from the installed engines; do not edit.\n"
    return header + str(yaml.safe_dump_all(manifests(registry, watch_secrets=watch_secrets), sort_keys=False))


def _run(args: argparse.Namespace) -> int:
    text = render(Registry().discover(), watch_secrets=args.watch_secrets)
    if args.out == "-":
        print(text, end="")
        return 0
    path = Path(args.out or DEFAULT_PATH) if args.check else output(DEFAULT_PATH, args.out, "manifests")
    if args.check:
        if not path.exists() or path.read_text() != text:
            print(f"{path} is stale; run `fluidlc manifests` (or `make generate`) and commit it")
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(text)
    print(path)
    return 0


def add_manifests_command(subparsers: Any) -> None:
    parser = subparsers.add_parser("manifests", help="write deploy/operator.yaml (RBAC, Deployment) from the engines")
    parser.add_argument("--out", help=f"file to write, or - for standard output (default: {DEFAULT_PATH})")
    parser.add_argument("--no-watch-secrets", dest="watch_secrets", action="store_false",
                        help="for an operator run with --no-watch-secrets: only `get` on Secrets")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file is stale")
    parser.set_defaults(func=_run)
