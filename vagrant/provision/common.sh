#!/usr/bin/env bash
# Helpers shared by the lab's provisioning scripts (sourced, never run). Every step they take can be
# read as an instruction: "install X", "write file Y", "run Z once".

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lab.env
. "$LAB_DIR/lab.env"
export DEBIAN_FRONTEND=noninteractive
# Run from / (services' users may not enter the caller's folder); paths below are absolute.
cd /

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# need_env VAR...: the secrets come from vagrant/.secrets.env (the Vagrantfile passes them); without
# Vagrant, export them yourself before running a script.
need_env() {
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || die "$name is not set (see vagrant/README.md, 'Without Vagrant')"
  done
}

# apt_install PKG...: install Debian/Ubuntu packages; apt-get update runs once per provisioning.
apt_install() {
  if [ ! -e /run/clusterpbx-lab-apt-updated ]; then
    apt-get update -q
    touch /run/clusterpbx-lab-apt-updated
  fi
  apt-get install -y -q --no-install-recommends "$@"
}

# backup_once FILE: keep the distribution's original next to it as FILE.dist before the lab rewrites it.
backup_once() {
  if [ -e "$1" ] && [ ! -e "$1.dist" ]; then
    cp -p "$1" "$1.dist"
  fi
}

# append_once FILE LINE: add LINE at the end of FILE unless FILE already has exactly that line.
append_once() {
  grep -qxF -- "$2" "$1" 2>/dev/null || printf '%s\n' "$2" >>"$1"
}

# render TEMPLATE: print TEMPLATE with @NAME@ replaced by the value of the shell variable NAME.
render() {
  local text name
  text="$(cat "$1")"
  for name in $(grep -o '@[A-Z_][A-Z0-9_]*@' "$1" | sort -u | tr -d '@'); do
    [ -n "${!name+set}" ] || die "$1 uses @$name@ but $name is not set"
    text="${text//@"$name"@/${!name}}"
  done
  printf '%s\n' "$text"
}
