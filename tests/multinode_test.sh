#!/usr/bin/env bash
# jobs/sweep.sbatch across the nodes of a real multi-node Slurm cluster (tests/multinode/cluster.sh:
# 3 emulated nodes in network namespaces, Debian's slurmctld, slurmd and munge, Open MPI across
# them over TCP), one bring-up for every scenario, torn down whatever happens:
#   two, three   a 2-node and a 3-node sweep: the ranks run on 2 and 3 hosts, results bitwise equal
#                to a single-node run
#   critical     a critical search across 2 nodes: its table equals the single-node one
#   stop         USR1 to a 2-node job: every rank stops (75), the job requeues itself and resumes,
#                bitwise equal
#   kill         every process of the worker node killed mid-run (a lost node): the job is requeued
#                without a person and resumes on the surviving nodes, bitwise equal, in bounded time
#   link         the worker node's link down mid-run (a partition): mpirun does not hang past its
#                bound, the job is requeued and resumes, bitwise equal
#   error        a real error of the run (bad input) fails the job with 2 and is not requeued
set -u
BIN=$(realpath "$1")
JOBS=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
CLUSTER=$HERE/multinode/cluster.sh
STATE=$(mktemp -d /tmp/attnsweep-multinode.XXXXXX)
chmod 0755 "$STATE"
cleanup() {
  "$CLUSTER" stop "$STATE" > /dev/null 2>&1
  if [ "${failures:-0}" = 0 ]; then rm -rf "$STATE"; else echo "kept $STATE for inspection (logs in log/ and work/)"; fi
}
trap cleanup EXIT
started=$(date +%s.%N)
"$CLUSTER" start "$STATE" 3 > /dev/null || { echo "FAIL: the cluster did not start"; exit 1; }
echo "ok: 3-node cluster up in $(echo "$(date +%s.%N) - $started" | bc | cut -c1-4) s"
WORK=$STATE/work
mkdir -p "$WORK"
cd "$WORK"
source "$HERE/common.sh"
export ATTNSWEEP=$BIN
# Open MPI on the cluster's subnet only; every emulated node sees all cores, so no binding. A
# partition is noticed within 5 + 2 x 3 = 11 s (the job script's default bound is 60 s).
export OMPI_MCA_oob_tcp_if_include=10.250.0.0/24 OMPI_MCA_btl_tcp_if_include=10.250.0.0/24
export OMPI_MCA_hwloc_base_binding_policy=none
export OMPI_MCA_oob_tcp_keepalive_time=5 OMPI_MCA_oob_tcp_keepalive_intvl=2 OMPI_MCA_oob_tcp_keepalive_probes=3
slurm() { "$CLUSTER" run "$STATE" "$@"; }
job_field() { slurm scontrol show job "$1" 2> /dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
wait_job_state() {  # job state timeout
  for _ in $(seq $(($3 * 5))); do
    [ "$(job_field "$1" JobState)" = "$2" ] && return 0
    sleep 0.2
  done
  return 1
}
# A requeued job is held until a begin time ahead (cred_expire); once its first incarnation is
# gone, start it now (production jobs simply wait).
release_requeued() {  # job restarts
  for _ in $(seq 600); do
    [ "$(job_field "$1" Restarts)" = "$2" ] && [ "$(job_field "$1" JobState)" = PENDING ] && break
    sleep 0.2
  done
  sleep 2
  slurm scontrol update JobId="$1" StartTime=now 2> /dev/null
}
nodes_of() { slurm scontrol show hostnames "$(job_field "$1" NodeList)"; }
write_medium_config
mpiexec -n 2 "$BIN" run --config medium.ini --output ref.h5 > /dev/null 2>&1 || fail "single-node reference run"
sed 's/^trials = 24/trials = 96/' medium.ini > long.ini
mpiexec -n 2 "$BIN" run --config long.ini --output long-ref.h5 > /dev/null 2>&1 || fail "single-node long reference"

# two, three
for shape in "2 two" "3 three"; do
  read -r count name <<< "$shape"
  slurm sbatch --wait --nodes=$count --ntasks=$count -o $name.log "$JOBS/sweep.sbatch" medium.ini $name.h5 > /dev/null
  rc=$?
  [ $rc = 0 ] && grep -q "$count ranks on $count nodes" $name.log && ok "$count-node sweep: $(grep -o "on $count nodes ([^)]*)" $name.log)" ||
    { fail "$count-node sweep: exit $rc"; cat $name.log; }
  cmp -s <(results $name.h5) <(results ref.h5) && ok "$count-node sweep equals the single-node run bitwise" || fail "$count-node results differ"
done

# critical
printf '[grid]\nrho = 0.3, 0.6\ngamma = 1, 5\nd = 16\nn = 64\n[mc]\ntrials = 16\n' > crit.ini
ATTNSWEEP_COMMAND=critical slurm sbatch --wait --nodes=2 --ntasks=2 -o crit.log "$JOBS/sweep.sbatch" crit.ini crit.h5 --format csv > /dev/null
rc=$?
mpiexec -n 1 "$BIN" critical --config crit.ini --output crit-ref.h5 --format csv > crit-ref.csv 2> /dev/null || fail "critical reference"
[ $rc = 0 ] && grep -q 'on 2 nodes' crit.log && [ "$(grep '^0\.[36],16,64,' crit.log)" = "$(grep '^0\.[36],16,64,' crit-ref.csv)" ] &&
  ok "critical search across 2 nodes: its table equals the single-node one" || { fail "critical across nodes: exit $rc"; cat crit.log; }

# stop
job=$(slurm sbatch --parsable --nodes=2 --ntasks=2 -o stop.log "$JOBS/sweep.sbatch" long.ini stop.h5)
wait_for_records stop.h5.journal 3 || fail "stop: no progress"
slurm scancel --signal=USR1 --batch "$job"
release_requeued "$job" 1
if wait_job_state "$job" COMPLETED 240; then
  grep -q 'run exited 75\|forwarded stop signal (138): resumable (75)' stop.log &&
    ok "USR1 stopped the ranks on both nodes: exit 75, requeued" || fail "no exit 75: $(cat stop.log)"
  cmp -s <(results stop.h5) <(results long-ref.h5) && ok "stopped, requeued and resumed: bitwise equal" || fail "stop: results differ"
else
  fail "stop: job $job $(job_field "$job" JobState)"
  cat stop.log
fi

# kill, link: a node lost in the middle of a 2-node job on a 3-node cluster
for fault in kill link; do
  job=$(slurm sbatch --parsable --nodes=2 --ntasks=2 -o $fault.log "$JOBS/sweep.sbatch" long.ini $fault.h5)
  wait_for_records $fault.h5.journal 3 || fail "$fault: no progress"
  batch=$(job_field "$job" BatchHost)
  victim=$(nodes_of "$job" | grep -v -x "$batch" | head -1)
  before=$(stat -c %s $fault.h5.journal)
  lost_at=$(date +%s.%N)
  if [ $fault = kill ]; then "$CLUSTER" kill "$STATE" "${victim#node}"; else "$CLUSTER" link "$STATE" "${victim#node}" down; fi
  release_requeued "$job" 1
  resumed=""
  for _ in $(seq 900); do  # the first new trial journaled by the requeued job
    [ "$(job_field "$job" JobState)" = RUNNING ] && [ "$(stat -c %s $fault.h5.journal)" -gt "$before" ] &&
      resumed=$(date +%s.%N) && break
    sleep 0.2
  done
  if wait_job_state "$job" COMPLETED 240; then
    ok "$fault of $victim: requeued $(job_field "$job" Restarts) time(s) without a person; progress again $(echo "$resumed - $lost_at" | bc | cut -c1-5) s after the loss, on $(job_field "$job" NodeList)"
    nodes_of "$job" | grep -q -x "$victim" && fail "$fault: the requeued job ran on the lost node $victim"
    cmp -s <(results $fault.h5) <(results long-ref.h5) && ok "$fault: resumed on the surviving nodes, bitwise equal" || fail "$fault: results differ"
    grep -q 'not an attnsweep exit code\|ended the job' $fault.log && ok "$fault: the log says how the run ended: $(grep -m1 -o 'the launcher ended with [0-9]*\|Slurm ended the job ([A-Z0-9]*)' $fault.log)" ||
      fail "$fault: the log does not say how the run ended"
  else
    fail "$fault: job $job $(job_field "$job" JobState)"
    cat $fault.log
  fi
  # The node back in service for the next scenario.
  if [ $fault = kill ]; then "$CLUSTER" revive "$STATE" "${victim#node}"; else "$CLUSTER" link "$STATE" "${victim#node}" up; fi
  for _ in $(seq 300); do [ "$(slurm sinfo -h -N -o %T | grep -c '^idle$')" = 3 ] && break; sleep 0.2; done
done

# error
printf '[grid]\nrho = 2\n' > bad.ini
job=$(slurm sbatch --parsable --nodes=2 --ntasks=2 -o bad.log "$JOBS/sweep.sbatch" bad.ini bad.h5)
wait_job_state "$job" FAILED 120 && [ "$(job_field "$job" ExitCode)" = "2:0" ] && [ "$(job_field "$job" Restarts)" = 0 ] &&
  ok "a bad config fails the job with 2, not requeued" || fail "error: $(job_field "$job" JobState) $(job_field "$job" ExitCode)"

echo "multinode: $failures failures"
[ $failures = 0 ]
