"""fluid-lifecycle core: API models, the lifecycle machines, the engine contract and the operator."""
