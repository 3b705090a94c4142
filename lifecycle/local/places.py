"""Where local clusters and the tools built for them live on this machine, after the XDG base
directory rules (the local control plane runs on Linux only, so no other platform's rules apply).

    clusters   $FLUIDLC_CLUSTER_DIR (the folder of the one cluster meant), else
               ${XDG_STATE_HOME:-~/.local/state}/fluid-lifecycle/clusters/<name>
    built      $FLUIDLC_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/fluid-lifecycle: the control plane
               and helm, built from the shipped Go pins (build.sh computes the same folder)

A cluster's folder is state: its etcd data, certificates, logs and simulated UFS should survive a
cache clean-up, and none of it belongs in a source checkout or next to an installed package.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "fluid-lifecycle"
CLUSTER_DIR_ENV = "FLUIDLC_CLUSTER_DIR"
CACHE_ENV = "FLUIDLC_CACHE"


def _xdg(variable: str, fallback: str) -> Path:
    # The specification says to ignore a relative path in these variables.
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else Path.home() / fallback


def clusters_root() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / APP / "clusters"


def cluster_dir(name: str) -> Path:
    """$FLUIDLC_CLUSTER_DIR when set (it is the cluster folder itself), else the user's state folder."""
    override = os.environ.get(CLUSTER_DIR_ENV)
    return Path(override) if override else clusters_root() / name


def cache_root() -> Path:
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else _xdg("XDG_CACHE_HOME", ".cache") / APP
