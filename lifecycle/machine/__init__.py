"""The pure lifecycle: the machines as tables, the runner that fires them, status rules.

Nothing here knows Kubernetes or the reconcile: a table names hooks, and whoever runs a machine
supplies them. This is the layer the model checker, the diagrams and the property tests read.
"""
