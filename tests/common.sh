# Helpers shared by the end-to-end test scripts (sourced; BIN must be set).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
# Results without the timing column, every number at 17 significant digits.
results() { "$BIN" query "$1" --format csv | cut -d, -f1-11,13-; }
# A sweep of 48 bigger cells (several seconds), long enough to interrupt.
write_medium_config() {
  cat > medium.ini <<'INI'
[grid]
rho   = 0.2, 0.5, 0.8
gamma = 0.5:4:0.5
d     = 8, 128
n     = 512
[mc]
trials = 6
seed   = 11
INI
}
# Waits (at most 180 s) until the journal $1 holds at least $2 records (69 bytes each).
wait_for_records() {
  local want=$((16 + $2 * 69))
  for _ in $(seq 1800); do
    [ -f "$1" ] && [ "$(stat -c %s "$1")" -ge $want ] && return 0
    sleep 0.1
  done
  return 1
}
