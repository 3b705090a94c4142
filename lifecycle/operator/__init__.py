"""The operator process: watches feed a work queue, workers run the reconcile, one leader at a time."""
