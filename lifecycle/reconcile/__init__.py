"""The thin reconcile: one pass over a Dataset/runtime pair restores both machines from status,
fires their triggers with the pair's hooks, and writes back only what changed."""
