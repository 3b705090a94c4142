"""Fixtures for the tests under tests/cluster: one real control plane per test session.

`cluster` brings it up (3 kwok nodes) in a temporary folder and always takes it down again; its
processes are also tied to the test process, so even a killed run leaves none behind. Its API
server writes an audit log at Metadata level (tests/cluster/test_shared_cluster.py reads it). `kube` is the
product's own connection to it as admin (for ``KubeGateway``), `typed_kube` an admin ApiClient of the
`kubernetes` client (a second, independent client, for the tests' own checks) and `namespace` a
fresh namespace per test. Every test collected here gets
the `cluster` marker, so `-m "not cluster"` leaves them all out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from lifecycle.k8s.connection import ApiServer
from lifecycle.local import LocalCluster
from tests.cluster import eventually

HERE = Path(__file__).resolve().parent
NODES = 3


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: the marker must be on before `-m` selection looks at the items.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster("test", tmp_path_factory.mktemp("cluster"), tie_to_caller=True, audit_level="Metadata")
    try:
        local.up(nodes=NODES)
        yield local
    finally:
        local.down()


@pytest.fixture(scope="session")
def kube(cluster: LocalCluster) -> Iterator[ApiServer]:
    with cluster.connect() as api:
        yield api


@pytest.fixture(scope="session")
def typed_kube(cluster: LocalCluster) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(config_file=str(cluster.kubeconfig)) as api:
        yield api


@pytest.fixture
def namespace(typed_kube: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new namespace named after the test, deleted afterwards; its `default` ServiceAccount exists."""
    core = client.CoreV1Api(typed_kube)
    prefix = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(generate_name=f"{prefix}-")))
    assert created.metadata is not None and created.metadata.name is not None
    name = created.metadata.name

    def default_account() -> bool:
        try:
            core.read_namespaced_service_account("default", name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # Pods are refused until the controller manager has made the namespace's default ServiceAccount.
    eventually(default_account, bool, 30, f"the default ServiceAccount in {name}")
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
