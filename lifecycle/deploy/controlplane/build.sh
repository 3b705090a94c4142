#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# etcd, kwok) from the Go modules pinned beside this script, into a cache directory keyed by the
# pinned versions. Idempotent: a complete cache entry is reused in well under a second.
#
#   deploy/controlplane/build.sh            build if needed, print the bin directory on the last line
#   FLUIDLC_CACHE=/some/dir build.sh        cache root (default: ~/.cache/fluid-lifecycle)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

k8s_version="$(awk '/^require k8s.io\/kubernetes /{print $3}' "$here/kubernetes/go.mod")"
etcd_version="$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2}' "$here/etcd/go.mod")"
kwok_version="$(awk '$1=="sigs.k8s.io/kwok"{print $2}' "$here/kwok/go.mod")"
# The key covers everything that shapes the binaries; the asset section below is left out so that
# changing which YAMLs are copied never forces a rebuild.
pins_hash="$( (cat "$here"/*/go.mod "$here"/*/go.sum; sed '/^# >>> assets/,/^# <<< assets/d' "$0") \
    | sha256sum | cut -c1-10)"
key="k8s-${k8s_version}_etcd-${etcd_version}_kwok-${kwok_version}_${pins_hash}"
cache_root="${FLUIDLC_CACHE:-$HOME/.cache/fluid-lifecycle}"
dest="$cache_root/controlplane/$key"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)

say() { printf '[controlplane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

complete() {
    local b
    for b in "${binaries[@]}"; do [[ -x "$dest/bin/$b" ]] || return 1; done
}

# >>> assets: kwok Stage and CRD YAMLs from the kwok module, kept beside bin/ as stages/ and crds/
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
# <<< assets

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
need_gb=8
for dir in "$cache_root" "$(go env GOCACHE)" "$(go env GOMODCACHE)"; do
    mkdir -p "$dir"
    free_gb=$(( $(df -Pk "$dir" | awk 'NR==2{print $4}') / 1024 / 1024 ))
    if (( free_gb < need_gb )); then
        say "error: only ${free_gb} GiB free under $dir; a cold control-plane build needs about ${need_gb} GiB."
        say "free some space or point FLUIDLC_CACHE/GOCACHE/GOMODCACHE at a larger disk"
        exit 1
    fi
done

staging="$(mktemp -d "$cache_root/controlplane/.build-XXXXXX")"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/bin"
started=$SECONDS

step() { # step <label> <module dir> <go build args...>
    local label="$1" dir="$2"; shift 2
    local t0=$SECONDS
    say "building $label (this is the slow part on a cold cache) ..."
    (cd "$here/$dir" && go build "$@") || { say "error: building $label failed (see the Go output above)"; exit 1; }
    say "built $label in $(( SECONDS - t0 ))s"
}

say "downloading modules (k8s ${k8s_version}, etcd ${etcd_version}, kwok ${kwok_version}) ..."
for dir in kubernetes etcd kwok; do (cd "$here/$dir" && go mod download) ; done

k8s_minor="${k8s_version#v1.}"; k8s_minor="${k8s_minor%%.*}"
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=${k8s_version} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${k8s_minor}"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

step "etcd ${etcd_version}" etcd -trimpath -o "$staging/bin/etcd" go.etcd.io/etcd/server/v3
step "kwok ${kwok_version}" kwok -trimpath -ldflags "-X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v}" \
    -o "$staging/bin/kwok" sigs.k8s.io/kwok/cmd/kwok
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    step "$b ${k8s_version}" kubernetes -trimpath -ldflags "-s -w $ldflags" -o "$staging/bin/$b" "k8s.io/kubernetes/cmd/$b"
done

install_assets "$staging"

mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$staging" "$dest"
trap - EXIT
say "control plane built in $(( SECONDS - started ))s; $(du -sh "$dest" | cut -f1) of binaries in $dest"
echo "$dest/bin"
