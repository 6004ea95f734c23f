#!/usr/bin/env bash
# End-to-end tests of `attnsweep run` under real Open MPI (called by ctest, one scenario per call):
#   determinism  P = 1, 2, 3 give bitwise-identical results; each cell journaled exactly once;
#                `attnsweep cell` reproduces a sweep cell bitwise
#   split        a cell split across 3 ranks equals the same cell computed in one piece
#   failures     injected failures are retried, marked failed (exit 1), then --retry-failed fixes them
#   sigterm      SIGTERM to mpirun: consistent files, resumable; resume equals an uninterrupted run
#   kill9        kill -9 of the whole mpirun at random points, resume, compare bitwise
#   killworker   kill -9 of one worker rank: the job ends, resume finishes it bitwise
#   orphans      kill -9 of mpirun alone: the ranks leave by themselves, resume finishes it
#   partial      cells split into many tasks, stopped (USR1, kill -9) before any finishes: the
#                journaled trials are kept, the resume computes only the rest, results bitwise
#   timelimit    --time-limit stops cleanly with 75 before the budget; resume finishes it
#   badinput     table of bad inputs: exit 2, one line, nothing clobbered; --help everywhere
#   queryfilters query filters and formats against the grid
#   signalworker a stop signal (USR1, TERM, INT) that reaches one worker rank only: rank 0 is
#                told, stops every rank (exit 75, no hang), the resume equals an uninterrupted run
#   kill9big     kill -9 of the whole job in the middle of a 10^5-cell sweep, resume, bitwise
#   progress     --progress json: one object per line, the last one's counts (trials, cells,
#                failed, undefined) equal the file's; none: silent; lines in a log; auto: the
#                live bar through mpirun when the user's terminal is mpirun's (a pty), lines
#                when stderr goes to a file
#   memory       a job whose ranks per node cannot each hold a trial of the largest cell is
#                refused (exit 2, one line naming the cell and the node) before touching a file
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "$1")
SCENARIO=$2
WORK=$(mktemp -d /tmp/attnsweep-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
source "$HERE/common.sh"
export OMPI_MCA_rmaps_base_oversubscribe=1
mpi() { local p=$1; shift; mpiexec -n "$p" "$BIN" "$@"; }

cat > small.ini <<'INI'
[grid]
rho   = 0.2, 0.6
gamma = 0.5:3:0.5
d     = 3, 24
n     = 48
[mc]
trials = 3
seed   = 7
INI
write_medium_config

case "$SCENARIO" in
determinism)
  for p in 1 2 3; do
    mpi $p run --config small.ini --output p$p.h5 > log$p.txt 2>&1 || fail "run with $p ranks exited $?"
    results p$p.h5 > p$p.csv
  done
  [ "$(grep -c ',done,' p1.csv)" = 24 ] || fail "not all 24 cells done"
  cmp -s p1.csv p2.csv && ok "P=1 and P=2 bitwise equal" || fail "P=1 and P=2 differ"
  cmp -s p1.csv p3.csv && ok "P=1 and P=3 bitwise equal" || fail "P=1 and P=3 differ"
  # Exactly once: 24 whole-cell records for 24 distinct cells.
  for p in 1 2 3; do
    counts=$(journal_counts p$p.h5.journal)
    [ "$(echo $counts | cut -d' ' -f1,3)" = "24 24" ] && ok "P=$p journal holds each cell once" || fail "P=$p journal: $counts"
  done
  # The cell command reproduces cell 17 (rho 0.6, gamma 1.5, d 24) bitwise.
  row=$(grep '^17,' p1.csv)
  json=$("$BIN" cell --rho 0.6 --gamma 1.5 --d 24 --n 48 --trials 3 --seed 7 --format json)
  lam=$(echo "$json" | json_value lambda_mean)
  [ "$(echo "$row" | cut -d, -f8 | as_double)" = "$lam" ] && ok "cell reproduces sweep cell 17" || fail "cell gives $lam, sweep row $row"
  # The exact-simplex theory only where a simplex exists (d >= n + 1).
  echo "$json" | grep -q '"simplex": null' && ok "cell: no simplex theory at d = 24 < n + 1 = 49" || fail "simplex theory at d < n + 1: $json"
  "$BIN" cell --rho 0.6 --gamma 1.5 --d 49 --n 48 --trials 1 --format json | grep -q '"simplex": {"lambda": 0\.' &&
    ok "cell: simplex theory at d = 49 = n + 1" || fail "no simplex theory at d = n + 1"
  mpi 2 run --config small.ini --output p2.h5 > again.txt 2>&1 || fail "rerun of a finished sweep exited $?"
  grep -q '0 to run' again.txt && ok "rerun of a finished sweep computes nothing" || fail "rerun recomputed: $(head -1 again.txt)"
  ;;
split)
  cat > big.ini <<'INI'
[grid]
rho   = 0.5
gamma = 1.5, 2.5
d     = 64
n     = 300
[mc]
trials = 6
seed   = 5
INI
  mpi 3 run --config big.ini --output split.h5 > log.txt 2>&1 || fail "run exited $?"
  for g in 1.5 2.5; do
    json=$("$BIN" cell --rho 0.5 --gamma $g --d 64 --n 300 --trials 6 --seed 5 --format json)
    for field in lambda_mean lambda_stderr eta_mean eta_stderr; do
      want=$(echo "$json" | json_value $field)
      got=$("$BIN" query split.h5 --gamma $g --format json | json_value $field)
      [ "$want" = "$got" ] && ok "gamma $g $field split = unsplit" || fail "gamma $g $field: split $got, unsplit $want"
    done
  done
  # Threads on one trial (n = 300: three row blocks of the kernel) change no bit: the cell
  # command with 1 and 3 threads, and the sweep with 2 threads per rank against 1.
  one=$("$BIN" cell --rho 0.5 --gamma 2.5 --d 64 --n 300 --trials 2 --seed 5 --format json | sed 's/"seconds": [^,]*,//')
  three=$("$BIN" cell --rho 0.5 --gamma 2.5 --d 64 --n 300 --trials 2 --seed 5 --threads 3 --format json | sed 's/"seconds": [^,]*,//')
  [ "$one" = "$three" ] && ok "cell: 3 threads = 1 thread, bitwise" || fail "cell threads differ: $one / $three"
  mpi 2 run --config big.ini --output threads.h5 run.threads=2 > log2.txt 2>&1 || fail "run.threads=2 exited $?"
  results split.h5 > one.csv
  results threads.h5 > two.csv
  cmp -s one.csv two.csv && ok "sweep with run.threads=2 bitwise equal to 1 thread" || fail "run.threads=2 differs"
  ;;
failures)
  ATTNSWEEP_INJECT_FAILURE=3,17 mpi 2 run --config small.ini --output f.h5 > log.txt 2>&1
  rc=$?
  [ $rc = 1 ] && ok "failed cells give exit 1" || fail "exit $rc with failed cells"
  grep -q 'cells failed (cells 3, 17)' log.txt && ok "failed cells named" || fail "failed cells not named: $(tail -2 log.txt)"
  [ "$("$BIN" query f.h5 --status failed --format csv | tail -n +2 | wc -l)" = 2 ] || fail "expected 2 failed rows"
  "$BIN" query f.h5 --status failed --format csv | grep -q 'injected failure' || fail "error text missing"
  [ "$("$BIN" query f.h5 --status failed --format csv | tail -1 | cut -d, -f13)" = 2 ] || fail "attempts should be 2"
  mpi 2 run --config small.ini --output f.h5 > log2.txt 2>&1
  [ $? = 1 ] && grep -q '0 to run' log2.txt && ok "plain rerun leaves failed cells alone" || fail "plain rerun: $(head -1 log2.txt)"
  mpi 2 run --config small.ini --output f.h5 --retry-failed > log3.txt 2>&1 || fail "retry-failed exited $?"
  grep -q '2 to run' log3.txt || fail "retry-failed should run 2 cells: $(head -1 log3.txt)"
  mpi 1 run --config small.ini --output ref.h5 > /dev/null 2>&1
  cmp -s <(results f.h5 | cut -d, -f1-12) <(results ref.h5 | cut -d, -f1-12) && ok "after retry equals clean run" || fail "after retry differs"
  "$BIN" verify f.h5 > /dev/null || fail "verify after retry"
  ;;
sigterm)
  mpi 1 run --config medium.ini --output ref.h5 > /dev/null 2>&1 || fail "reference run"
  for signal in TERM INT USR1; do
    rm -f s.h5 s.h5.journal
    mpiexec -n 2 "$BIN" run --config medium.ini --output s.h5 > log.txt 2>&1 &
    pid=$!
    wait_for_records s.h5.journal 8 any || fail "$signal: no progress"
    kill -$signal $pid
    wait $pid
    rc=$?
    # Through mpirun only USR1 keeps the ranks' 75; on TERM/INT mpirun itself exits 1 whatever the
    # ranks return, so there rank 0's own words show that the stop was clean.
    if [ $signal = USR1 ]; then [ $rc = 75 ] || fail "USR1: exit $rc, want 75"; else [ $rc = 1 ] || fail "$signal: mpirun exit $rc, want 1"; fi
    grep -q 'stopped early (signal)' log.txt && ok "$signal: rank 0 stopped cleanly" || fail "$signal: no clean stop in the log: $(tail -3 log.txt)"
    "$BIN" verify s.h5 > /dev/null 2>&1 || fail "$signal: file not consistent after stop"
    done_before=$("$BIN" status s.h5 | head -1)
    mpi 2 run --config medium.ini --output s.h5 > log2.txt 2>&1 || fail "$signal: resume exited $?"
    cmp -s <(results s.h5) <(results ref.h5) && ok "$signal ($rc; $done_before) then resume equals uninterrupted" || fail "$signal: resumed differs"
  done
  ;;
partial)
  cat > trials.ini <<'INI'
[grid]
rho   = 0.5
gamma = 1, 2, 3
d     = 128
n     = 768
[mc]
trials = 48
seed   = 3
INI
  trials_in() { sed -n 's/.*; \([0-9]*\) trials in .*/\1/p' "$1"; }
  mpi 1 run --config trials.ini --output ref.h5 > /dev/null 2>&1 || fail "reference run"
  # A clean stop keeps every finished trial: the two runs together compute each trial once.
  mpiexec -n 2 "$BIN" run --config trials.ini --output mid.h5 > stop.log 2>&1 &
  pid=$!
  wait_for_records mid.h5.journal 6 trials || fail "no trials journaled"
  kill -USR1 $pid
  wait $pid
  rc=$?
  counts=$(journal_counts mid.h5.journal)
  set -- $counts
  [ $rc = 75 ] && ok "USR1 mid-cell: exit 75; journal: $1 cells, $2 trials records holding $4 trials" || fail "USR1: exit $rc"
  [ "$(echo $counts | cut -d' ' -f1)" -lt 3 ] || fail "the stop came too late to test partial cells: $counts"
  mpi 2 run --config trials.ini --output mid.h5 > resume.log 2>&1 || fail "resume exited $?"
  grep -q 'trials of unfinished cells restored' resume.log && ok "resume restores journaled trials" || fail "nothing restored"
  first=$(trials_in stop.log) second=$(trials_in resume.log)
  [ $((first + second)) = 144 ] && ok "trials computed once: $first before the stop + $second after = 144" ||
    fail "trials computed: $first + $second, want 144"
  cmp -s <(results mid.h5) <(results ref.h5) && ok "stopped mid-cell then resumed equals uninterrupted" || fail "results differ"
  # kill -9 mid-cell: only the tasks in flight are lost. (Output names are unique across the
  # scenarios, which ctest runs in parallel: pkill -f matches by command line.)
  setsid mpiexec -n 2 "$BIN" run --config trials.ini --output midkill.h5 > kill.log 2>&1 &
  pid=$!
  wait_for_records midkill.h5.journal 6 trials || fail "no trials journaled"
  kill_job $pid "--output midkill.h5"
  before=$(journal_counts midkill.h5.journal)
  mpi 2 run --config trials.ini --output midkill.h5 > resume2.log 2>&1 || fail "resume after kill -9 exited $?"
  restored=$(sed -n 's/.*\] \([0-9]*\) finished trials of unfinished cells restored.*/\1/p' resume2.log)
  journaled=$(echo $before | cut -d' ' -f4)
  [ "${journaled:-0}" -gt 0 ] && [ "${restored:-0}" = "$journaled" ] &&
    ok "kill -9 mid-cell: all $restored journaled trials restored" ||
    fail "kill -9: restored '${restored}' (journal before the resume: $before): $(head -3 resume2.log)"
  cmp -s <(results midkill.h5) <(results ref.h5) && ok "killed mid-cell then resumed equals uninterrupted" || fail "results differ after kill -9"
  ;;
kill9)
  mpi 1 run --config medium.ini --output ref.h5 > /dev/null 2>&1 || fail "reference run"
  for records in 0 1 7 20 40; do
    rm -f k.h5 k.h5.journal
    setsid mpiexec -n 2 "$BIN" run --config medium.ini --output k.h5 --snapshot-every 0.5 > log.txt 2>&1 &
    pid=$!
    wait_for_records k.h5.journal $records || fail "no progress"
    # The whole job at once: mpirun's process group and its ranks (Open MPI gives each
    # rank a process group of its own).
    kill_job $pid "--output k.h5"
    mpi 2 run --config medium.ini --output k.h5 > log2.txt 2>&1 || fail "kill -9 at $records records: resume exited $?: $(grep -m2 attnsweep log2.txt)"
    cmp -s <(results k.h5) <(results ref.h5) && ok "kill -9 at $records records then resume equals uninterrupted ($(grep -o '[0-9]* to run' log2.txt))" || fail "kill -9 at $records records: differs"
  done
  ;;
orphans)
  # kill -9 of mpirun alone (a lost launcher): the ranks notice and leave; a resume finishes.
  mpi 1 run --config medium.ini --output ref.h5 > /dev/null 2>&1 || fail "reference run"
  setsid mpiexec -n 2 "$BIN" run --config medium.ini --output o.h5 > log.txt 2>&1 &
  pid=$!
  wait_for_records o.h5.journal 3 || fail "no progress"
  kill -9 $pid
  wait $pid 2>/dev/null
  for _ in $(seq 100); do pgrep -f -- "--output o.h5" > /dev/null || break; sleep 0.1; done
  if pgrep -f -- "--output o.h5" > /dev/null; then
    fail "ranks still running 10 s after their launcher died"; pkill -9 -f -- "--output o.h5"
  else
    ok "ranks left by themselves after their launcher was killed"
  fi
  resume_equals_reference o.h5 "after launcher loss"
  ;;
timelimit)
  mpi 1 run --config medium.ini --output ref.h5 > /dev/null 2>&1 || fail "reference run"
  start=$(date +%s)
  mpi 2 run --config medium.ini --output t.h5 --time-limit 1 > log.txt 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  [ $rc = 75 ] && ok "time limit: exit 75 after ${took}s" || fail "time limit: exit $rc"
  [ $took -le 20 ] || fail "time limit 1 s took ${took} s"
  "$BIN" status t.h5 | grep -q ' 0 missing' && fail "time limit left nothing missing (sweep too short?)"
  "$BIN" verify t.h5 > /dev/null || fail "not consistent after the time limit"
  resume_equals_reference t.h5 "time-limited run"
  ;;
killworker)
  mpi 1 run --config medium.ini --output ref.h5 > /dev/null 2>&1 || fail "reference run"
  setsid mpiexec -n 3 "$BIN" run --config medium.ini --output w.h5 > log.txt 2>&1 &
  pid=$!
  wait_for_records w.h5.journal 5 || fail "no progress"
  worker=$(pgrep -f "attnsweep.* run --config medium.ini --output w.h5" | sort -n | tail -1)
  [ -n "$worker" ] && kill -9 "$worker"
  wait_bounded $pid 60 "job after a worker died"
  wait $pid
  rc=$?
  [ $rc != 0 ] && ok "job ended ($rc) after a worker was killed" || fail "job exited 0 after a worker was killed"
  resume_equals_reference w.h5 "after worker loss"
  ;;
signalworker)
  mpi 1 run --config medium.ini --output ref.h5 > /dev/null 2>&1 || fail "reference run"
  for signal in USR1 TERM INT; do
    rm -f sw.h5 sw.h5.journal
    setsid mpiexec -n 3 "$BIN" run --config medium.ini --output sw.h5 > log.txt 2>&1 &
    pid=$!
    wait_for_records sw.h5.journal 3 || fail "$signal: no progress"
    worker=$(rank_pid "--output sw.h5" 2) || fail "$signal: rank 2 not found"
    kill -$signal "$worker"
    wait_bounded $pid 60 "$signal to one worker: the job hung"
    wait $pid
    rc=$?
    [ $rc = 75 ] && ok "$signal to worker rank 2 only: every rank stopped, exit 75" || fail "$signal to one worker: exit $rc"
    grep -q "a worker rank received signal" log.txt || fail "$signal: rank 0 did not report the worker's signal"
    "$BIN" verify sw.h5 > /dev/null 2>&1 || fail "$signal: file not consistent after the stop"
    resume_equals_reference sw.h5 "$signal to one worker"
  done
  ;;
kill9big)
  # 10^5 cells (100 rho x 100 gamma x 10 d), about 10 s on 2 ranks.
  cat > big.ini <<'INI'
[grid]
rho   = 0.005:0.995:0.01
gamma = 0.1:10:0.1
d     = 2:20:2
n     = 64
[mc]
trials = 2
seed   = 5
INI
  mpi 2 run --config big.ini --output ref.h5 > ref.log 2>&1 || fail "reference run"
  setsid mpiexec -n 2 "$BIN" run --config big.ini --output bigk.h5 > log.txt 2>&1 &
  pid=$!
  # About a third of the cells (77 bytes a record) journaled, then kill -9 the whole job.
  for _ in $(seq 2400); do [ "$(stat -c %s bigk.h5.journal 2> /dev/null || echo 0)" -ge 2500000 ] && break; sleep 0.05; done
  kill_job $pid "--output bigk.h5"
  set -- $(journal_counts bigk.h5.journal)
  [ "$1" -gt 1000 ] && [ "$1" -lt 100000 ] && ok "killed with $1 of 100000 cells journaled" || fail "kill point: $1 cells journaled"
  mpi 2 run --config big.ini --output bigk.h5 > log2.txt 2>&1 || fail "resume exited $?"
  grep -q "$((100000 - $1)) to run" log2.txt && ok "resume ran only the $((100000 - $1)) cells not journaled" || fail "resume: $(grep -m1 'to run' log2.txt)"
  cmp -s <(results bigk.h5) <(results ref.h5) && ok "10^5 cells: kill -9 then resume equals uninterrupted" || fail "10^5 cells: differs"
  "$BIN" verify bigk.h5 > /dev/null || fail "verify after resume"
  ;;
memory)
  # n such that one exact trial at d = 65536 takes about 40% of this machine's available memory
  # (the tiled kernel holds eight n x d matrices - X, Y, X', its directions and their parts across
  # the centre, Y and Y^T packed, the draw's tokens - plus its bounded cache and block scratch):
  # 1 computing slot fits, 3 (two workers and rank 0's thread on one node) do not.
  avail=$(awk '/MemAvailable/ {print $2 * 1024}' /proc/meminfo)
  n=$(/usr/bin/python3 -c "print(int(0.4 * $avail / (8 * 8 * 65536)))")
  printf '[grid]\nrho = 0.5\ngamma = 1\nd = 65536\nn = %s\n[mc]\ntrials = 1\n' "$n" > mem.ini
  start=$(date +%s)
  mpi 3 run --config mem.ini --output mem.h5 > out.txt 2> err.txt
  rc=$?
  [ $rc = 2 ] && ok "3 ranks on one node, n = $n: refused with exit 2 in $(( $(date +%s) - start )) s" || fail "memory: exit $rc: $(cat err.txt)"
  # One line from attnsweep (mpiexec adds its own banner about a rank's non-zero exit).
  [ "$(grep -c '^attnsweep' err.txt)" = 1 ] || fail "memory: want one line, got: $(cat err.txt)"
  grep '^attnsweep' err.txt | grep -q -i 'terminate\|abort\|core' && fail "memory: abort in $(cat err.txt)"
  grep -q "largest cell (d = 65536, n = $n).*3 computing ranks.*at most 2 computing ranks per node" err.txt &&
    ok "message: $(cat err.txt)" || fail "memory message: $(cat err.txt)"
  [ ! -e mem.h5 ] && [ ! -e mem.h5.journal ] && ok "no file created" || fail "a refused run left files behind"
  "$BIN" plan --config mem.ini --ranks-per-node 3 > plan.txt 2>&1 || fail "plan exited $?"
  grep -q "memory per node at 3 ranks per node" plan.txt && ok "plan: $(grep 'memory per node' plan.txt)" || fail "plan: $(cat plan.txt)"
  ;;
badinput)
  mpi 1 run --config small.ini --output keep.h5 > /dev/null 2>&1 || fail "setup run"
  cp keep.h5 keep.orig
  : > empty.ini
  printf '[grid]\nrho = 0.5\n' > partial.ini
  printf '\x00\x01garbage' > garbage.ini
  printf 'not hdf5' > fake.h5
  head -c 3000 keep.h5 > truncated.h5
  mkdir adir
  check() {  # expected-exit description command...
    local want=$1 what=$2; shift 2
    "$@" > out.txt 2> err.txt
    local rc=$?
    local lines; lines=$(wc -l < err.txt)
    if [ $rc = "$want" ] && [ "$lines" -le 1 ] && ! grep -q -i 'terminate\|abort\|core' err.txt; then
      ok "$what -> $rc: $(cat err.txt)"
    else
      fail "$what -> exit $rc (want $want), stderr: $(head -3 err.txt)"
    fi
  }
  check 2 "no command" "$BIN"
  check 2 "unknown command" "$BIN" frobnicate
  check 2 "missing config" "$BIN" run --config nothere.ini
  check 2 "empty config" "$BIN" run --config empty.ini
  check 2 "config is a directory" "$BIN" run --config adir
  check 2 "config missing keys" "$BIN" run --config partial.ini
  check 2 "garbage config" "$BIN" run --config garbage.ini
  check 2 "bad override value" "$BIN" run --config small.ini grid.n=1
  check 2 "unknown override key" "$BIN" run --config small.ini grid.colour=red
  check 2 "unknown flag" "$BIN" run --config small.ini --frobnicate
  check 2 "output in missing folder" "$BIN" run --config small.ini --output nodir/x.h5
  check 2 "output is a directory" "$BIN" run --config small.ini --output adir
  check 2 "output is not HDF5" "$BIN" run --config small.ini --output fake.h5
  check 2 "resume with another config" "$BIN" run --config small.ini --output keep.h5 mc.seed=8
  check 2 "time limit negative" "$BIN" run --config small.ini --time-limit -5
  check 2 "cell rho out of range" "$BIN" cell --rho 1 --gamma 1 --d 2 --n 8
  check 2 "cell non-numeric" "$BIN" cell --rho x --gamma 1 --d 2 --n 8
  check 2 "cell simplex too small" "$BIN" cell --rho 0.5 --gamma 1 --d 4 --n 8 --geometry simplex
  check 2 "cell simplex with 3 trials" "$BIN" cell --rho 0.5 --gamma 1 --d 9 --n 8 --geometry simplex --trials 3
  check 2 "cell bad format" "$BIN" cell --rho 0.5 --gamma 1 --d 4 --n 8 --format xml
  check 2 "cell too big for memory" "$BIN" cell --rho 0.5 --gamma 1 --d 100000 --n 200000
  check 2 "unknown scaling law" "$BIN" run --config small.ini --output t0.h5 scaling=cubic
  check 2 "cell unknown scaling law" "$BIN" cell --rho 0.5 --gamma 1 --d 4 --n 8 --scaling cubic
  check 2 "zero threads" "$BIN" run --config small.ini --output t0.h5 run.threads=0
  check 2 "threads not an integer" "$BIN" run --config small.ini --output t0.h5 threads=two
  check 2 "cell zero threads" "$BIN" cell --rho 0.5 --gamma 1 --d 4 --n 8 --threads 0
  check 2 "sweep too big for memory" "$BIN" run --config small.ini --output big.h5 grid.n=300000 grid.d=100000
  check 2 "status of missing file" "$BIN" status nothere.h5
  check 2 "status of empty file" "$BIN" status empty.ini
  check 2 "status of non-HDF5" "$BIN" status fake.h5
  check 2 "status of truncated HDF5" "$BIN" status truncated.h5
  check 1 "verify truncated HDF5 (damage: a finding, not bad input)" "$BIN" verify truncated.h5
  cp keep.h5 future.h5
  /usr/bin/python3 -c "import h5py; h5py.File('future.h5', 'r+').attrs['schema_version'] = 99"
  check 2 "wrong schema version" "$BIN" status future.h5
  check 2 "resume onto wrong schema version" "$BIN" run --config small.ini --output future.h5
  cp keep.h5 other.h5
  printf 'ATSWJRN1\x01\x02\x03\x04\x05\x06\x07\x08' > other.h5.journal
  check 2 "journal from another sweep" "$BIN" run --config small.ini --output other.h5
  printf 'garbage!garbage!' > junk.h5.journal
  check 2 "journal that is not a journal" "$BIN" run --config small.ini --output junk.h5
  check 2 "query value off the axis" "$BIN" query keep.h5 --rho 0.33
  check 2 "query bad status" "$BIN" query keep.h5 --status weird
  check 2 "query bad format" "$BIN" query keep.h5 --format xml
  check 2 "plan bad config" "$BIN" plan --config partial.ini
  check 2 "merge onto existing file" "$BIN" merge keep.h5 keep.orig
  # A second run on an output that a running sweep holds.
  mpiexec -n 1 "$BIN" run --config medium.ini --output busy.h5 mc.trials=100 > /dev/null 2>&1 &
  busy=$!
  wait_for_records busy.h5.journal 0
  sleep 0.3
  check 2 "output in use by a running sweep" "$BIN" run --config medium.ini --output busy.h5 mc.trials=100
  kill -TERM $busy; wait $busy
  cmp -s keep.h5 keep.orig && ok "existing output untouched by refused runs" || fail "keep.h5 changed"
  [ ! -e fake.h5.journal ] && [ ! -e adir.journal ] && ok "no stray journals" || fail "stray journal created"
  [ "$(cat fake.h5)" = "not hdf5" ] && ok "non-HDF5 output untouched" || fail "fake.h5 changed"
  # --help on every command: exit 0, its options listed, nothing run or written.
  for command in cell run plan status query verify merge; do
    if "$BIN" $command --help > help.txt 2>&1 && grep -q "attnsweep $command options" help.txt; then
      ok "$command --help"
    else
      fail "$command --help: $(head -2 help.txt)"
    fi
  done
  grep -q -- '--slice' <("$BIN" run --help) && ok "run --help lists --slice" || fail "run --help lacks --slice"
  "$BIN" run --config small.ini --output help.h5 --help > /dev/null && [ ! -e help.h5 ] &&
    ok "run --help runs nothing" || fail "run --help ran a sweep"
  ;;
queryfilters)
  # Readers while a sweep runs and rewrites its snapshot every 0.2 s: never a broken file.
  mpiexec -n 2 "$BIN" run --config medium.ini --output live.h5 --snapshot-every 0.2 > live.log 2>&1 &
  live=$!
  wait_for_records live.h5.journal 0 || fail "live sweep did not start"
  sleep 0.5
  bad=0
  for _ in $(seq 20); do
    "$BIN" status live.h5 > /dev/null 2>&1 || bad=$((bad + 1))
    "$BIN" query live.h5 --status done --format csv > /dev/null 2>&1 || bad=$((bad + 1))
    sleep 0.1
  done
  [ $bad = 0 ] && ok "40 status/query calls during a running sweep succeeded" || fail "$bad reads failed during a running sweep"
  wait $live || fail "live sweep exited $?"
  mpi 2 run --config small.ini --output q.h5 > /dev/null 2>&1 || fail "run"
  [ "$("$BIN" query q.h5 --format csv | tail -n +2 | wc -l)" = 24 ] || fail "all rows"
  [ "$("$BIN" query q.h5 --rho 0.6 --format csv | tail -n +2 | wc -l)" = 12 ] || fail "rho filter"
  [ "$("$BIN" query q.h5 --rho 0.6 --d 3 --gamma 1 1.5 --format csv | tail -n +2 | wc -l)" = 2 ] || fail "combined filter"
  "$BIN" query q.h5 --rho 0.6 --d 3 --format csv | tail -n +2 | cut -d, -f2,4 | sort -u | grep -qx '0.6,3' || fail "filter values"
  [ "$("$BIN" query q.h5 --status done --format json | grep -c '"cell"')" = 24 ] || fail "json rows"
  /usr/bin/python3 -c "import json,sys; json.load(open(sys.argv[1]))" <("$BIN" query q.h5 --format json) || fail "json invalid"
  [ "$("$BIN" query q.h5 --status missing --format csv | tail -n +2 | wc -l)" = 0 ] || fail "status filter"
  "$BIN" status q.h5 | grep -q '24 done, 0 failed, 0 missing' || fail "status counts"
  "$BIN" verify q.h5 > /dev/null || fail "verify"
  [ $failures = 0 ] && ok "query filters"
  ;;
progress)
  cat > p.ini <<'INI'
[grid]
rho   = 0.2, 0.9
gamma = 0.5, 2
d     = 1, 4
n     = 2, 8
[mc]
trials = 3
seed   = 1
INI
  # Cell 15 (the last: rho 0.9, gamma 2, d 4, n 8) fails; some d = 1, n = 2 cells are undefined.
  ATTNSWEEP_INJECT_FAILURE=15 mpi 2 run --config p.ini --output p.h5 --progress json > out.txt 2> p.log
  rc=$?
  [ $rc = 1 ] && ok "exit 1 (a failed cell)" || fail "exit $rc"
  failed=$("$BIN" query p.h5 --status failed --format csv | tail -n +2 | wc -l)
  undefined=$("$BIN" query p.h5 --status undefined --format csv | tail -n +2 | wc -l)
  /usr/bin/python3 - p.log "$failed" "$undefined" <<'PY' && ok "json progress: $failed failed, $undefined undefined, counts agree with the file" || fail "json progress: $(grep '^{' p.log)"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
objects = [json.loads(l) for l in lines]  # every line a JSON object
keys = {"progress", "unit", "done", "total", "failed", "undefined", "trials_done", "trials_total", "elapsed_s", "eta_s"}
assert len(objects) >= 2 and all(keys <= set(o) for o in objects), objects
last = objects[-1]
assert last["progress"] == "finished" and last["unit"] == "cells", last
assert last["done"] == last["total"] == 16, last
assert last["failed"] == int(sys.argv[2]) == 1 and last["undefined"] == int(sys.argv[3]) > 0, last
# The failed cell's trials never finish; every other cell's do.
assert last["trials_total"] == 16 * 3 and last["trials_done"] == 15 * 3, last
assert all(o["trials_done"] <= o["trials_total"] for o in objects)
PY
  ! grep -q 'trials/s' p.log && ok "json mode prints no text progress" || fail "text progress in json mode"
  mpi 2 run --config p.ini --output q.h5 --progress none > /dev/null 2> q.log
  ! grep -qE 'trials/s|^\{' q.log && grep -q 'master busy' q.log && ok "--progress none: no progress, the summary kept" ||
    fail "--progress none: $(cat q.log)"
  mpi 2 run --config p.ini --output r.h5 > /dev/null 2> r.log
  grep -q '^\[attnsweep\] 16/16 cells, 48/48 trials (100.0%), 0 failed, [0-9]* undefined' r.log &&
    ! grep -q $'\r' r.log && ok "auto to a file: lines, no bar" || fail "auto to a file: $(cat r.log)"
  # A pty as mpirun's stderr (what a user at a terminal has): the bar, carried by mpirun.
  script -qec "mpiexec -n 2 $BIN run --config p.ini --output s.h5" /dev/null > tty.txt 2>&1
  grep -q $'\r\[#' tty.txt && grep -q '16/16 cells' tty.txt && ok "auto at a terminal under mpirun: the live bar" ||
    fail "no bar at a terminal: $(cat -v tty.txt | head -5)"
  expect_exit 2 "--progress xml" "$BIN" run --config p.ini --output t.h5 --progress xml
  [ ! -e t.h5 ] && ok "nothing written" || fail "t.h5 written"
  ;;
*)
  echo "unknown scenario $SCENARIO"; exit 2 ;;
esac
echo "$SCENARIO: $failures failures"
[ $failures = 0 ]
