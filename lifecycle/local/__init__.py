"""A real Kubernetes control plane on 127.0.0.1, for tests and for running the operator locally.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as local processes built from
the Go pins shipped in ``lifecycle.deploy`` (controlplane/build.sh); kwok simulates nodes and the
pods on them, and the exec provisioner makes an exec into a simulated pod run a local command.
Every server listens on a free loopback port, so several clusters can run side by side. A cluster's
folder is in the user's state directory (``lifecycle.local.places``).

    cluster = LocalCluster("dev")
    cluster.up(nodes=3, progress=print)
    ...  # KUBECONFIG=cluster.kubeconfig
    cluster.down()
"""

from lifecycle.local.cluster import (
    DEFAULT_NAME,
    LocalCluster,
    default_dir,
)
from lifecycle.local.components import COMPONENTS, ComponentStatus
from lifecycle.local.places import CLUSTER_DIR_ENV
from lifecycle.local.processes import ComponentError

__all__ = [
    "CLUSTER_DIR_ENV",
    "COMPONENTS",
    "DEFAULT_NAME",
    "ComponentError",
    "ComponentStatus",
    "LocalCluster",
    "default_dir",
]
