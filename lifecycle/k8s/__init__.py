"""The door to Kubernetes: the gateway protocol, its real (REST) and in-memory implementations,
exec into pods, events, and the names, labels and volumes a pair puts on the cluster.

The only layer that talks to an API server: over its own connection (``connection``, ``kubeconfig``),
not the ``kubernetes`` client, which only the tests use.
"""
