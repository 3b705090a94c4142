"""The bad-manifest battery (tests/battery.py) at the real API server's door.

Every case is sent to the API server with the committed CRDs installed. A case the schema or a CEL
rule can judge must be refused there (422, naming the field); every other case is stored, and the
operator's reconcile, run against the same API server, refuses it with an ErrorValidateSpecFields
event carrying the words ``fluidlc validate`` prints for the same files. Nothing is created for a
refused pair and no pass raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from engines.jindo.kind import KIND_SPEC as JINDO
from lifecycle.cli.run import install_crds
from lifecycle.cli.validate import validate_files
from lifecycle.engine.registry import Registry
from lifecycle.k8s.connection import ApiServer
from lifecycle.k8s.gateway import CONFIG_MAP, EVENT, PVC, STATEFUL_SET, ApiError, Invalid
from lifecycle.k8s.kube import KubeGateway
from lifecycle.reconcile.reconciler import Reconciler
from tests.battery import CASES, Case, cache_registry
from tests.tally import TALLY

pytestmark = pytest.mark.cluster

REFUSED = "ErrorValidateSpecFields"
EVENT_LIMIT = 1024  # what KubeGateway.event keeps of a message


@pytest.fixture(scope="module")
def registry() -> Registry:
    return cache_registry()


@pytest.fixture(scope="module")
def gateway(kube: ApiServer) -> Iterator[KubeGateway]:
    gw = KubeGateway(kube, (ALLUXIO.resource, JINDO.resource))
    install_crds(gw)
    yield gw


def send(gw: KubeGateway, case: Case, namespace: str) -> list[str]:
    """Create the pair's objects; the API server's refusals, if any."""
    refusals = []
    for doc in case.documents(namespace):
        try:
            gw.create(doc)
        except Invalid as exc:
            refusals.append(str(exc))
    return refusals


def test_every_case_is_refused_by_the_api_server_or_by_the_operator_with_validates_words(
        gateway: KubeGateway, registry: Registry, namespace: str, tmp_path: Path) -> None:
    schema_cases = [c for c in CASES if c.api]
    operator_cases = [c for c in CASES if not c.api]
    wrong: list[str] = []
    for case in schema_cases:
        refusals = send(gateway, case, namespace)
        if not any(case.api in r for r in refusals):
            wrong.append(f"{case.id}: the API server did not refuse it naming {case.api}: {refusals}")
    for case in operator_cases:
        if refusals := send(gateway, case, namespace):
            wrong.append(f"{case.id}: marked for the operator, but the API server refused it: {refusals}")
    reconciler = Reconciler(gateway, registry)
    for case in operator_cases:
        for _ in range(2):
            reconciler.reconcile(namespace, case.name)  # raises if a pass crashes
    said: dict[str, set[str]] = {}
    for event in gateway.list(EVENT, namespace):
        if event.get("reason") == REFUSED:
            said.setdefault(event["involvedObject"]["name"], set()).add(event.get("message", ""))
    for case in operator_cases:
        manifest = tmp_path / f"{case.id}.yaml"
        manifest.write_text(yaml.safe_dump_all(case.documents(namespace)))
        lines = [p.removeprefix(f"{manifest}: ") for p in validate_files([manifest], registry).problems]
        expected = ({"; ".join(lines)[:EVENT_LIMIT]}, {line[:EVENT_LIMIT] for line in lines})
        if not lines or said.get(case.name) not in expected:
            wrong.append(f"{case.id}: validate said {lines}, the operator said {said.get(case.name)}")
    assert not wrong, "\n".join(wrong)
    made = [o["metadata"]["name"] for res in (STATEFUL_SET, CONFIG_MAP, PVC) for o in gateway.list(res, namespace)
            if o["metadata"]["name"] != "kube-root-ca.crt"]
    assert made == [], "a refused pair made objects (a property with a newline wrote no configuration)"
    TALLY["bad manifests refused by the real API server"] += len(schema_cases)
    TALLY["bad manifests refused by the operator on the real API server"] += len(operator_cases)


def test_the_api_server_names_the_field_in_its_refusal(gateway: KubeGateway, namespace: str) -> None:
    """What a user sees from kubectl apply: the field and our rule's message, not a bare 422."""
    case = next(c for c in CASES if c.id == "mount-name-duplicate")
    with pytest.raises(ApiError) as refused:
        gateway.create(case.documents(namespace)[0])
    assert "spec.mounts" in str(refused.value) and "give every mount a unique name" in str(refused.value)
