"""How the AlluxioRuntime kind is registered: names, printer columns and scale subresource details.

Kept apart from the engine so the CRD generator and the engine share one definition without the
generator importing engine code.
"""

from __future__ import annotations

from engines.alluxio.api import AlluxioRuntime
from lifecycle import RuntimeKind

API_GATEWAY_COLUMN = {
    "name": "API Gateway",
    "type": "string",
    "jsonPath": ".status.apiGateway.endpoint",
    "priority": 10,
}

KIND_SPEC = RuntimeKind(
    kind="AlluxioRuntime",
    runtime_type="alluxio",
    model=AlluxioRuntime,
    short_names=("alluxio",),
    extra_printer_columns=(API_GATEWAY_COLUMN,),
    scale_selector=True,
)
