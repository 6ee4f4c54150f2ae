#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine (Debian/Ubuntu, as root, no systemd needed).
#
# Idempotent: installs slurm-wlm + munge with apt-get only when absent, writes /etc/slurm/{slurm,gres,cgroup}.conf
# (only files it owns: they carry the marker "cimpipe-local-cluster"), starts munged, slurmctld and slurmd unless
# they already run, and waits until the node is idle and a trivial srun + sbatch --wait job succeed.
# The PIDs of the daemons it started are appended to $CIMPIPE_SLURM_STATE/pids, so .ci/slurm-down.sh stops exactly
# those and nothing that was running before.
#
# Environment: CIMPIPE_SLURM_STATE (default /tmp/cimpipe-slurm), CIMPIPE_SLURM_TIMEOUT_S (default 90).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${CIMPIPE_SLURM_STATE:-/tmp/cimpipe-slurm}"
timeout_s="${CIMPIPE_SLURM_TIMEOUT_S:-90}"
marker="cimpipe-local-cluster"
conf_dir=/etc/slurm
pids_file="$state/pids"

log() { printf 'slurm-up: %s\n' "$*" >&2; }
show_logs=0   # set once daemons start: their logs then explain a failure
fail() {
    printf 'slurm-up: ERROR: %s\n' "$*" >&2
    if [ "$show_logs" -eq 1 ]; then
        for f in "$state"/log/*.log; do
            [ -f "$f" ] && { printf -- '--- last lines of %s ---\n' "$f" >&2; tail -n 15 "$f" >&2; }
        done
    fi
    exit 1
}

[ "$(id -u)" -eq 0 ] || fail "must run as root (it installs packages and starts system daemons)."

# --- 1. packages ------------------------------------------------------------------------------------------------
export PATH="$PATH:/usr/sbin:/sbin"
mkdir -p "$state"
need_install=0
for cmd in munged slurmctld slurmd sbatch sinfo squeue srun; do
    command -v "$cmd" >/dev/null 2>&1 || need_install=1
done
if [ "$need_install" -eq 1 ]; then
    command -v apt-get >/dev/null 2>&1 || fail "SLURM is not installed and apt-get is not available: install slurmctld, slurmd, slurm-client and munge."
    log "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$state.apt.log" 2>&1 || { cat "$state.apt.log" >&2; fail "apt-get update failed (see above)."; }
    apt-get install -y -qq --no-install-recommends slurm-wlm slurmctld slurmd slurm-client munge \
        >>"$state.apt.log" 2>&1 || { tail -n 30 "$state.apt.log" >&2; fail "apt-get install of slurm-wlm/munge failed (see above)."; }
    rm -f "$state.apt.log"
fi

# --- 2. configuration -------------------------------------------------------------------------------------------
mkdir -p "$state"/ctld "$state"/d "$state"/log "$conf_dir"
host="$(hostname -s)"
cpus="$(nproc)"
mem_total_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
mem_mb=$(( mem_total_mb * 85 / 100 ))   # leave room for the OS and the daemons

conf_changed=0
write_owned() {  # write_owned TARGET CONTENT: refuse to overwrite a file this script did not write
    local target="$1" content="$2"
    if [ -e "$target" ] && ! grep -q "$marker" "$target"; then
        fail "$target exists and was not written by this script; move it away or start that cluster yourself."
    fi
    if [ ! -e "$target" ] || [ "$(cat "$target")" != "$content" ]; then
        printf '%s\n' "$content" >"$target"
        log "wrote $target"
        conf_changed=1
    fi
}
write_owned "$conf_dir/slurm.conf" "$(sed -e "s|@HOST@|$host|g" -e "s|@STATE@|$state|g" \
    -e "s|@CPUS@|$cpus|g" -e "s|@MEM_MB@|$mem_mb|g" "$here/slurm/slurm.conf.in")"
write_owned "$conf_dir/gres.conf" "$(cat "$here/slurm/gres.conf.in")"
write_owned "$conf_dir/cgroup.conf" "$(cat "$here/slurm/cgroup.conf.in")"

# munge key: the Debian package creates one; create it if missing.
if [ ! -s /etc/munge/munge.key ]; then
    log "creating /etc/munge/munge.key"
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile=/etc/munge/munge.key --force
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
fi
munge_owner=root
id munge >/dev/null 2>&1 && munge_owner=munge
chown "$munge_owner:$munge_owner" /etc/munge /etc/munge/munge.key
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown "$munge_owner:$munge_owner" /run/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge

# --- 3. daemons -------------------------------------------------------------------------------------------------
# Each daemon runs in the foreground of its own session (setsid), detached from the caller's stdio, so $! is the
# daemon itself and the caller (pytest, CI) never waits on an inherited pipe.
start_daemon() {  # start_daemon NAME LOGFILE CMD...
    local name="$1" logfile="$2"; shift 2
    if pgrep -x "$name" >/dev/null 2>&1; then
        log "$name already running (pid $(pgrep -x "$name" | tr '\n' ' ')): left alone"
        return 0
    fi
    setsid "$@" </dev/null >>"$logfile" 2>&1 &
    local pid=$!
    echo "$name $pid" >>"$pids_file"
    log "started $name (pid $pid)"
}

show_logs=1
if [ "$munge_owner" = munge ]; then
    start_daemon munged "$state/log/munged.out" setpriv --reuid=munge --regid=munge --init-groups munged --foreground
else
    start_daemon munged "$state/log/munged.out" munged --foreground --force
fi
deadline=$(( SECONDS + timeout_s ))
until munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "munged did not answer within ${timeout_s}s (see /var/log/munge/munged.log)."
    sleep 0.2
done

ctld_was_running=0
pgrep -x slurmctld >/dev/null 2>&1 && ctld_was_running=1
# -c: a throwaway test cluster starts with an empty queue, never with jobs of an earlier, killed session.
start_daemon slurmctld "$state/log/slurmctld.out" slurmctld -D -c
start_daemon slurmd "$state/log/slurmd.out" slurmd -D
if [ "$conf_changed" -eq 1 ] && [ "$ctld_was_running" -eq 1 ]; then
    log "configuration changed: scontrol reconfigure"
    scontrol reconfigure || fail "scontrol reconfigure failed after the configuration changed."
fi

# --- 4. wait until usable ---------------------------------------------------------------------------------------
node_state=""
until node_state="$(sinfo -h -N -n "$host" -o '%t' 2>/dev/null | head -n 1)" && [[ "$node_state" =~ ^(idle|mix|alloc)$ ]]; do
    if [[ "$node_state" == drain* || "$node_state" == down* ]]; then
        reason="$(sinfo -h -N -n "$host" -o '%E' 2>/dev/null || true)"
        if [ $SECONDS -ge $(( deadline - timeout_s / 2 )) ]; then
            fail "node $host is '$node_state' (reason: ${reason:-none})."
        fi
        scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    fi
    [ $SECONDS -lt $deadline ] || fail "node $host did not become idle within ${timeout_s}s (state: '${node_state:-no answer from slurmctld}')."
    sleep 0.5
done
log "node $host is $node_state"

left=$(( deadline - SECONDS )); [ $left -gt 5 ] || left=5
got="$(timeout "$left" srun -N1 -n1 -t 1 --mem=100 hostname 2>&1)" || fail "srun hostname failed: $got"
left=$(( deadline - SECONDS )); [ $left -gt 5 ] || left=5
timeout "$left" sbatch --wait -Q -N1 -n1 -t 1 --mem=100 --gres=gpu:1 -o /dev/null --wrap true \
    || fail "sbatch --wait of a trivial job with --gres=gpu:1 failed or timed out."
log "cluster ready: srun and sbatch --wait work (node $host, ${cpus} CPUs, ${mem_mb} MB, gpu:1)"
