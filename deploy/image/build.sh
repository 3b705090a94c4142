#!/usr/bin/env bash
# Builds the operator image from deploy/image/Containerfile as fluid-lifecycle:<version>, the version
# being pyproject.toml's [project] version, with the first container builder that works among
# podman, buildah and docker. Prints the image reference on the last line.
#
#   deploy/image/build.sh                   what `make image` runs
#   PYTHON_IMAGE=<ref>[@sha256:...] ...     another base image, or the base at an exact digest
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
containerfile="$root/deploy/image/Containerfile"
python="${PYTHON:-python3}"

say() { printf '[image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

version="$("$python" "$root/deploy/image/version.py")" || {
    say "error: could not read [project] version from pyproject.toml with $python (it needs Python >= 3.11; set PYTHON=python3.11)"
    exit 1
}
image="fluid-lifecycle:${version}"

# The first builder that is installed and answers `<builder> info`; each one that is not usable says why.
first_line() { grep -v '^[[:space:]]*$' | head -n 1 | sed 's/^[[:space:]]*//'; }
builder="" reasons=() fixes=()
for candidate in podman buildah docker; do
    if ! command -v "$candidate" >/dev/null; then
        reasons+=("$candidate not found")
        [[ "$candidate" == buildah && "${reasons[0]}" == "podman not found" ]] && fixes+=("install podman or buildah")
        continue
    fi
    rc=0
    err="$(timeout 30 "$candidate" info 2>&1 >/dev/null)" || rc=$?
    if (( rc == 0 )); then
        builder="$candidate"
        break
    fi
    if (( rc == 124 )); then detail="no answer within 30s"; else detail="$(first_line <<<"$err")"; fi
    [[ -n "$detail" ]] || detail="exit code $rc"
    if [[ "$candidate" == docker ]]; then
        reasons+=("docker found but its daemon is not reachable (docker info: $detail)")
        fixes+=("start dockerd (or give this user access to its socket)")
    else
        reasons+=("$candidate found but does not work ($candidate info: $detail)")
        fixes+=("make '$candidate info' succeed")
    fi
done
if [[ -z "$builder" ]]; then
    joined="$(printf '%s, ' "${reasons[@]}")"
    (( ${#fixes[@]} )) || fixes=("install podman, buildah or docker")
    fix="$(printf '%s, or ' "${fixes[@]}")"
    say "error: no usable container builder: ${joined%, }."
    say "${fix%, or }, then run make image"
    exit 1
fi
say "building $image with $builder"

# The base image: the Containerfile's tag, resolved to the digest it points at now (see the policy at
# the top of the Containerfile), unless a digest is given already.
base="${PYTHON_IMAGE:-$(sed -n 's/^ARG PYTHON_IMAGE=//p' "$containerfile")}"
[[ -n "$base" ]] || { say "error: no ARG PYTHON_IMAGE=<default> line in $containerfile"; exit 1; }
if [[ "$base" == *@sha256:* ]]; then
    digest="${base##*@}"
else
    say "pulling $base to resolve its digest ..."
    "$builder" pull -q "$base" >/dev/null || { say "error: $builder could not pull $base"; exit 1; }
    case "$builder" in
        buildah) digest="$(buildah images --format '{{.Digest}}' "$base" | head -n 1)" ;;
        *) digest="$("$builder" image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$base" \
                      | head -n 1 | sed 's/^[^@]*@//')" ;;
    esac
    if [[ ! "$digest" =~ ^sha256:[0-9a-f]{64}$ ]]; then
        say "error: could not read the digest of $base from $builder (got '${digest}')"
        say "pass the base with its digest instead: PYTHON_IMAGE=${base}@sha256:<digest> make image"
        exit 1
    fi
    base="${base}@${digest}"
fi
say "base image $base"

# deploy/operator.yaml takes its image reference from lifecycle/generate/manifests.py (IMAGE), which
# derives it from the same version; a stale file is what this warns about.
manifest_image="$(sed -n 's/^[[:space:]]*image:[[:space:]]*\(fluid-lifecycle:[^[:space:]]*\).*/\1/p' \
    "$root/deploy/operator.yaml" | head -n 1)"
if [[ -n "$manifest_image" && "$manifest_image" != "$image" ]]; then
    say "warning: deploy/operator.yaml runs $manifest_image, not $image; run make manifests"
fi

started=$SECONDS
build=(build)
[[ "$builder" == buildah ]] && build=(build --layers)
"$builder" "${build[@]}" -f "$containerfile" -t "$image" \
    --build-arg "PYTHON_IMAGE=$base" --build-arg "BASE_DIGEST=$digest" --build-arg "VERSION=$version" \
    "$root" || { say "error: $builder build failed (see its output above)"; exit 1; }
say "built $image with $builder in $(( SECONDS - started ))s"
echo "$image"
