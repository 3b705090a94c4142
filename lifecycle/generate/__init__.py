"""Generated files and their drift checks: CRDs from the API models, the operator's manifests from
the registry, diagrams from the tables. Nothing below this layer imports it."""
