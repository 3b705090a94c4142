"""When ``fluidlc run`` may print the Dataset table: Bound comes before the metadata is loaded."""

from __future__ import annotations

from typing import Any

from lifecycle.cli.run import metadata_pending


def dataset(ufs_total: str | None, cache_states: dict[str, str] | None = None, **condition: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Bound", "cacheStates": cache_states or {"cached": "0.00B"}}
    if ufs_total is not None:
        status["ufsTotal"] = ufs_total
    if condition:
        status["conditions"] = [{"type": "MetadataSynced", **condition}]
    return {"status": status}


def test_a_loading_ufs_is_pending_with_the_conditions_progress() -> None:
    ds = dataset("[Calculating]", status="False", reason="MetadataSyncing",
                 message="loading the metadata of 2 mounts: running for 10s")
    assert metadata_pending(ds) == "loading the metadata of 2 mounts: running for 10s"
    assert metadata_pending(dataset("[Calculating]")) == "loading the UFS metadata"


def test_a_known_size_waits_for_its_percentage() -> None:
    assert metadata_pending(dataset("9.77KiB")) == "working out the cached percentage"
    assert metadata_pending(dataset("9.77KiB", {"cached": "0.00B", "cachedPercentage": "0.0%"})) is None


def test_an_engine_that_cannot_tell_the_size_is_not_waited_for() -> None:
    # Jindo, or autoSync off: no [Calculating], no size, nothing to wait for.
    assert metadata_pending(dataset(None)) is None
    assert metadata_pending(dataset("")) is None
