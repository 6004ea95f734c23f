#!/usr/bin/env bash
# Installs what attnsweep needs from Debian's packages, only what is missing (idempotent,
# quiet when everything is there). Run as root (or with sudo available).
set -euo pipefail
packages=(
  cmake g++ make pkg-config
  libopenmpi-dev openmpi-bin
  libeigen3-dev libhdf5-dev hdf5-tools libboost-program-options-dev
  libgtest-dev libbenchmark-dev librandom123-dev
  python3 python3-h5py python3-matplotlib python3-numpy
  python3-xarray python3-h5netcdf netcdf-bin
  slurmctld slurmd slurm-client munge
  iproute2 bc time
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" > /tmp/attnsweep-setup.log 2>&1 || {
  tail -20 /tmp/attnsweep-setup.log; exit 1; }
