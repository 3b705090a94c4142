#!/usr/bin/env bash
# Builds helm from the Go module pinned in helm/go.mod beside this script, into its own cache entry
# keyed by the pinned version and a hash of the pins and of this script. Idempotent: a complete
# cache entry is reused in well under a second.
#
#   deploy/tools/build-helm.sh              build if needed, print the bin directory on the last line
#   FLUIDLC_CACHE=/some/dir build-helm.sh   cache root (default: ~/.cache/fluid-lifecycle)
#
# The pins live here and not under deploy/controlplane on purpose: controlplane/build.sh hashes every
# controlplane/*/go.mod into its cache key, so a helm pin there would force a control-plane rebuild.
# The two builds share nothing but the cache root and Go's own caches; each has its own lock.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

helm_version="$(awk '$1=="helm.sh/helm/v3"{print $2}' "$here/helm/go.mod")"
client_go_version="$(awk '$1=="k8s.io/client-go"{print $2}' "$here/helm/go.mod")"
pins_hash="$(cat "$here/helm/go.mod" "$here/helm/go.sum" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-10)"
cache_root="${FLUIDLC_CACHE:-$HOME/.cache/fluid-lifecycle}"
dest="$cache_root/helm/${helm_version}_${pins_hash}"

say() { printf '[helm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

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
need_gb=3
for dir in "$cache_root" "$(go env GOCACHE)" "$(go env GOMODCACHE)"; do
    mkdir -p "$dir"
    free_gb=$(( $(df -Pk "$dir" | awk 'NR==2{print $4}') / 1024 / 1024 ))
    if (( free_gb < need_gb )); then
        say "error: only ${free_gb} GiB free under $dir; a cold helm build needs about ${need_gb} GiB."
        say "free some space or point FLUIDLC_CACHE/GOCACHE/GOMODCACHE at a larger disk"
        exit 1
    fi
done

staging="$(mktemp -d "$cache_root/helm/.build-XXXXXX")"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/bin"
started=$SECONDS

say "downloading modules (helm ${helm_version}) ..."
(cd "$here/helm" && go mod download) || { say "error: downloading the helm modules failed (see the Go output above)"; exit 1; }

# The same -X variables helm's own Makefile sets for a tagged release. The module zip carries no git
# metadata, so gitCommit stays empty. The chartutil/lint variables make .Capabilities.KubeVersion
# (and the deprecation lint) follow the client-go helm was built with, as in a release binary;
# without them helm falls back to v1.20.
k8s_minor="${client_go_version#v0.}"; k8s_minor="${k8s_minor%%.*}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${helm_version}"
ldflags+=" -X helm.sh/helm/v3/internal/version.metadata= -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=${k8s_minor}"
done

t0=$SECONDS
say "building helm ${helm_version} (the slow part on a cold Go build cache) ..."
(cd "$here/helm" && go build -trimpath -ldflags "$ldflags" -o "$staging/bin/helm" helm.sh/helm/v3/cmd/helm) \
    || { say "error: building helm failed (see the Go output above)"; exit 1; }
say "built helm ${helm_version} in $(( SECONDS - t0 ))s"

reported="$("$staging/bin/helm" version --short 2>/dev/null || true)"
if [[ "$reported" != "$helm_version" ]]; then
    say "error: the new binary reports version '${reported}', expected '${helm_version}'; not caching it"
    exit 1
fi

rm -rf "$dest"
mv "$staging" "$dest"
trap - EXIT
say "helm built in $(( SECONDS - started ))s; $(du -sh "$dest/bin/helm" | cut -f1) binary in $dest/bin"
echo "$dest/bin"
