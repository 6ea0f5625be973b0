#!/usr/bin/env bash
# Shared by lab/asterisk.sh and lab/freeswitch.sh (sourced, never run). These scripts only configure,
# start and stop PBXs that are already built under $CPBX_LAB_PREFIX; they never build anything.
# shellcheck disable=SC2034  # the settings below are used by the scripts that source this file

CPBX_LAB_PREFIX=${CPBX_LAB_PREFIX:-/opt/cpbx-lab}
CPBX_LAB_STATE=${CPBX_LAB_STATE:-/tmp/cpbx-lab-run}
LAB_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Loopback only, and ports that do not clash with the embedded PBX of `make run` (AMI 5038, ESL 8021).
LAB_IP=127.0.0.1
AST_AMI_PORT=${CPBX_LAB_AMI_PORT:-15038}
AST_SIP_PORT=${CPBX_LAB_AST_SIP_PORT:-5060}
FS_ESL_PORT=${CPBX_LAB_ESL_PORT:-18021}
FS_SIP_PORT=${CPBX_LAB_FS_SIP_PORT:-5160}
FS_EXT_SIP_PORT=${CPBX_LAB_FS_EXT_SIP_PORT:-5180}
# The AMI user name (docs/operators.md) and the lab's own SIP account on each PBX (not a portal user).
AMI_USER=clusterpbx
LAB_SIP_USER=cpbxlab
# Where mod_json_cdr posts call records: the portal's /cdr/freeswitch/<node> (nothing breaks if no
# portal listens there; FreeSWITCH then keeps the records in its error folder).
PORTAL_URL=${CPBX_LAB_PORTAL_URL:-http://127.0.0.1:8000}
FS_NODE=${CPBX_LAB_FS_NODE:-lab-freeswitch}

say() { printf '==> %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# secrets: create $CPBX_LAB_STATE/secrets.env once (mode 0600) and load it: AMI_SECRET, ESL_PASSWORD,
# LAB_SIP_PASSWORD. They are random per machine and never written into the repository.
secrets() {
  local file=$CPBX_LAB_STATE/secrets.env
  mkdir -p "$CPBX_LAB_STATE"
  if [ ! -s "$file" ]; then
    (
      umask 077
      printf 'AMI_SECRET=%s\nESL_PASSWORD=%s\nLAB_SIP_PASSWORD=%s\n' "$(random_word 40)" "$(random_word 40)" \
        "$(random_word 20)" >"$file"
    )
  fi
  # shellcheck disable=SC1090
  . "$file"
  if [ -z "${AMI_SECRET:-}" ] || [ -z "${ESL_PASSWORD:-}" ] || [ -z "${LAB_SIP_PASSWORD:-}" ]; then
    die "$file is incomplete; delete it and configure again"
  fi
}

# random_word LENGTH: letters and digits only (safe in XML, INI files and AMI/ESL lines).
random_word() {
  local out=""
  while [ "${#out}" -lt "$1" ]; do
    out+=$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9')
  done
  printf '%s' "${out:0:$1}"
}

# port_in_use PORT: true when something already listens on 127.0.0.1:PORT (TCP).
port_in_use() {
  (exec 3<>"/dev/tcp/$LAB_IP/$1") 2>/dev/null
}

# pid_alive PIDFILE: true when PIDFILE names a running process.
pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(tr -dc '0-9' <"$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# stop_pid PIDFILE SECONDS: TERM the process of PIDFILE, KILL it after SECONDS if still there.
stop_pid() {
  local pidfile=$1 seconds=$2 pid i
  pid_alive "$pidfile" || return 0
  pid=$(tr -dc '0-9' <"$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < seconds * 2; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
  # gone before returning: a start right after a stop must not find the dying process "already running"
  for ((i = 0; i < 20; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
}
