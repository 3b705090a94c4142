#!/usr/bin/env bash
# Builds helm from the Go module pinned in helm/go.mod beside this script, into its own cache entry
# keyed by the pinned version and a hash of the pins and of the build recipe. Idempotent: a complete
# cache entry is reused in well under a second.
#
#   deploy/tools/build-helm.sh              build if needed, print the bin directory on the last line
#   FLUIDLC_CACHE=/some/dir build-helm.sh   cache root (default: ${XDG_CACHE_HOME:-~/.cache}/fluid-lifecycle)
#
# The pins live here and not under controlplane/ on purpose: controlplane/build.sh hashes every
# controlplane/*/go.mod into its cache key, so a helm pin there would force a control-plane rebuild.
# The two builds share nothing but the cache root, Go's own caches and ../gobuild.sh (messages and
# the step runner, part of neither key); each has its own lock.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=../gobuild.sh
source "$here/../gobuild.sh"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
build_name=helm

helm_version="$(awk '$1=="helm.sh/helm/v3"{print $2}' "$here/helm/go.mod")"
client_go_version="$(awk '$1=="k8s.io/client-go"{print $2}' "$here/helm/go.mod")"

# The recipe: what shapes the binary besides the pins, and so part of the cache key. The same -X
# variables helm's own Makefile sets for a tagged release. The module zip carries no git metadata,
# so gitCommit stays empty. The chartutil/lint variables make .Capabilities.KubeVersion (and the
# deprecation lint) follow the client-go helm was built with, as in a release binary; without them
# helm falls back to v1.20.
recipe() { # recipe <out dir>
    local out="$1" k8s_minor ldflags pkg
    k8s_minor="${client_go_version#v0.}"; k8s_minor="${k8s_minor%%.*}"
    ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${helm_version}"
    ldflags+=" -X helm.sh/helm/v3/internal/version.metadata= -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
    for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
        ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=${k8s_minor}"
    done
    step "building helm ${helm_version}" go_build "$here/helm" -trimpath -ldflags "$ldflags" -o "$out/helm" \
        helm.sh/helm/v3/cmd/helm
}
steps=2  # the module download and the build
go_mod_download() { (cd "$here/helm" && go mod download); }

pins=("$here/helm/go.mod" "$here/helm/go.sum")
if [[ "${XDG_CACHE_HOME:-}" == /* ]]; then default_cache="$XDG_CACHE_HOME/fluid-lifecycle"; else default_cache="$HOME/.cache/fluid-lifecycle"; fi
cache_root="${FLUIDLC_CACHE:-$default_cache}"
dest="$cache_root/helm/${helm_version}_$(pins_key recipe)"

[[ -n "$helm_version" && -n "$client_go_version" ]] || {
    say "error: could not read the helm.sh/helm/v3 and k8s.io/client-go versions from $here/helm/go.mod"
    exit 1
}

# One build at a time per cache: a second caller waits and then finds the finished build.
mkdir -p "$cache_root/helm"
exec 9>"$cache_root/helm/.lock"
if ! flock -n 9; then
    say "another helm build is running; waiting for it to finish"
    flock 9
fi

if [[ -x "$dest/bin/helm" ]]; then
    say "cached build found"
    echo "$dest/bin"
    exit 0
fi

command -v go >/dev/null || { say "error: Go is not installed; install Go >= 1.26 to build helm"; exit 1; }

# A cold build needs the module cache (~0.5 GB), the build cache (~0.8 GB) and the binary (~60 MB);
# 3 GiB leaves room for the temporary files of the compiler and the linker.
need_disk 3 helm

staging="$(mktemp -d "$cache_root/helm/.build-XXXXXX")"
trap 'stop_heartbeat; rm -rf "$staging"' EXIT
mkdir -p "$staging/bin"
started=$SECONDS

say "cold build of helm ${helm_version} into $dest (about 2 minutes on a 2-core machine)"
step "downloading the Go modules" go_mod_download
recipe "$staging/bin"

reported="$("$staging/bin/helm" version --short 2>/dev/null || true)"
if [[ "$reported" != "$helm_version" ]]; then
    say "error: the new binary reports version '${reported}', expected '${helm_version}'; not caching it"
    exit 1
fi

rm -rf "$dest"
mv "$staging" "$dest"
trap - EXIT
say "helm built in $(elapsed $(( SECONDS - started ))); $(du -sh "$dest/bin/helm" | cut -f1) binary in $dest/bin"
echo "$dest/bin"
