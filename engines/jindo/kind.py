"""How the JindoRuntime kind is registered: names, printer columns and scale subresource details.

Kept apart from the engine so the CRD generator and the engine share one definition without the
generator importing engine code. Jindo's scale subresource has no label selector, as the reference.
"""

from __future__ import annotations

from engines.jindo.api import JindoRuntime
from lifecycle import RuntimeKind

KIND_SPEC = RuntimeKind(
    kind="JindoRuntime",
    runtime_type="jindo",
    model=JindoRuntime,
    short_names=("jindo",),
    scale_selector=False,
)
