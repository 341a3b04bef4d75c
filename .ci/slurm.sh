#!/usr/bin/env bash
# Start a throwaway single-node Slurm cluster on localhost (Debian 12, root,
# no systemd, no cgroups) for the tests, and stop it again.
#
#   bash .ci/slurm.sh up      # install (if needed) + start munged, slurmctld, slurmd
#   bash .ci/slurm.sh smoke   # array job + sbatch --wait checks
#   bash .ci/slurm.sh down    # stop the daemons (by their pidfiles)
#   bash .ci/slurm.sh all     # up + smoke + down (down also runs on failure)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

SLURM_PKGS="slurmctld slurmd slurm-client munge"
LOGDIR=/var/log/slurm
STATEDIR=/var/lib/slurm

log() { echo "[ci-slurm $(date +%T)] $*"; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }   # pidfile -> live?

install_pkgs() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    log "installing $SLURM_PKGS"
    apt-get update -qq
    # --no-install-recommends: 8 packages (~3.5 MB) instead of 43
    apt-get install -y -qq --no-install-recommends $SLURM_PKGS >/dev/null
  fi
}

write_conf() {
  local cpus mem; cpus=$(nproc)
  # Without RealMemory the node offers 1 MB and every --mem request is refused.
  mem=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 - 512 ))
  mkdir -p /etc/slurm "$LOGDIR" "$STATEDIR/slurmctld" "$STATEDIR/slurmd"
  chown slurm:slurm "$LOGDIR" "$STATEDIR/slurmctld"
  cat > /etc/slurm/slurm.conf <<EOF
# Minimal single-node Slurm for CI: no cgroups, no accounting, no systemd.
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MailProg=/bin/true
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=$STATEDIR/slurmd
StateSaveLocation=$STATEDIR/slurmctld
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  # the munge postinst normally creates the key; make sure it exists
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --force
    chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
  if ! munge -n >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged   # forks into the background
  fi
  munge -n | unmunge >/dev/null
}

up() {
  install_pkgs
  write_conf
  start_munge
  # -c: start with empty job/node state (no leftovers from an earlier run)
  alive /run/slurmctld.pid || /usr/sbin/slurmctld -c  # daemonizes, drops to SlurmUser=slurm
  alive /run/slurmd.pid || /usr/sbin/slurmd -N localhost  # daemonizes, stays root
  local st=""
  for _ in $(seq 1 60); do        # at most ~30 s
    st=$(sinfo -h -N -n localhost -o '%t' 2>/dev/null || true)
    [ "$st" = "idle" ] && break
    sleep 0.5
  done
  if [ "$st" != "idle" ]; then
    log "node not idle (state='$st')"; sinfo || true
    tail -n 30 $LOGDIR/slurmctld.log $LOGDIR/slurmd.log || true
    return 1
  fi
  sinfo
}

# wait until a job (all tasks of an array) has left the queue; bounded
wait_job() {  # $1 = job id, $2 = timeout in s
  local end=$(( $(date +%s) + ${2:-120} ))
  while [ -n "$(squeue -h -j "$1" -o %i 2>/dev/null)" ]; do
    [ "$(date +%s)" -ge "$end" ] && { log "timeout waiting for job $1"; return 1; }
    sleep 0.5
  done
}

smoke() {
  local d jid; d=$(mktemp -d)
  log "array job 0-3, polled with squeue, in $d"
  jid=$(sbatch --parsable --array=0-3 -o "$d/poll-%A_%a.out" -D "$d" \
    --wrap 'echo $SLURM_ARRAY_TASK_ID > poll_$SLURM_ARRAY_TASK_ID')
  wait_job "$jid" 120
  for i in 0 1 2 3; do
    [ "$(cat "$d/poll_$i")" = "$i" ] || { log "missing/wrong $d/poll_$i"; return 1; }
  done
  log "array job 0-3 with sbatch --wait in $d"
  sbatch --wait --array=0-3 -o "$d/slurm-%A_%a.out" -D "$d" \
    --wrap 'echo $SLURM_ARRAY_TASK_ID > out_$SLURM_ARRAY_TASK_ID'
  for i in 0 1 2 3; do
    [ "$(cat "$d/out_$i")" = "$i" ] || { log "missing/wrong $d/out_$i"; return 1; }
  done
  log "failing task must make sbatch --wait exit non-zero"
  if sbatch --wait --array=0-1 -o /dev/null --wrap 'exit $SLURM_ARRAY_TASK_ID'; then
    log "expected a non-zero exit"; return 1
  fi
  rm -rf "$d"
  log "smoke OK"
}

down() {
  local pids=""
  for f in /run/slurmctld.pid /run/slurmd.pid; do
    [ -s "$f" ] && pids="$pids $(cat "$f")"
  done
  scontrol shutdown >/dev/null 2>&1 || true   # stops slurmctld and slurmd
  for _ in $(seq 1 40); do                    # at most ~10 s
    local live=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && live="$live $p"; done
    [ -z "$live" ] && break
    sleep 0.25
  done
  for p in $pids; do kill -0 "$p" 2>/dev/null && kill "$p" || true; done
  rm -f /run/slurmctld.pid /run/slurmd.pid
  munged --stop >/dev/null 2>&1 || true
  log "daemons stopped"
}

case "${1:-all}" in
  up) up ;;
  smoke) smoke ;;
  down) down ;;
  all) trap down EXIT; up; smoke ;;
  *) echo "usage: $0 up|smoke|down|all" >&2; exit 2 ;;
esac
