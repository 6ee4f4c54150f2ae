#!/usr/bin/env bash
# Stop the daemons that .ci/slurm-up.sh started (their PIDs are in $CIMPIPE_SLURM_STATE/pids) and nothing else.
# Jobs still queued or running on that cluster are cancelled first. Safe to run twice.
set -uo pipefail

state="${CIMPIPE_SLURM_STATE:-/tmp/cimpipe-slurm}"
pids_file="$state/pids"
export PATH="$PATH:/usr/sbin:/sbin"
log() { printf 'slurm-down: %s\n' "$*" >&2; }

if [ ! -s "$pids_file" ]; then
    log "nothing to stop ($pids_file is absent or empty)"
    exit 0
fi

is_ours() {  # is_ours NAME PID: the PID still belongs to the daemon we started (not a recycled PID)
    [ -r "/proc/$2/comm" ] && [ "$(cat "/proc/$2/comm")" = "$1" ]
}

# Cancel the jobs of a controller we started, so no slurmstepd outlives its slurmd.
if grep -q '^slurmctld ' "$pids_file"; then
    ids="$(squeue -h -o '%i' 2>/dev/null || true)"
    if [ -n "$ids" ]; then
        log "cancelling jobs: $(echo $ids)"
        # shellcheck disable=SC2086
        scancel $ids 2>/dev/null || true
        for _ in $(seq 1 40); do
            [ -z "$(squeue -h -t running,completing -o '%i' 2>/dev/null)" ] && break
            sleep 0.25
        done
    fi
fi

# Stop in reverse start order: slurmd, slurmctld, munged.
tac "$pids_file" | while read -r name pid; do
    [ -n "${pid:-}" ] || continue
    if ! is_ours "$name" "$pid"; then
        log "$name (pid $pid) is no longer running"
        continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
        is_ours "$name" "$pid" || break
        sleep 0.25
    done
    if is_ours "$name" "$pid"; then
        log "$name (pid $pid) ignored SIGTERM for 15 s: sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name (pid $pid)"
done
rm -f "$pids_file"
