#!/usr/bin/env bash
# Real Asterisk on loopback for ClusterPBX tests: configure | start | stop | status | env.
#
#   lab/asterisk.sh configure  write the runtime configuration into $CPBX_LAB_STATE/asterisk (outside
#                              the repository): the installed samples, then our own files on top
#   lab/asterisk.sh start      configure if needed, start Asterisk, wait until the AMI user logs in
#   lab/asterisk.sh stop       'core stop now', then TERM/KILL if it is still there
#   lab/asterisk.sh status     running or not, versions, ports
#   lab/asterisk.sh env        print the connection settings (export lines, secrets included)
#
# Needs an Asterisk already built and installed in $CPBX_LAB_PREFIX/asterisk (default /opt/cpbx-lab); this
# script never builds anything (see lab/README.md).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

AST=$CPBX_LAB_PREFIX/asterisk
BIN=$AST/sbin/asterisk
RUN=$CPBX_LAB_STATE/asterisk
ETC=$RUN/etc
CONF=$ETC/asterisk.conf
# The folder the control daemon writes the generated *_clusterpbx.conf files into (--config-dir).
CPBX_DIR=$ETC/clusterpbx

need_build() {
  [ -x "$BIN" ] || die "no Asterisk in $AST (build it first, outside the repository: see lab/README.md)"
}

# ami_check: log in as the ClusterPBX AMI user and ping; true when both succeed.
ami_check() {
  local reply
  { exec 3<>"/dev/tcp/$LAB_IP/$AST_AMI_PORT"; } 2>/dev/null || return 1
  printf 'Action: Login\r\nUsername: %s\r\nSecret: %s\r\nEvents: off\r\n\r\nAction: Ping\r\n\r\nAction: Logoff\r\n\r\n' \
    "$AMI_USER" "$AMI_SECRET" >&3
  reply=$(timeout 5 cat <&3 || true)
  exec 3>&-
  grep -q 'Message: Authentication accepted' <<<"$reply" && grep -q 'Ping: Pong' <<<"$reply"
}

configure() {
  need_build
  secrets
  say "Asterisk configuration in $ETC"
  mkdir -p "$ETC" "$CPBX_DIR" "$RUN"/{lib,run,cache,data} "$RUN"/log/cdr-csv \
    "$RUN"/spool/{voicemail,monitor,outgoing,tmp,recording,meetme}
  # 1. The installed samples (make samples) as the operator's "own" configuration.
  if [ -d "$AST/etc/asterisk" ]; then
    cp -a "$AST/etc/asterisk/." "$ETC/"
  fi
  # 2. Read-only data from the installation; sounds from Debian's asterisk-core-sounds-* when installed.
  local item
  rm -rf "$RUN/data"
  mkdir -p "$RUN/data"
  for item in "$AST"/var/lib/asterisk/*; do
    [ -e "$item" ] || continue
    ln -sfn "$item" "$RUN/data/$(basename "$item")"
  done
  # Sounds and music on hold from Debian's asterisk-core-sounds-* and asterisk-moh-opsound-* (data only).
  if [ -d /usr/share/asterisk/sounds ]; then
    ln -sfn /usr/share/asterisk/sounds "$RUN/data/sounds"
  fi
  if [ -d /usr/share/asterisk/moh ]; then
    ln -sfn /usr/share/asterisk/moh "$RUN/data/moh"
  fi
  mkdir -p "$RUN/lib/keys"
  # 3. Our files.
  cat >"$CONF" <<CONF
; ClusterPBX lab (lab/asterisk.sh): everything under $RUN, binaries from $AST.
[directories]
astcachedir => $RUN/cache
astetcdir => $ETC
astmoddir => $AST/lib/asterisk/modules
astvarlibdir => $RUN/lib
astdbdir => $RUN/lib
astkeydir => $RUN/lib
astdatadir => $RUN/data
astagidir => $AST/var/lib/asterisk/agi-bin
astspooldir => $RUN/spool
astrundir => $RUN/run
astlogdir => $RUN/log
astsbindir => $AST/sbin

[options]
verbose = 3
debug = 0
defaultlanguage = en
documentation_language = en_US
CONF
  cat >"$ETC/modules.conf" <<'CONF'
; ClusterPBX lab: load whatever was built (the lab build has no test modules), but
[modules]
autoload = yes
; backends without a configuration here (they only log that they declined)
noload => cdr_custom.so
noload => cdr_sqlite3_custom.so
noload => cel_custom.so
CONF
  cat >"$ETC/logger.conf" <<'CONF'
[general]
dateformat = %F %T.%3q
[logfiles]
console => notice,warning,error
messages.log => notice,warning,error,verbose(3)
CONF
  # The AMI user of docs/operators.md, with the two classes real Asterisk also needs (see
  # ../shared/notes/real-pbx-lab.md): write 'user' (VoicemailRemove/Move/Refresh) and read 'security'
  # (SuccessfulAuth).
  cat >"$ETC/manager.conf" <<CONF
; ClusterPBX lab: AMI on loopback only.
[general]
enabled = yes
port = $AST_AMI_PORT
bindaddr = $LAB_IP
displayconnects = no

[$AMI_USER]
secret = $AMI_SECRET
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
displayconnects = no
read = system,call,agent,user,cdr,security
write = system,call,agent,user,originate,message,reporting
writetimeout = 5000
CONF
  chmod 0600 "$ETC/manager.conf"
  cat >"$ETC/http.conf" <<'CONF'
[general]
enabled = no
CONF
  cat >"$ETC/rtp.conf" <<'CONF'
; RTP ports apart from the lab FreeSWITCH's (11000-11998).
[general]
rtpstart = 10000
rtpend = 10999
CONF
  cat >"$ETC/pjsip.conf" <<CONF
; ClusterPBX lab: one UDP transport on loopback, the lab's own test account, then the generated file.
[global]
type = global
user_agent = ClusterPBX lab Asterisk

[transport-udp]
type = transport
protocol = udp
bind = $LAB_IP:$AST_SIP_PORT

[$LAB_SIP_USER]
type = endpoint
context = cpbxlab-local
disallow = all
allow = ulaw,alaw
auth = $LAB_SIP_USER-auth
aors = $LAB_SIP_USER

[$LAB_SIP_USER-auth]
type = auth
auth_type = userpass
username = $LAB_SIP_USER
password = $LAB_SIP_PASSWORD

[$LAB_SIP_USER]
type = aor
max_contacts = 5
remove_existing = yes

; At the very end, as docs/operators.md says.
#include clusterpbx/pjsip_clusterpbx.conf
CONF
  chmod 0600 "$ETC/pjsip.conf"
  cat >"$ETC/extensions.conf" <<'CONF'
; ClusterPBX lab: a small context for the lab account (600 echo, 601 hello-world), then the generated file.
[general]
static = yes
writeprotect = yes
clearglobalvars = no

[globals]

[cpbxlab-local]
exten => 600,1,Answer()
 same => n,Echo()
 same => n,Hangup()
exten => 601,1,Answer()
 same => n,Playback(hello-world)
 same => n,Hangup()

#include clusterpbx/extensions_clusterpbx.conf
CONF
  cat >"$ETC/queues.conf" <<'CONF'
[general]
persistentmembers = yes

#include clusterpbx/queues_clusterpbx.conf
CONF
  cat >"$ETC/confbridge.conf" <<'CONF'
[general]

#include clusterpbx/confbridge_clusterpbx.conf
CONF
  cat >"$ETC/voicemail.conf" <<'CONF'
[general]
format = wav49|gsm|wav
serveremail = asterisk@lab.invalid
attach = yes
maxmsg = 100
maxsecs = 180
minsecs = 1
maxlogins = 3
sendvoicemail = yes

[zonemessages]
central = America/Chicago|'vm-received' Q 'digits/at' IMp
european = Europe/Paris|'vm-received' a d b 'digits/at' HM

#include clusterpbx/voicemail_clusterpbx.conf
CONF
  # Call records as docs/operators.md asks: AMI Cdr events live (cdr_manager), Master.csv to catch up.
  cat >"$ETC/cdr.conf" <<'CONF'
[general]
enable = yes
unanswered = yes

[csv]
usegmtime = yes
loguniqueid = yes
loguserfield = yes
CONF
  cat >"$ETC/cdr_manager.conf" <<'CONF'
[general]
enabled = yes
CONF
  # Empty stand-ins until the control daemon (or `clusterpbx dialplan apply`) writes the real files.
  local f
  for f in pjsip extensions queues confbridge voicemail; do
    [ -e "$CPBX_DIR/${f}_clusterpbx.conf" ] || : >"$CPBX_DIR/${f}_clusterpbx.conf"
  done
  touch "$RUN/.configured"
}

start() {
  need_build
  secrets
  [ -e "$RUN/.configured" ] || configure
  if pid_alive "$RUN/run/asterisk.pid"; then
    say "Asterisk already running (pid $(cat "$RUN/run/asterisk.pid"))"
  else
    if port_in_use "$AST_AMI_PORT"; then
      die "something else already listens on $LAB_IP:$AST_AMI_PORT"
    fi
    say "starting Asterisk ($BIN -C $CONF)"
    "$BIN" -C "$CONF"
  fi
  local i
  for ((i = 0; i < 60; i++)); do
    if ami_check; then
      say "Asterisk up: AMI $LAB_IP:$AST_AMI_PORT (user $AMI_USER), SIP udp $LAB_IP:$AST_SIP_PORT"
      return 0
    fi
    sleep 1
  done
  die "Asterisk's AMI did not answer on $LAB_IP:$AST_AMI_PORT within 60 s (see $RUN/log/messages.log)"
}

stop() {
  local i
  if ! pid_alive "$RUN/run/asterisk.pid"; then
    say "Asterisk is not running"
    return 0
  fi
  "$BIN" -C "$CONF" -rx 'core stop now' >/dev/null 2>&1 || true
  for ((i = 0; i < 20; i++)); do
    pid_alive "$RUN/run/asterisk.pid" || break
    sleep 0.5
  done
  stop_pid "$RUN/run/asterisk.pid" 10
  say "Asterisk stopped"
}

status() {
  need_build
  "$BIN" -V
  if pid_alive "$RUN/run/asterisk.pid"; then
    secrets
    echo "running, pid $(cat "$RUN/run/asterisk.pid")"
    if ami_check; then echo "AMI $LAB_IP:$AST_AMI_PORT answers"; else echo "AMI $LAB_IP:$AST_AMI_PORT does not answer"; fi
  else
    echo "stopped"
    return 3
  fi
}

print_env() {
  secrets
  printf 'export CPBX_LAB_AMI_HOST=%s CPBX_LAB_AMI_PORT=%s CPBX_LAB_AMI_USER=%s CPBX_LAB_AMI_SECRET=%s\n' \
    "$LAB_IP" "$AST_AMI_PORT" "$AMI_USER" "$AMI_SECRET"
  printf 'export CPBX_LAB_AST_SIP=%s:%s CPBX_LAB_SIP_USER=%s CPBX_LAB_SIP_PASSWORD=%s\n' \
    "$LAB_IP" "$AST_SIP_PORT" "$LAB_SIP_USER" "$LAB_SIP_PASSWORD"
  printf 'export CPBX_LAB_AST_CONFIG_DIR=%s CPBX_LAB_AST_SPOOL=%s CPBX_LAB_AST_CDR_CSV=%s\n' \
    "$CPBX_DIR" "$RUN/spool" "$RUN/log/cdr-csv/Master.csv"
}

case "${1:-}" in
  configure) configure ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  env) print_env ;;
  *) echo "usage: $0 configure|start|stop|restart|status|env" >&2; exit 2 ;;
esac
