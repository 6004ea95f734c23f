#!/usr/bin/env bash
# Hardening scenarios (called by ctest, one scenario per call): inputs and outputs a careless or
# hostile user gives, each answered in bounded time and memory with one line and the promised
# exit code, nothing written:
#   notfiles  a FIFO, a device, a socket, a folder or a missing path as the output, the journal
#             or an input of every command: exit 2 at once (never a hang deaf to INT/TERM)
#   names     a symlink loop as the output, a name too long for the run's companion files
#             (NAME.tmp.PID): exit 2 before any work, nothing created
#   critical  `critical`'s own limits: one gamma (or all equal), per-trial values beyond the
#             memory of rank 0: exit 2 naming the cause, no journal
#   stdout    every command writing to a full disk (/dev/full): exit 74 naming standard output
#   damage    a damaged chunk (Fletcher-32) or dataspace (a dimension of 2^32 + k) in every dataset:
#             verify exits 1 naming the object; status and query exit 2; bounded memory
#   messages  the messages that must name the real cause (a critical file as a run's output,
#             a journal header with a damaged byte, the keys in which a resumed config differs,
#             a tiny range step, a malformed injection list)
#   status    status says running (the journal's lock), stopped, finished or failed, with the
#             journal's progress beside the snapshot's and the snapshot's age (table and JSON)
#   sbatch    jobs/sweep.sbatch honours a stop request that arrives while it reads its arguments;
#             an array task's slice is named from the output the program reads in the config
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "$1")
SCENARIO=$2
WORK=$(mktemp -d /tmp/attnsweep-hardening.XXXXXX)
cleanup() {
  pkill -9 -f -- "$WORK" 2> /dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
source "$HERE/common.sh"
export OMPI_MCA_rmaps_base_oversubscribe=1
cat > s.ini << 'INI'
[grid]
rho = 0.2, 0.5
gamma = 1, 2
d = 8
n = 16
[mc]
trials = 2
INI
# Exit code $1 within 30 s (a hang is killed and fails), one line, bounded memory.
refused() {
  local want=$1 what=$2
  shift 2
  bounded_exit "$want" "$what" timeout -s KILL 30 "$@"
}
# Nothing but the listed files ($@) in the folder.
only_files() {
  local left
  left=$(ls -A | grep -v -x -F "$(printf '%s\n' "$@" out.txt err.txt time.txt)")
  [ -z "$left" ] && ok "nothing left behind" || fail "left behind: $left"
}

case "$SCENARIO" in
notfiles)
  "$BIN" run --config s.ini --output ok.h5 > /dev/null 2>&1 || fail "reference run"
  mkfifo fifo.h5 fifo2.h5.journal
  mkdir folder.h5
  /usr/bin/python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.bind('sock.h5')"
  for input in fifo.h5 /dev/zero folder.h5 sock.h5 nothere.h5; do
    for command in status query verify; do refused 2 "$command $input" "$BIN" $command $input; done
    refused 2 "merge from $input" "$BIN" merge merged.h5 ok.h5 $input
  done
  grep -q 'nothere.h5: no such file' err.txt && ok "a missing file is named as missing" || fail "$(cat err.txt)"
  for output in fifo.h5 /dev/null sock.h5 folder.h5; do
    refused 2 "run --output $output" "$BIN" run --config s.ini --output $output
    refused 2 "critical --output $output" "$BIN" critical --config s.ini --output $output
  done
  refused 2 "run on 2 ranks --output fifo.h5" mpiexec -n 2 "$BIN" run --config s.ini --output fifo.h5
  refused 2 "critical on 2 ranks --output fifo.h5" mpiexec -n 2 "$BIN" critical --config s.ini --output fifo.h5
  refused 2 "run whose journal is a FIFO" "$BIN" run --config s.ini --output fifo2.h5
  grep -q 'journal .* is a FIFO' err.txt || fail "the FIFO journal is not named: $(cat err.txt)"
  refused 2 "critical whose journal is a FIFO" "$BIN" critical --config s.ini --output fifo2.h5
  refused 2 "a FIFO as the config" "$BIN" run --config fifo.h5 --output x.h5
  only_files ok.h5 ok.h5.journal fifo.h5 fifo2.h5.journal folder.h5 sock.h5 s.ini
  ;;
names)
  ln -s loop1 loop2 && ln -s loop2 loop1
  mkdir sub && ln -s ../sub/loopdir sub/loopdir
  refused 2 "run --output a symlink loop" "$BIN" run --config s.ini --output loop1
  grep -q 'symlink loop\|symbolic links' err.txt || fail "the loop is not named: $(cat err.txt)"
  refused 2 "critical --output a symlink loop" "$BIN" critical --config s.ini --output loop1
  refused 2 "run on 2 ranks --output a symlink loop" mpiexec -n 2 "$BIN" run --config s.ini --output loop2
  refused 2 "run --output inside a folder that is a loop" "$BIN" run --config s.ini --output sub/loopdir/x.h5
  refused 2 "run --output ''" "$BIN" run --config s.ini --output ''
  long=$(printf 'a%.0s' $(seq 247))
  refused 2 "run --output of 247 characters (NAME.journal fits, NAME.tmp.PID does not)" \
    "$BIN" run --config s.ini --output $long
  grep -q 'too long' err.txt || fail "the length is not named: $(cat err.txt)"
  refused 2 "critical --output of 247 characters" "$BIN" critical --config s.ini --output $long
  refused 2 "merge into a name of 247 characters" "$BIN" merge $long /dev/null
  refused 2 "output.file of 247 characters in the config" "$BIN" run --config s.ini output.file=$long
  only_files loop1 loop2 sub s.ini
  # The longest name that fits is accepted and leaves its files.
  fits=$(printf 'b%.0s' $(seq 240))
  expect_exit 0 "run --output of 240 characters" "$BIN" run --config s.ini --output $fits
  [ -f $fits ] && [ -f $fits.journal ] && ok "its output and journal exist" || fail "$(ls)"
  ;;
critical)
  for gamma in 1 "1.5, 1.5" "2:2:1"; do
    refused 2 "critical with grid.gamma = $gamma" "$BIN" critical --config s.ini --output c.h5 "grid.gamma=$gamma"
  done
  grep -q 'grid.gamma' err.txt || fail "grid.gamma not named: $(cat err.txt)"
  refused 2 "critical on 2 ranks with one gamma" mpiexec -n 2 "$BIN" critical --config s.ini --output c.h5 grid.gamma=3
  # 1000 searches x 10^6 trials: about 10^11 per-trial values on rank 0.
  refused 2 "critical keeping 10^11 per-trial values" "$BIN" critical --config s.ini --output c.h5 \
    grid.rho=0:0.999:0.001 mc.trials=1000000
  grep -q 'rank 0 would keep' err.txt || fail "the master's memory is not named: $(cat err.txt)"
  refused 2 "the same on 2 ranks" mpiexec -n 2 "$BIN" critical --config s.ini --output c.h5 \
    grid.rho=0:0.999:0.001 mc.trials=1000000
  only_files s.ini
  # Two distinct gammas are enough.
  expect_exit 0 "critical with two gammas" "$BIN" critical --config s.ini --output c.h5
  ;;
stdout)
  "$BIN" run --config s.ini --output ok.h5 > /dev/null 2>&1 || fail "reference run"
  "$BIN" critical --config s.ini --output c.h5 > /dev/null 2>&1 || fail "reference critical search"
  while read -r what; do
    # shellcheck disable=SC2086
    "$BIN" $what > /dev/full 2> err.txt
    rc=$?
    [ $rc = 74 ] && grep -q 'cannot write to standard output' err.txt && ok "$what > /dev/full -> 74" ||
      fail "$what > /dev/full: exit $rc: $(cat err.txt)"
  done << 'COMMANDS'
status ok.h5
verify ok.h5
query ok.h5
query ok.h5 --format csv
query ok.h5 --format json --trials
cell --rho 0.5 --gamma 1 --d 4 --n 8
cell --rho 0.5 --gamma 1 --d 4 --n 8 --format json
plan --config s.ini
critical --config s.ini --output c.h5
critical --config s.ini --output c.h5 --format json
--version
--help
status --help
COMMANDS
  # A write error is not a bad input: a command that fails anyway keeps its own exit code.
  "$BIN" status nothere.h5 > /dev/full 2> /dev/null
  [ $? = 2 ] && ok "status of a missing file > /dev/full -> 2" || fail "missing file to /dev/full"
  ;;
damage)
  "$BIN" run --config s.ini --output ok.h5 > /dev/null 2>&1 || fail "reference run"
  cat > damage.py << 'PY'
# damage.py FILE DATASET chunk|dims OUT: a flipped bit in the dataset's first chunk (its
# Fletcher-32 then fails), or in its dataspace header (dimension 0 gains 2^32).
import struct, sys
import h5py
path, dataset, how, out = sys.argv[1:5]
with h5py.File(path, "r") as f:
    obj = f[dataset]
    header = h5py.h5o.get_info(obj.id).addr
    chunk = obj.id.get_chunk_info(0).byte_offset if obj.chunks else obj.id.get_offset()
data = bytearray(open(path, "rb").read())
if how == "chunk":
    data[chunk] ^= 0x01
else:
    assert data[header] == 1, "object header version 1 expected"
    at = header + 16
    while True:
        kind, size = struct.unpack_from("<HH", data, at)
        if kind == 1:  # the dataspace message
            body = at + 8
            data[body + (8 if data[body] == 1 else 4) + 4] ^= 0x01
            break
        at += 8 + size
open(out, "wb").write(data)
PY
  for dataset in rho gamma d n trial status trials attempts seconds lambda_mean lambda_stderr eta_mean eta_stderr \
    lambda_trial eta_trial error quantile lambda_quantile eta_quantile lambda_defined eta_defined; do
    for how in chunk dims; do
      [ $dataset = error ] && [ $how = chunk ] && continue  # strings: no checksum (docs/file-format.md)
      /usr/bin/python3 damage.py ok.h5 $dataset $how x.h5 || { fail "could not damage $dataset"; continue; }
      refused 1 "verify, $dataset $how damaged" "$BIN" verify x.h5
      grep -q "/$dataset" out.txt || fail "verify does not name /$dataset: $(cat out.txt)"
      # (query reads the values and the per-trial values; /trial is only their coordinate)
      [ "$dataset $how" = "trial chunk" ] || [ "$dataset $how" = "quantile chunk" ] ||
        refused 2 "query, $dataset $how damaged" "$BIN" query x.h5 --trials
      if [ $how = dims ]; then refused 2 "status, $dataset $how damaged" "$BIN" status x.h5; fi
    done
  done
  # Not HDF5, truncated, empty: damage for verify (1), bad input for the others (2).
  echo "not hdf5" > text.h5
  head -c 3000 ok.h5 > truncated.h5
  : > empty.h5
  for file in text.h5 truncated.h5 empty.h5; do
    refused 1 "verify $file" "$BIN" verify $file
    refused 2 "status $file" "$BIN" status $file
  done
  refused 2 "verify of a critical-search file (another kind, not damage)" sh -c \
    "'$BIN' critical --config s.ini --output c.h5 > /dev/null 2>&1; exec '$BIN' verify c.h5"
  expect_exit 0 "verify of the undamaged file" "$BIN" verify ok.h5
  ;;
messages)
  "$BIN" critical --config s.ini --output c.h5 > /dev/null 2>&1 || fail "critical search"
  refused 2 "run whose output is a critical-search file" "$BIN" run --config s.ini --output c.h5
  grep -q 'critical-search file' err.txt && ! grep -q 'rebuilt from' err.txt &&
    ok "named as a critical-search file, no advice to rebuild it from the search's journal" || fail "$(cat err.txt)"
  "$BIN" run --config s.ini --output j.h5 > /dev/null 2>&1 || fail "run"
  /usr/bin/python3 -c "
d = bytearray(open('j.h5.journal', 'rb').read()); d[10] ^= 0x10; open('j.h5.journal', 'wb').write(d)"
  refused 2 "a journal whose header hash has a damaged byte" "$BIN" run --config s.ini --output j.h5
  grep -q 'is damaged' err.txt && ! grep -q 'belongs to' err.txt && ok "named as damage" || fail "$(cat err.txt)"
  mv j.h5 j-snapshot.h5  # the journal alone: its header is what is judged
  /usr/bin/python3 -c "
d = bytearray(open('j.h5.journal', 'rb').read()); d[10] ^= 0x10; open('j.h5.journal', 'wb').write(d)"
  refused 2 "a journal of another config" "$BIN" run --config s.ini --output j.h5 mc.seed=99
  grep -q 'belongs to a sweep with another config' err.txt || fail "another config: $(cat err.txt)"
  d=$(/usr/bin/python3 -c "
d = bytearray(open('c.h5.journal', 'rb').read()); d[12] ^= 0x01; open('c.h5.journal', 'wb').write(d)")
  refused 2 "a critical search's journal with a damaged header byte" "$BIN" critical --config s.ini --output c.h5
  grep -q 'is damaged' err.txt || fail "critical journal damage: $(cat err.txt)"
  "$BIN" run --config s.ini --output k.h5 > /dev/null 2>&1 || fail "run"
  refused 2 "resume with another seed and another n" "$BIN" run --config s.ini --output k.h5 mc.seed=99 grid.n=16,32
  grep -q 'mc.seed: file 2025, config 99)' err.txt && ! grep -q 'grid.n' err.txt &&
    ok "the differing key is named, not the axis the study may grow by" ||
    fail "differences not named: $(cat err.txt)"
  # Config mistakes: where they are and what was meant.
  refused 2 "a typo in an override" "$BIN" plan --config s.ini grid.gama=3
  grep -q "override 'grid.gama=3': unknown config key 'grid.gama' (did you mean 'grid.gamma'?)" err.txt &&
    ok "named as the override's, with the closest key" || fail "$(cat err.txt)"
  refused 2 "a bare key typo in an override" "$BIN" plan --config s.ini trails=3
  grep -q "did you mean 'mc.trials'" err.txt || fail "$(cat err.txt)"
  printf '[grid]\nrho = 0.2\ngamm = 1\nd = 8\nn = 16\n' > typo.ini
  refused 2 "a typo in the config file" "$BIN" plan --config typo.ini
  grep -q "typo.ini, line 3: unknown config key 'grid.gamm' (did you mean 'grid.gamma'?)" err.txt &&
    ok "the file's line named" || fail "$(cat err.txt)"
  printf '[grid]\nrho = 0.2, 0.5,\ngamma = 1\nd = 8\nn = 16\n' > comma.ini
  refused 2 "a trailing comma" "$BIN" plan --config comma.ini
  grep -q 'a trailing comma' err.txt || fail "$(cat err.txt)"
  refused 2 "a doubled comma" "$BIN" plan --config s.ini "grid.d=8,,16"
  grep -q 'empty value between commas' err.txt || fail "$(cat err.txt)"
  # query filters as lists, in both forms.
  [ "$("$BIN" query k.h5 --rho 0.2,0.5 --format csv | wc -l)" = 5 ] &&
    [ "$("$BIN" query k.h5 --rho 0.2, 0.5 --gamma 2 --format csv | wc -l)" = 3 ] &&
    ok "query --rho 0.2,0.5 and --rho 0.2, 0.5 are lists" || fail "query list forms"
  refused 2 "query --d 8.5" "$BIN" query k.h5 --d 8.5
  refused 2 "grid.gamma = 0:1e308:1e-308" "$BIN" plan --config s.ini grid.gamma=0:1e308:1e-308
  grep -q 'more than 1000000 values' err.txt || fail "tiny step: $(cat err.txt)"
  refused 2 "grid.gamma = 1e309" "$BIN" plan --config s.ini grid.gamma=1e309
  refused 2 "grid.gamma = abc" "$BIN" plan --config s.ini grid.gamma=abc
  grep -q "'abc' is not a number" err.txt || fail "$(cat err.txt)"
  for list in "1,,2" "1," ",1" "1;2"; do
    refused 2 "ATTNSWEEP_INJECT_FAILURE='$list'" env ATTNSWEEP_INJECT_FAILURE="$list" \
      "$BIN" run --config s.ini --output inject.h5
  done
  [ ! -e inject.h5 ] && [ ! -e inject.h5.journal ] && ok "refused injections wrote nothing" || fail "$(ls)"
  ;;
sbatch)
  # Outside Slurm the script runs the sweep itself; a USR1 as soon as the script's first
  # command (the trap) is in place, then at moments of its argument handling and start-up:
  # a clean stop (75) every time, never the end of the script by the signal (138).
  write_medium_config
  for delay in 0 0.01 0.03 0.1 0.3; do
    rm -f t.h5 t.h5.journal
    ATTNSWEEP="$BIN" bash "$HERE/../jobs/sweep.sbatch" medium.ini t.h5 > log.txt 2>&1 &
    pid=$!
    for _ in $(seq 2000); do
      mask=$(awk '/^SigCgt:/ {print $2}' /proc/$pid/status 2> /dev/null)
      [ -n "$mask" ] && (((0x$mask >> 9) & 1)) && break
      sleep 0.001
    done
    usr1_after $pid $delay "USR1 to the job script after $delay s"
    rc=$?
    [ $rc = 75 ] && grep -q 'got USR1' log.txt && ok "USR1 to the job script at $delay s: 75 ($(grep -o 'not started\|run exited [0-9]*\|forwarded stop signal' log.txt | tr '\n' ' '))" ||
      fail "USR1 to the job script at $delay s: exit $rc: $(tail -3 log.txt)"
  done
  # An array task names its slice from the output the program reads in the config (CRLF line
  # ends, an inline comment, an override), not from sed.
  printf '[grid]\r\nrho = 0.2\r\ngamma = 1, 2\r\nd = 8\r\nn = 16\r\n[output]\r\nfile = named.h5   # here\r\n' > crlf.ini
  SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_MIN=0 ATTNSWEEP="$BIN" \
    bash "$HERE/../jobs/sweep.sbatch" crlf.ini --retry-failed mc.trials=3 > array.log 2>&1
  rc=$?
  [ $rc = 0 ] && [ -f named.slice1.h5 ] && "$BIN" status named.slice1.h5 | grep -q '3 trials' &&
    ok "array slice named named.slice1.h5 from a CRLF config with a comment" || fail "array slice: exit $rc, $(ls)"
  ;;
status)
  # status says what the output is doing: running, stopped, finished, failed (table and JSON).
  write_medium_config
  state() { "$BIN" status "$1" --format json | /usr/bin/python3 -c "import json, sys; print(json.load(sys.stdin)['$2'])"; }
  mpiexec -n 2 "$BIN" run --config medium.ini --output st.h5 mc.trials=96 > run.log 2>&1 &
  pid=$!
  wait_for_records st.h5.journal 2 || fail "no progress"
  [ "$(state st.h5 state)" = running ] && "$BIN" status st.h5 | grep -q 'state: running' &&
    ok "while it runs: running ($("$BIN" status st.h5 | sed -n 2p))" || fail "not running: $("$BIN" status st.h5)"
  usr1_after $pid 0 "USR1 to the run"
  [ "$(state st.h5 state)" = stopped ] && ok "after a stop: stopped, $(state st.h5 journal)" || fail "not stopped"
  mpiexec -n 2 "$BIN" run --config medium.ini --output st.h5 mc.trials=96 > /dev/null 2>&1 || fail "resume"
  [ "$(state st.h5 state)" = finished ] && [ "$(state st.h5 done)" = 48 ] && ok "after the resume: finished" || fail "not finished"
  ATTNSWEEP_INJECT_FAILURE=3 "$BIN" run --config s.ini --output f.h5 > /dev/null 2>&1
  [ "$(state f.h5 state)" = failed ] && ok "with a failed cell: failed" || fail "not failed: $(state f.h5 state)"
  refused 2 "status --format xml" "$BIN" status f.h5 --format xml
  ;;
*)
  echo "unknown scenario $SCENARIO"
  exit 2
  ;;
esac
echo "$SCENARIO: $failures failures"
[ $failures = 0 ]
