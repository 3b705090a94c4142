"""What an engine author tests with: a scripted engine to copy from and drive the lifecycle with.
The in-memory API server is ``lifecycle.k8s.memory``."""
