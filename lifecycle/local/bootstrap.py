"""What a fresh local API server needs before anything runs on it: kwok's CRDs, and the default
ServiceAccount the controller-manager makes (pods are refused in a namespace without one)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import yaml

from lifecycle.k8s.gateway import CRD, SERVICE_ACCOUNT, Conflict
from lifecycle.k8s.kube import KubeGateway
from lifecycle.local.components import FIXES
from lifecycle.local.processes import ComponentError, wait_for


def install_crds(gw: KubeGateway, paths: list[Path], timeout: float, log: Path) -> None:
    """Create the CRDs in ``paths`` (keeping existing ones) and wait until they are Established."""
    names = []
    for path in paths:
        manifest = yaml.safe_load(path.read_text())
        names.append(manifest["metadata"]["name"])
        with contextlib.suppress(Conflict):
            gw.create(manifest)

    def established() -> bool:
        for name in names:
            crd = gw.get(CRD, None, name) or {}
            conditions = (crd.get("status") or {}).get("conditions") or []
            if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                return False
        return True

    if not wait_for(established, timeout):
        raise ComponentError("crds", f"{', '.join(names)} not Established within {timeout:g}s",
                             "look for CRD errors in the API server log", log)


def wait_default_service_account(gw: KubeGateway, timeout: float, log: Path) -> None:
    if not wait_for(lambda: gw.get(SERVICE_ACCOUNT, "default", "default") is not None, timeout):
        raise ComponentError("kube-controller-manager",
                             f"the `default` ServiceAccount did not appear within {timeout:g}s",
                             FIXES["kube-controller-manager"], log)
