# Helpers shared by the end-to-end test scripts (sourced; BIN must be set).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
# Every value of the named datasets of an HDF5 file at full precision (what must not change
# bitwise): h5_values FILE NAME...
h5_values() {
  /usr/bin/python3 - "$@" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
for name in sys.argv[2:]:
    print(name, " ".join(repr(float(v)) for v in np.asarray(f[name]).ravel()))
PY
}
# A top-level number of a JSON object on stdin (or of the first object of an array: `query`'s),
# as the double's repr: json_value FIELD. (cell's JSON holds nested objects with the same names.)
json_value() {
  /usr/bin/python3 -c "import json, sys; d = json.load(sys.stdin); d = d[0] if isinstance(d, list) else d; print(repr(float(d['$1'])))"
}
# A number as the double's repr (for comparing CSV text with json_value).
as_double() { /usr/bin/python3 -c "import sys; print(repr(float(sys.stdin.read())))"; }
# Results without the timing column, every number at 17 significant digits.
results() { "$BIN" query "$1" --format csv | cut -d, -f1-11,13-; }
# A sweep of 48 bigger cells, long enough to interrupt: 24 trials make it about 4 s on 2 ranks of
# a fast AVX-512 core (with 6 trials it finished in 1 s, before a test's signal arrived).
write_medium_config() {
  cat > medium.ini <<'INI'
[grid]
rho   = 0.2, 0.5, 0.8
gamma = 0.5:4:0.5
d     = 8, 128
n     = 512
[mc]
trials = 24
seed   = 11
INI
}
# Prints "CELLS TRIALS DISTINCT SAMPLES" for the journal $1: its whole-cell records, its trials
# records (finished trials of unfinished cells), the number of distinct cells in whole-cell
# records, and the number of trials the trials records hold.
journal_counts() {
  /usr/bin/python3 - "$1" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
at, cells, trials, distinct, samples = 16, 0, 0, set(), 0
while at + 8 <= len(data):
    size, _ = struct.unpack_from("<II", data, at)
    payload = data[at + 8:at + 8 + size]
    if len(payload) < size or size < 9:
        break
    if payload[8] in (3, 7):  # trials records: 3 before the observable count (a byte at 17), 7 with it
        trials += 1
        samples += struct.unpack_from("<I", payload, 17 if payload[8] == 3 else 18)[0]
    else:
        cells += 1
        distinct.add(struct.unpack_from("<q", payload)[0])
    at += 8 + size
print(cells, trials, len(distinct), samples)
PY
}
# Waits (at most 180 s) until the journal $1 holds at least $2 whole-cell records (or, with
# a third argument "trials", $2 trials records; with "any", $2 records of either kind). A test
# that must signal a run well before its end waits for "any": the scheduler runs the largest
# draw groups first, cut into trial ranges, so whole cells may come only late in a run.
wait_for_records() {
  local count
  for _ in $(seq 900); do
    if [ -f "$1" ] && [ "$(stat -c %s "$1")" -ge 16 ]; then
      count=$(journal_counts "$1" 2> /dev/null | awk -v kind="${3:-cells}" \
        '{ print kind == "trials" ? $2 : kind == "any" ? $1 + $2 : $1 }')
      [ "${count:-0}" -ge "$2" ] 2> /dev/null && return 0
    fi
    sleep 0.2
  done
  return 1
}
# Waits (at most 30 s) until no process has $1 in its command line: a process killed with -9
# in the middle of an fsync dies only when the fsync returns, and holds its journal lock till then.
wait_gone() {
  for _ in $(seq 300); do
    pgrep -f -- "$1" > /dev/null || return 0
    sleep 0.1
  done
  return 1
}
# The PID of MPI rank $2 of the job whose command line contains $1 (waits up to 10 s for it).
rank_pid() {
  local candidate
  for _ in $(seq 1000); do
    for candidate in $(pgrep -f -- "$1"); do
      if tr '\0' '\n' < /proc/$candidate/environ 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
        echo $candidate
        return 0
      fi
    done
    sleep 0.01
  done
  return 1
}
# Like rank_pid, but waits until the rank catches USR1 (bit 10 of SigCgt in /proc/PID/status):
# its handlers are installed when the program is loaded, so before that (while the dynamic loader
# runs) a signal gets the kernel's default action, which no program can change.
rank_pid_handling() {
  local pid mask
  pid=$(rank_pid "$1" "$2") || return 1
  for _ in $(seq 1000); do
    mask=$(awk '/^SigCgt:/ {print $2}' /proc/$pid/status 2> /dev/null) || return 1
    [ -n "$mask" ] && (((0x$mask >> 9) & 1)) && echo $pid && return 0
    sleep 0.005
  done
  return 1
}
# Waits at most $2 seconds for process $1 (a child started with setsid or &) to end; if it does
# not, records "$3: hang" and kills it with its process group.
wait_bounded() {
  timeout "$2" tail --pid="$1" -f /dev/null && return 0
  fail "$3: hang"
  kill -9 -- -"$1" 2> /dev/null || kill -9 "$1" 2> /dev/null
  return 1
}
# Sends USR1 to process $1 after $2 seconds and waits (at most 60 s, else "$3: hang") until it
# ends; returns its exit code.
usr1_after() {
  sleep "$2"
  kill -USR1 "$1"
  wait_bounded "$1" 60 "$3"
  wait "$1"
}
# A helper that does not exist (a typo, a missing definition) must fail the scenario, not pass it
# silently: bash calls this for every command it cannot find.
command_not_found_handle() {
  fail "command not found: $1"
  return 127
}
# kill -9 of a whole job at once: the launcher's process group ($1, started with setsid) and every
# rank whose command line contains $2 (Open MPI gives each rank a process group of its own); then
# waits until they are gone.
kill_job() {
  pkill -9 -f -- "$2" 2> /dev/null
  kill -9 -- -"$1" 2> /dev/null
  wait "$1" 2> /dev/null
  wait_gone "$2" || fail "killed ranks still alive"
}
# Resumes the medium sweep in $1 on 2 ranks and checks it is bitwise the uninterrupted ref.h5
# ($2 names the case in the messages).
resume_equals_reference() {
  if ! mpiexec -n 2 "$BIN" run --config medium.ini --output "$1" > log2.txt 2>&1; then
    fail "$2: resume exited $?: $(grep -m2 attnsweep log2.txt)"
    return 1
  fi
  cmp -s <(results "$1") <(results ref.h5) && ok "$2: resume equals uninterrupted" || fail "$2: resumed differs"
}
# Runs "$@" and checks: exit code $1, at most one line from attnsweep on stderr, no abort.
expect_exit() {
  local want=$1 what=$2; shift 2
  "$@" > out.txt 2> err.txt
  local rc=$?
  if [ $rc = "$want" ] && [ "$(grep -c '^attnsweep' err.txt)" -le 1 ] &&
    ! grep '^attnsweep' err.txt | grep -q -i 'terminate\|abort\|core dumped'; then
    ok "$what -> $rc: $(grep -m1 '^attnsweep' err.txt)"
  else
    fail "$what: exit $rc (want $want): $(head -3 err.txt)"
  fi
}
# Like expect_exit, in bounded memory (300 MB) and time (60 s: a hang or a 10^9-element
# allocation, not a speed target; a loaded machine takes seconds to start MPI), and with a
# message under 400 characters: exit code $1, what $2, command "${@:3}".
bounded_exit() {
  local want=$1 what=$2; shift 2
  /usr/bin/time -f "%e %M" -o time.txt "$@" > out.txt 2> err.txt
  local rc=$?
  read -r seconds kb < <(tail -1 time.txt)
  if [ $rc = "$want" ] && [ "$(grep -c '^attnsweep' err.txt)" = 1 ] && [ "$(grep '^attnsweep' err.txt | wc -c)" -lt 400 ] &&
    awk -v s="$seconds" -v k="$kb" 'BEGIN { exit !(s < 60 && k < 300000) }'; then
    ok "$what -> $rc in ${seconds}s, $((kb / 1024)) MB: $(grep -m1 '^attnsweep' err.txt)"
  else
    fail "$what: exit $rc (want $want) in ${seconds}s, ${kb} KB: $(head -c 300 err.txt)"
  fi
}
