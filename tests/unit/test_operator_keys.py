"""Which pairs a watched object wakes: the mapping from events to work-queue keys."""

from __future__ import annotations

from typing import Any

import pytest

from lifecycle.k8s.naming import DATASET_ID_LABEL
from lifecycle.operator.manager import beyond_status, keys_for, secret_readers
from lifecycle.operator.projections import without_values

KINDS = {"AlluxioRuntime", "JindoRuntime"}


def dataset(name: str, **spec: Any) -> dict[str, Any]:
    return {"kind": "Dataset", "metadata": {"name": name, "namespace": "team"}, "spec": spec}


def secret_ref(name: str) -> dict[str, Any]:
    return {"name": "aws.secretKey", "valueFrom": {"secretKeyRef": {"name": name, "key": "secret"}}}


def test_owned_objects_claims_and_pods_map_to_their_pair() -> None:
    owned = {"kind": "StatefulSet", "metadata": {"name": "imagenet-worker", "namespace": "team", "ownerReferences": [
        {"kind": "AlluxioRuntime", "name": "imagenet"}, {"kind": "ReplicaSet", "name": "other"}]}}
    assert keys_for(owned, KINDS) == [("team", "imagenet")]
    claim = {"kind": "PersistentVolumeClaim", "metadata": {"name": "imagenet", "namespace": "team",
                                                           "labels": {DATASET_ID_LABEL: "team-imagenet"}}}
    assert keys_for(claim, KINDS) == [("team", "imagenet")]
    assert keys_for({**claim, "metadata": {**claim["metadata"], "labels": {}}}, KINDS) == []  # not ours
    reader = {"kind": "Pod", "metadata": {"name": "trainer", "namespace": "team"},
              "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "imagenet"}}]}}
    assert keys_for(reader, KINDS) == [("team", "imagenet")]
    assert keys_for(dataset("mix", mounts=[{"mountPoint": "dataset://base/imagenet"}]), KINDS) == [
        ("team", "mix"), ("base", "imagenet")]


def test_a_secret_wakes_the_datasets_that_read_it_and_no_others() -> None:
    datasets = [
        dataset("reads-in-a-mount", mounts=[{"mountPoint": "s3://a", "encryptOptions": [secret_ref("s3-keys")]}]),
        dataset("reads-shared", sharedEncryptOptions=[secret_ref("s3-keys")], mounts=[{"mountPoint": "s3://b"}]),
        dataset("reads-another", mounts=[{"mountPoint": "s3://c", "encryptOptions": [secret_ref("oss-keys")]}]),
        dataset("reads-none", mounts=[{"mountPoint": "s3://d"}]),
    ]
    secret = {"kind": "Secret", "metadata": {"name": "s3-keys", "namespace": "team"}}
    assert secret_readers(secret, datasets) == [("team", "reads-in-a-mount"), ("team", "reads-shared")]


def test_watched_secrets_lose_their_values_before_they_are_kept() -> None:
    secret = {"kind": "Secret", "metadata": {"name": "s3-keys", "resourceVersion": "7", "managedFields": [{}]},
              "data": {"secret": "czNjcjN0"}, "stringData": {"plain": "value"}}
    assert without_values(secret) == {"kind": "Secret", "metadata": {"name": "s3-keys", "resourceVersion": "7"}}


def test_only_updates_beyond_status_wake_a_pair() -> None:
    old = {**dataset("a", mounts=[]), "status": {"phase": "NotBound"}}
    old["metadata"]["generation"] = 1
    assert not beyond_status(old, {**old, "status": {"phase": "Bound", "attempts": 3}})
    assert beyond_status(old, {**old, "spec": {"mounts": [{"mountPoint": "s3://x"}]}})
    assert beyond_status(old, {**old, "metadata": {**old["metadata"], "deletionTimestamp": "2026-11-25T00:00:00Z"}})
    assert beyond_status(old, {**old, "metadata": {**old["metadata"], "finalizers": ["x"]}})


def test_secrets_are_watched_unless_switched_off() -> None:
    from lifecycle.engine.registry import Registry
    from lifecycle.operator.manager import Operator, Settings

    def informed(settings: Settings) -> set[str]:
        operator = Operator(settings, Registry(), api=object())  # nothing is called before start()
        return set(operator.informers)

    assert "secrets" in informed(Settings())
    assert "secrets" not in informed(Settings(watch_secrets=False))
    gateway = Operator(Settings(), Registry(), api=object()).gateway
    assert "secrets" not in gateway.informers and "secrets" in gateway.watched  # never a cache: versions only


def test_versions_of_watched_secrets_come_from_the_watch_without_a_request() -> None:
    from lifecycle.k8s.gateway import SECRET
    from lifecycle.operator.cache import CachedGateway

    class NoRequests:
        def get(self, *args: Any) -> None:
            raise AssertionError("a request to the API server")

    class Watched:
        available = True

        def get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
            return {"metadata": {"name": name, "resourceVersion": "42"}} if name == "s3-keys" else None

    gateway = CachedGateway(NoRequests(), {}, watched={"secrets": Watched()})  # type: ignore[arg-type,dict-item]
    assert gateway.resource_version(SECRET, "team", "s3-keys") == "42"
    assert gateway.resource_version(SECRET, "team", "gone") is None


def test_versions_of_secrets_the_operator_may_not_watch_are_read_from_the_api_server() -> None:
    from lifecycle.k8s.gateway import SECRET
    from lifecycle.operator.cache import CachedGateway

    class Api:
        def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any]:
            return {"metadata": {"name": name, "resourceVersion": "7"}}

    class Forbidden:
        available = False

        def get(self, namespace: str | None, name: str) -> None:
            return None  # an empty cache: it never listed

    gateway = CachedGateway(Api(), {}, watched={"secrets": Forbidden()})  # type: ignore[arg-type,dict-item]
    assert gateway.resource_version(SECRET, "team", "s3-keys") == "7"


def test_every_request_is_counted_by_method_and_status() -> None:
    from lifecycle.engine.registry import Registry
    from lifecycle.k8s.gateway import CONFIG_MAP, NotFound
    from lifecycle.operator.manager import Operator, Settings

    class Response:
        def __init__(self, status: int, body: bytes):
            self.status, self.data = status, body

        def read(self) -> bytes:
            return self.data

        def release_conn(self) -> None:
            pass

    class Api:  # the ApiServer's one method the gateway calls
        def request(self, method: str, path: str, **_: Any) -> Response:
            return Response(404, b'{"message": "not found"}') if path.endswith("/gone") else Response(200, b"{}")

    operator = Operator(Settings(), Registry(), api=Api())
    operator.kube.get(CONFIG_MAP, "team", "here")
    assert operator.kube.get(CONFIG_MAP, "team", "gone") is None
    operator.kube.patch(CONFIG_MAP, "team", "here", {"data": {}})
    with pytest.raises(NotFound):
        operator.kube.patch(CONFIG_MAP, "team", "gone", {"data": {}})
    text = operator.metrics.exposition().decode()
    assert 'rest_client_requests_total{code="200",method="GET"} 1.0' in text
    assert 'rest_client_requests_total{code="404",method="GET"} 1.0' in text
    assert 'rest_client_requests_total{code="200",method="PATCH"} 1.0' in text
    assert 'rest_client_requests_total{code="404",method="PATCH"} 1.0' in text


def test_a_finished_sync_wakes_its_pair_behind_events_and_caches_keep_projections() -> None:
    from lifecycle.engine.registry import Registry
    from lifecycle.operator.manager import Operator, Settings
    from lifecycle.operator.projections import pod_without_container_specs, workload_without_container_specs

    operator = Operator(Settings(), Registry(), api=object())
    operator.reconciler.background.wake(("team", "synced"))
    operator.queue.add(("team", "scaled"))  # a watch event
    assert operator.queue.get() == ("team", "scaled")
    assert operator.queue.get() == ("team", "synced")
    assert operator.informers["pods"].transform is pod_without_container_specs
    assert operator.informers["statefulsets"].transform is workload_without_container_specs


def test_a_reconcile_still_running_at_shutdown_may_start_a_sync() -> None:
    import threading
    from datetime import UTC, datetime

    from lifecycle.engine.registry import Registry
    from lifecycle.operator.manager import Operator, Settings

    operator = Operator(Settings(), Registry(), api=object())
    queue_closed, outcome = threading.Event(), []
    shut_down = operator.queue.shut_down
    operator.queue.shut_down = lambda: (shut_down(), queue_closed.set())  # type: ignore[method-assign]

    def in_flight() -> None:  # a pass that was under way when the signal came
        queue_closed.wait(5)
        try:
            outcome.append(operator.reconciler.background.start("sync", lambda: "synced", datetime.now(UTC)))
        except RuntimeError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=in_flight, daemon=True)
    worker.start()
    operator._workers = [worker]
    operator.shutdown(grace=5)
    assert not isinstance(outcome[0], RuntimeError), outcome
    with pytest.raises(RuntimeError, match="after shutdown"):
        operator.reconciler.background.start("late", lambda: None, datetime.now(UTC))
