#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# etcd, kwok) from the Go modules pinned beside this script, into a cache directory keyed by the
# pinned versions and the build recipe. Idempotent: a complete cache entry is reused in well under
# a second. fluidlc runs this script from its package data (lifecycle/deploy/controlplane; the
# repository's deploy/controlplane links there) on the first `fluidlc cluster up` or `fluidlc run`.
#
#   deploy/controlplane/build.sh            build if needed, print the bin directory on the last line
#   FLUIDLC_CACHE=/some/dir build.sh        cache root (default: ${XDG_CACHE_HOME:-~/.cache}/fluid-lifecycle)
#   FLUIDLC_BUILD_HEARTBEAT=30 build.sh     a "still building" line every 30 s instead of 60
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=../gobuild.sh
source "$here/../gobuild.sh"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
build_name=controlplane

k8s_version="$(awk '/^require k8s.io\/kubernetes /{print $3}' "$here/kubernetes/go.mod")"
etcd_version="$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2}' "$here/etcd/go.mod")"
kwok_version="$(awk '$1=="sigs.k8s.io/kwok"{print $2}' "$here/kwok/go.mod")"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)

# The recipe: everything that shapes the binaries besides the pins. It is part of the cache key
# (as its text), while messages and the asset copy below are not, so they change without a rebuild.
recipe() { # recipe <out dir>
    local out="$1" k8s_minor ldflags="" pkg b
    k8s_minor="${k8s_version#v1.}"; k8s_minor="${k8s_minor%%.*}"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $pkg.gitVersion=${k8s_version} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${k8s_minor}"
        ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    step "building etcd ${etcd_version}" go_build "$here/etcd" -trimpath -o "$out/etcd" go.etcd.io/etcd/server/v3
    step "building kwok ${kwok_version}" go_build "$here/kwok" -trimpath \
        -ldflags "-X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v}" -o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok
    for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
        step "building $b ${k8s_version}" go_build "$here/kubernetes" -trimpath -ldflags "-s -w $ldflags" \
            -o "$out/$b" "k8s.io/kubernetes/cmd/$b"
    done
}
steps=7  # the module download and the six binaries of the recipe

pins=("$here"/*/go.mod "$here"/*/go.sum)
key="k8s-${k8s_version}_etcd-${etcd_version}_kwok-${kwok_version}_$(pins_key recipe)"
if [[ "${XDG_CACHE_HOME:-}" == /* ]]; then default_cache="$XDG_CACHE_HOME/fluid-lifecycle"; else default_cache="$HOME/.cache/fluid-lifecycle"; fi
cache_root="${FLUIDLC_CACHE:-$default_cache}"
dest="$cache_root/controlplane/$key"

complete() {
    local b
    for b in "${binaries[@]}"; do [[ -x "$dest/bin/$b" ]] || return 1; done
}

# kwok Stage and CRD YAMLs from the kwok module, kept beside bin/ as stages/ and crds/.
install_assets() { # install_assets <build dir>; re-copies only when this function changed
    local out="$1" id kwok_dir
    id="$(declare -f install_assets | sha256sum | cut -c1-10)"
    [[ "$(cat "$out/assets.id" 2>/dev/null)" == "$id" ]] && return 0
    kwok_dir="$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
    rm -rf "$out/stages" "$out/crds"
    mkdir -p "$out/stages" "$out/crds"
    # node fast: Ready at once; heartbeat-with-lease: keeps nodes Ready via leases; pod general: the
    # pod lifecycle (create, init containers, ready, complete, delete).
    cp "$kwok_dir"/kustomize/stage/node/fast/node-initialize.yaml \
       "$kwok_dir"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
       "$kwok_dir"/kustomize/stage/pod/general/pod-*.yaml "$out/stages/"
    # Exec/ClusterExec let an exec into a simulated pod run a local process.
    cp "$kwok_dir"/kustomize/crd/bases/kwok.x-k8s.io_execs.yaml \
       "$kwok_dir"/kustomize/crd/bases/kwok.x-k8s.io_clusterexecs.yaml "$out/crds/"
    chmod -R u+w "$out/stages" "$out/crds"
    echo "$id" >"$out/assets.id"
}

# One build at a time per cache: a second caller waits and then finds the finished build.
mkdir -p "$cache_root/controlplane"
exec 9>"$cache_root/controlplane/.lock"
if ! flock -n 9; then
    say "another control-plane build is running; waiting for it to finish"
    flock 9
fi

if complete; then
    command -v go >/dev/null || { say "error: Go is not installed; it is needed to copy the kwok stage and CRD files"; exit 1; }
    install_assets "$dest"
    say "cached build found"
    echo "$dest/bin"
    exit 0
fi

command -v go >/dev/null || { say "error: Go is not installed; install Go >= 1.26 to build the control plane"; exit 1; }

# A cold build needs the module cache (~1.5 GB), the build cache (2-4 GB) and the binaries (~0.5 GB).
need_disk 8 control-plane

staging="$(mktemp -d "$cache_root/controlplane/.build-XXXXXX")"
trap 'stop_heartbeat; rm -rf "$staging"' EXIT
mkdir -p "$staging/bin"
started=$SECONDS
say "cold build of k8s ${k8s_version}, etcd ${etcd_version} and kwok ${kwok_version} into $dest"
say "(compiling takes minutes: 14 on a 2-core machine; a line every ${heartbeat}s shows it is alive)"

download() { local dir; for dir in kubernetes etcd kwok; do (cd "$here/$dir" && go mod download) || return 1; done; }
step "downloading the Go modules" download
recipe "$staging/bin"
install_assets "$staging"

mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$staging" "$dest"
trap - EXIT
say "control plane built in $(elapsed $(( SECONDS - started ))); $(du -sh "$dest" | cut -f1) of binaries in $dest"
echo "$dest/bin"
