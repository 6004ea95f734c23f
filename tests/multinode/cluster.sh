#!/usr/bin/env bash
# A private multi-node Slurm cluster on this one machine, for the tests: a controller and N
# emulated nodes, each in a network namespace of its own (its own address, hostname and
# /etc/hosts), joined by a bridge inside the controller's namespace, so nothing is added to the
# host's network. Debian's munge, slurmctld and slurmd; Open MPI reaches the other nodes through
# Slurm. Facts it rests on: ../shared/docs/MULTINODE-LOCAL.md.
#   cluster.sh start STATE_DIR [NODES]   (NODES = 3) prints the SLURM_CONF path once every node is idle
#   cluster.sh stop STATE_DIR            idempotent; kills only the namespaces' own processes
#   cluster.sh run STATE_DIR COMMAND...  runs a client command (sbatch, scontrol...) in the
#                                        controller's namespace, where the nodes are reachable
#   cluster.sh node STATE_DIR I COMMAND... runs a command on node I (its namespaces)
#   cluster.sh link STATE_DIR I up|down  the link of node I to the bridge (a partition)
#   cluster.sh kill STATE_DIR I          kill -9 of every process of node I (a lost node)
#   cluster.sh revive STATE_DIR I        starts node I's slurmd again (it returns to service)
set -euo pipefail
action=$1
state=$(realpath -m "$2")
shift 2
# Namespace names from the state folder, so two clusters (or a stale one) never collide.
tag=$(basename "$state" | tr -c 'a-zA-Z0-9\n' '-' | tail -c 9)
ctl="asw-ctl-$tag"
node_ns() { echo "asw-n$1-$tag"; }
subnet=10.250.0

in_ns() {  # namespace hostname command...: the command in that network namespace, with its own
  # hostname and the cluster's /etc/hosts (ip netns exec would remount /sys, which slurmd needs)
  local ns=$1 name=$2
  shift 2
  nsenter --net="/run/netns/$ns" unshare --uts --mount --propagation private -- \
    sh -c 'hostname "$0"; mount --bind "$1" /etc/hosts; shift; exec "$@"' "$name" "$state/hosts" "$@"
}

stop() {
  if [ -f "$state/slurm.conf" ] && [ -e "/run/netns/$ctl" ]; then
    SLURM_CONF="$state/slurm.conf" timeout 10 ip netns exec "$ctl" scancel --quiet -u root 2> /dev/null || true
  fi
  local ns pids
  for ns in $(ip netns list 2> /dev/null | awk '{print $1}' | grep -E -- "-$tag\$" || true); do
    pids=$(ip netns pids "$ns" 2> /dev/null || true)
    [ -n "$pids" ] && kill -TERM $pids 2> /dev/null || true
  done
  sleep 0.5
  for ns in $(ip netns list 2> /dev/null | awk '{print $1}' | grep -E -- "-$tag\$" || true); do
    pids=$(ip netns pids "$ns" 2> /dev/null || true)
    [ -n "$pids" ] && kill -KILL $pids 2> /dev/null || true
    ip netns del "$ns" 2> /dev/null || true
  done
  if [ -f "$state/munged.pid" ]; then
    kill -TERM "$(cat "$state/munged.pid")" 2> /dev/null || true
    rm -f "$state/munged.pid"
  fi
}

network() {
  local nodes=$1 i
  ip netns add "$ctl"
  ip -n "$ctl" link set lo up
  ip -n "$ctl" link add br0 type bridge
  ip -n "$ctl" addr add "$subnet.254/24" dev br0
  ip -n "$ctl" link set br0 up
  printf '127.0.0.1 localhost\n%s.254 ctl\n' "$subnet" > "$state/hosts"
  for i in $(seq 1 "$nodes"); do
    ip netns add "$(node_ns $i)"
    ip -n "$ctl" link add "vnode$i" type veth peer name eth0 netns "$(node_ns $i)"
    ip -n "$ctl" link set "vnode$i" master br0 up
    ip -n "$(node_ns $i)" link set lo up
    ip -n "$(node_ns $i)" addr add "$subnet.$i/24" dev eth0
    ip -n "$(node_ns $i)" link set eth0 up
    echo "$subnet.$i node$i" >> "$state/hosts"
  done
  chmod 0644 "$state/hosts"
}

munge_up() {
  mkdir -p "$state/munge"
  chown munge:munge "$state/munge"
  chmod 0700 "$state/munge"
  local key="$state/munge/munge.key"
  rm -f "$key"
  mungekey --create --keyfile="$key"
  chown munge:munge "$key"
  chmod 0400 "$key"
  # The socket's folder must be reachable by every user (the job runs as root, slurm reads it).
  mkdir -p "$state/munge-run"
  chown munge:munge "$state/munge-run"
  chmod 0755 "$state/munge-run"
  setsid setpriv --reuid=munge --regid=munge --clear-groups munged --foreground --key-file="$key" \
    --socket="$state/munge-run/munge.socket" --pid-file="$state/munge/munged.pid" \
    --log-file="$state/munge/munged.log" --seed-file="$state/munge/munged.seed" --force \
    > "$state/log/munged.out" 2>&1 < /dev/null &
  echo $! > "$state/munged.pid"
  for _ in $(seq 50); do [ -S "$state/munge-run/munge.socket" ] && break; sleep 0.1; done
  munge -S "$state/munge-run/munge.socket" -n | unmunge -S "$state/munge-run/munge.socket" > /dev/null
}

config() {
  local nodes=$1 i
  cat > "$state/slurm.conf" << CONF
ClusterName=attnsweepmulti
SlurmctldHost=ctl($subnet.254)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge-run/munge.socket,cred_expire=15
StateSaveLocation=$state/spool/ctl
SlurmdSpoolDir=$state/spool/%n
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd-%n.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd-%n.log
SlurmctldPort=17817
SlurmdPort=17818
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=20
MessageTimeout=5
JobRequeue=1
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5,sched_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.log
MinJobAge=3600
CONF
  for i in $(seq 1 "$nodes"); do
    echo "NodeName=node$i NodeAddr=$subnet.$i NodeHostname=node$i CPUs=1" >> "$state/slurm.conf"
  done
  echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >> "$state/slurm.conf"
  chmod 0644 "$state/slurm.conf"
}

start_slurmd() {  # node index
  setsid bash -c "$(declare -f in_ns); state='$state'; in_ns '$(node_ns $1)' node$1 slurmd -D -N node$1 -f '$state/slurm.conf'" \
    >> "$state/log/slurmd-node$1.out" 2>&1 < /dev/null &
}

start() {
  local nodes=${1:-3} i
  stop  # a stale cluster of this state folder
  mkdir -p "$state"/{run,log,spool/ctl}
  chown slurm:slurm "$state/spool/ctl" "$state/log" "$state/run"
  chmod 0755 "$state" "$state/run" "$state/log" "$state/spool"
  network "$nodes"
  munge_up
  config "$nodes"
  export SLURM_CONF="$state/slurm.conf"
  setsid bash -c "$(declare -f in_ns); state='$state'; in_ns '$ctl' ctl slurmctld -D -f '$SLURM_CONF'" \
    > "$state/log/slurmctld.out" 2>&1 < /dev/null &
  for i in $(seq 1 "$nodes"); do start_slurmd "$i"; done
  for _ in $(seq 300); do
    [ "$(ip netns exec "$ctl" sinfo -h -N -o %T 2> /dev/null | grep -c '^idle$')" = "$nodes" ] && break
    sleep 0.1
  done
  if [ "$(ip netns exec "$ctl" sinfo -h -N -o %T 2> /dev/null | grep -c '^idle$')" != "$nodes" ]; then
    echo "the cluster did not come up:" >&2
    ip netns exec "$ctl" sinfo -N >&2 || true
    tail -5 "$state"/log/*.log >&2 || true
    exit 1
  fi
  echo "$SLURM_CONF"
}

case "$action" in
  start) start "$@" ;;
  stop) stop ;;
  run) SLURM_CONF="$state/slurm.conf" exec ip netns exec "$ctl" "$@" ;;
  node)
    i=$1
    shift
    exec nsenter --net="/run/netns/$(node_ns "$i")" "$@"
    ;;
  link) ip -n "$ctl" link set "vnode$1" "$2" ;;
  kill)
    pids=$(ip netns pids "$(node_ns "$1")")
    [ -z "$pids" ] || kill -KILL $pids
    ;;
  revive) start_slurmd "$1" ;;
  *)
    echo "usage: cluster.sh start|stop|run|node|link STATE_DIR ..." >&2
    exit 2
    ;;
esac
