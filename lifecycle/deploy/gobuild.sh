# Sourced by controlplane/build.sh and tools/build-helm.sh: their messages, the disk check and a Go
# build step that says which step it is, shows it is alive while a long compile runs and says how
# long it took. Nothing here shapes a binary, so nothing here is part of a cache key: wording can
# change without a rebuild.
#
# The sourcing script sets: build_name (the message prefix), steps (how many there are), started.

heartbeat="${FLUIDLC_BUILD_HEARTBEAT:-60}"  # seconds between "still building" lines
step_no=0

say() { printf '[%s %s] %s\n' "$build_name" "$(date +%H:%M:%S)" "$*" >&2; }

elapsed() { # elapsed <seconds>: 75 -> 1m15s
    local s="$1"
    if (( s >= 60 )); then printf '%dm%02ds' $(( s / 60 )) $(( s % 60 )); else printf '%ds' "$s"; fi
}

# The cache key of a build: the pins and the text of the named shell functions (the recipe).
pins_key() { # pins_key <function>... ; reads go.mod/go.sum paths from $pins
    # shellcheck disable=SC2154
    { cat "${pins[@]}"; declare -f "$@"; } | sha256sum | cut -c1-10
}

need_disk() { # need_disk <GiB> <what>: refuse to start a cold build that would fill the disk
    local need_gb="$1" what="$2" dir free_gb
    for dir in "$cache_root" "$(go env GOCACHE)" "$(go env GOMODCACHE)"; do
        mkdir -p "$dir"
        free_gb=$(( $(df -Pk "$dir" | awk 'NR==2{print $4}') / 1024 / 1024 ))
        if (( free_gb < need_gb )); then
            say "error: only ${free_gb} GiB free under $dir; a cold $what build needs about ${need_gb} GiB."
            say "free some space or point FLUIDLC_CACHE/GOCACHE/GOMODCACHE at a larger disk"
            exit 1
        fi
    done
}

beat_pid=""
stop_heartbeat() {
    [[ -n "$beat_pid" ]] && kill "$beat_pid" 2>/dev/null
    beat_pid=""
    return 0
}

# step <label> <command...>: one numbered step, run in the foreground (Ctrl-C stops it), with a line
# every $heartbeat seconds while it runs, and its duration when it is done.
step() {
    local label="$1"; shift
    local t0=$SECONDS
    step_no=$(( step_no + 1 ))
    say "step ${step_no}/${steps}: ${label} ..."
    # The beat's sleep gets /dev/null for all three streams: one left behind by `kill` holds no pipe open.
    ( while sleep "$heartbeat" </dev/null >/dev/null 2>&1; do
          say "  still ${label}: $(elapsed $(( SECONDS - t0 ))) in this step, $(elapsed $(( SECONDS - started ))) in all"
      done ) >/dev/null &
    beat_pid=$!
    if ! "$@"; then
        stop_heartbeat
        say "error: ${label} failed (see the Go output above)"
        exit 1
    fi
    stop_heartbeat
    say "done ${label} in $(elapsed $(( SECONDS - t0 ))) (step ${step_no}/${steps}, $(elapsed $(( SECONDS - started ))) in all)"
}

# go_build <module dir> <go build args...>
go_build() { (cd "$1" && shift && go build "$@"); }
