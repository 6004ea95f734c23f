#!/usr/bin/env bash
# A private single-node Slurm cluster in a folder, from Debian's packages (munge, slurmctld,
# slurmd), for the tests. Daemons are tracked and stopped by PID, never by name.
#   cluster.sh start STATE_DIR    prints the SLURM_CONF path once the node is idle
#   cluster.sh stop STATE_DIR
set -euo pipefail
action=$1
state=$(realpath -m "$2")
host=$(hostname -s)

stop() {
  export SLURM_CONF="$state/slurm.conf"
  [ -f "$SLURM_CONF" ] && timeout 10 scancel --full --quiet -u root 2>/dev/null || true
  for daemon in slurmd slurmctld munged; do
    if [ -f "$state/$daemon.pid" ]; then
      pid=$(cat "$state/$daemon.pid")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$state/$daemon.pid"
    fi
  done
}

start() {
  mkdir -p "$state"/{run,log,spool/slurmctld,spool/slurmd,munge/run,munge/log,munge/lib}
  chown -R munge:munge "$state/munge/run" "$state/munge/log" "$state/munge/lib"
  chmod 0700 "$state/munge/log" "$state/munge/lib"
  chmod 0755 "$state/munge/run"
  chown slurm:slurm "$state/spool/slurmctld" "$state/log" "$state/run"
  chmod 0755 "$state" "$state/run" "$state/log" "$state/spool" "$state/munge"
  local key="$state/munge.key" socket="$state/munge/run/munge.socket.2"
  if [ ! -f "$key" ]; then
    mungekey --create --keyfile="$key"
    chown munge:munge "$key"
    chmod 0400 "$key"
  fi
  runuser -u munge -- munged --key-file="$key" --socket="$socket" --pid-file="$state/munge/run/munged.pid" \
    --log-file="$state/munge/log/munged.log" --seed-file="$state/munge/lib/munged.seed" --force
  for _ in $(seq 50); do [ -f "$state/munge/run/munged.pid" ] && break; sleep 0.1; done
  cp "$state/munge/run/munged.pid" "$state/munged.pid"
  munge -S "$socket" -n | unmunge -S "$socket" > /dev/null

  local memory
  memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  memory=$((memory * 95 / 100))
  cat > "$state/slurm.conf" <<CONF
ClusterName=attnsweeptest
SlurmctldHost=$host
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$state/spool/slurmctld
SlurmdSpoolDir=$state/spool/slurmd
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.log
MinJobAge=3600
NodeName=$host CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=$memory
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  chmod 0644 "$state/slurm.conf"
  export SLURM_CONF="$state/slurm.conf"
  setsid slurmctld -D -f "$SLURM_CONF" > "$state/log/slurmctld.out" 2>&1 < /dev/null &
  echo $! > "$state/slurmctld.pid"
  for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.1; done
  scontrol ping | grep -q UP || { echo "slurmctld did not come up" >&2; tail "$state/log/slurmctld.log" >&2; exit 1; }
  setsid slurmd -D -f "$SLURM_CONF" > "$state/log/slurmd.out" 2>&1 < /dev/null &
  echo $! > "$state/slurmd.pid"
  for _ in $(seq 150); do [ "$(sinfo -h -N -o %T 2>/dev/null)" = idle ] && break; sleep 0.1; done
  [ "$(sinfo -h -N -o %T)" = idle ] || { echo "slurmd did not become idle" >&2; tail "$state/log/slurmd.log" >&2; exit 1; }
  echo "$SLURM_CONF"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: cluster.sh start|stop STATE_DIR" >&2; exit 2 ;;
esac
