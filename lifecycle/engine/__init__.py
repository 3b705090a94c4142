"""The engine contract: what a runtime kind supplies (Fluid's ``Implement`` hooks), how kinds are
registered and found (entry points), and long engine work off the reconcile's path."""
