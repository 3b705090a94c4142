"""Runtime engines (one package per runtime kind) implementing the lifecycle engine contract."""
