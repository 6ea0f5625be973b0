#!/usr/bin/env bash
# Real FreeSWITCH on loopback for ClusterPBX tests: configure | start | stop | status | env.
#
#   lab/freeswitch.sh configure  copy the installed stock configuration into $CPBX_LAB_STATE/freeswitch
#                                (outside the repository) and apply docs/operators.md to the copy
#   lab/freeswitch.sh start      configure if needed, start FreeSWITCH, wait until the event socket
#                                accepts the password and answers 'api status'
#   lab/freeswitch.sh stop       TERM, then KILL if it is still there after 20 s
#   lab/freeswitch.sh status     running or not, version, ports
#   lab/freeswitch.sh env        print the connection settings (export lines, secrets included)
#
# Needs a FreeSWITCH already built and installed in $CPBX_LAB_PREFIX/freeswitch (default /opt/cpbx-lab,
# libraries in $CPBX_LAB_PREFIX/deps); this script never builds anything (see lab/README.md).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# The same in-place edits as the Vagrant lab (fs_vars, fs_include_after), tested in tests/vagrant.
# shellcheck source-path=SCRIPTDIR source=../vagrant/provision/edit.sh
. "$LAB_SCRIPTS/../vagrant/provision/edit.sh"

FS=$CPBX_LAB_PREFIX/freeswitch
BIN=$FS/bin/freeswitch
RUN=$CPBX_LAB_STATE/freeswitch
CONF=$RUN/conf
PIDFILE=$RUN/run/freeswitch.pid
# The folder the control daemon writes the generated *_clusterpbx.xml files into (--config-dir).
CPBX_DIR=$CONF/clusterpbx
export LD_LIBRARY_PATH=$CPBX_LAB_PREFIX/deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Modules the lab build has and the generated configuration uses (docs/operators.md), loggers first.
MODULES="mod_console mod_logfile mod_syslog mod_json_cdr mod_event_socket mod_sofia mod_loopback
mod_commands mod_conference mod_db mod_dptools mod_expr mod_fifo mod_hash mod_voicemail mod_callcenter
mod_valet_parking mod_sms mod_dialplan_xml mod_opus mod_sndfile mod_native_file mod_local_stream
mod_tone_stream mod_say_en mod_say_fr"
# mod_xml_curl refuses to load without a binding that has a URL: only with CPBX_LAB_XML_CURL=1, bound to
# the portal (the mod_xml_curl variant of docs/operators.md; the static files stay the fallback).
XML_CURL=${CPBX_LAB_XML_CURL:-0}
if [ "$XML_CURL" = 1 ]; then
  MODULES="mod_xml_curl $MODULES"
fi

need_build() {
  [ -x "$BIN" ] || die "no FreeSWITCH in $FS (build it first, outside the repository: see lab/README.md)"
}

# esl_check: authenticate on the event socket and run 'api status'; true when FreeSWITCH is UP.
esl_check() {
  local reply
  { exec 3<>"/dev/tcp/$LAB_IP/$FS_ESL_PORT"; } 2>/dev/null || return 1
  printf 'auth %s\n\napi status\n\nexit\n\n' "$ESL_PASSWORD" >&3
  reply=$(timeout 5 cat <&3 || true)
  exec 3>&-
  grep -q 'Reply-Text: +OK accepted' <<<"$reply" && grep -q '^UP ' <<<"$reply"
}

configure() {
  need_build
  secrets
  say "FreeSWITCH configuration in $CONF"
  # 1. The installed stock configuration as the operator's own (replaced whole on every configure).
  rm -rf "$CONF"
  mkdir -p "$RUN"/{run,log,db,storage,recordings,cache,tmp,certs}
  cp -a "$FS/conf" "$CONF"
  # 2. Loopback only, no STUN, a random default password for the stock directory users; the lab's ports.
  fs_vars "$CONF/vars.xml" "$LAB_IP"
  sed -i -E \
    -e "s|data=\"internal_sip_port=[0-9]+\"|data=\"internal_sip_port=$FS_SIP_PORT\"|" \
    -e "s|data=\"external_sip_port=[0-9]+\"|data=\"external_sip_port=$FS_EXT_SIP_PORT\"|" \
    -e "s|data=\"bind_server_ip=[^\"]*\"|data=\"bind_server_ip=$LAB_IP\"|" "$CONF/vars.xml"
  rm -rf "$CONF"/sip_profiles/*ipv6*
  # Tenants have their own SIP domains: the stock internal profile would force every REGISTER into
  # the default domain and answer 403 (docs/operators.md, tests/real/test_freeswitch_register.py).
  fs_multi_domain_profile "$CONF/sip_profiles/internal.xml"
  # RTP ports apart from the lab Asterisk's (10000-10999); FreeSWITCH wants an even end port. A second
  # instance on the same machine takes others (CPBX_LAB_FS_RTP_START/END), and its own WebSocket ports
  # (CPBX_LAB_FS_WS_PORT/WSS_PORT, stock 5066/7443).
  sed -i -E \
    -e "s|<!-- *<param name=\"rtp-start-port\" value=\"[0-9]+\"/> *-->|<param name=\"rtp-start-port\" value=\"${CPBX_LAB_FS_RTP_START:-11000}\"/>|" \
    -e "s|<!-- *<param name=\"rtp-end-port\" value=\"[0-9]+\"/> *-->|<param name=\"rtp-end-port\" value=\"${CPBX_LAB_FS_RTP_END:-11998}\"/>|" \
    "$CONF/autoload_configs/switch.conf.xml"
  sed -i -E \
    -e "s|(<param name=\"ws-binding\" +value=\"):[0-9]+\"|\\1:${CPBX_LAB_FS_WS_PORT:-5066}\"|" \
    -e "s|(<param name=\"wss-binding\" +value=\"):[0-9]+\"|\\1:${CPBX_LAB_FS_WSS_PORT:-7443}\"|" \
    "$CONF/sip_profiles/internal.xml"
  # 3. Only the modules that were built.
  {
    echo '<configuration name="modules.conf" description="Modules (ClusterPBX lab)">'
    echo '  <modules>'
    local m
    for m in $MODULES; do
      if [ -e "$FS/mod/$m.so" ]; then
        echo "    <load module=\"$m\"/>"
      else
        echo "    <!-- $m: not built -->"
      fi
    done
    echo '  </modules>'
    echo '</configuration>'
  } >"$CONF/autoload_configs/modules.conf.xml"
  # 4. The event socket of docs/operators.md, on the lab's port.
  cat >"$CONF/autoload_configs/event_socket.conf.xml" <<XML
<configuration name="event_socket.conf" description="Socket Client">
  <settings>
    <param name="nat-map" value="false"/>
    <param name="listen-ip" value="$LAB_IP"/>
    <param name="listen-port" value="$FS_ESL_PORT"/>
    <param name="password" value="$ESL_PASSWORD"/>
    <param name="apply-inbound-acl" value="loopback.auto"/>
  </settings>
</configuration>
XML
  if [ "$XML_CURL" = 1 ]; then
    cat >"$CONF/autoload_configs/xml_curl.conf.xml" <<XML
<configuration name="xml_curl.conf" description="ClusterPBX">
  <bindings>
    <binding name="clusterpbx">
      <param name="gateway-url" value="$PORTAL_URL/freeswitch/xml-curl/$FS_NODE" bindings="directory|dialplan"/>
      <param name="gateway-credentials" value="$FS_NODE:$ESL_PASSWORD"/>
      <param name="auth-scheme" value="basic"/>
      <param name="timeout" value="5"/>
    </binding>
  </bindings>
</configuration>
XML
    chmod 0600 "$CONF/autoload_configs/xml_curl.conf.xml"
  fi
  # 5. mod_json_cdr to the portal (docs/operators.md), failures kept in a folder the daemon can read.
  mkdir -p "$RUN/log/json_cdr_failed"
  cat >"$CONF/autoload_configs/json_cdr.conf.xml" <<XML
<configuration name="json_cdr.conf" description="JSON CDR">
  <settings>
    <param name="url" value="$PORTAL_URL/cdr/freeswitch/$FS_NODE"/>
    <param name="cred" value="$FS_NODE:$ESL_PASSWORD"/>
    <param name="auth-scheme" value="basic"/>
    <param name="encode" value="false"/>
    <param name="retries" value="2"/>
    <param name="delay" value="3"/>
    <param name="log-http-and-disk" value="false"/>
    <param name="err-log-dir" value="$RUN/log/json_cdr_failed"/>
    <param name="queue-capacity" value="1000"/>
  </settings>
</configuration>
XML
  chmod 0600 "$CONF/autoload_configs/event_socket.conf.xml" "$CONF/autoload_configs/json_cdr.conf.xml"
  # 6. The generated files (static-file variant of docs/operators.md), empty until the daemon writes them.
  mkdir -p "$CPBX_DIR"
  local f
  for f in directory dialplan conference_profiles conference_controls callcenter_queues callcenter_agents \
    callcenter_tiers; do
    echo '<include/>' >"$CPBX_DIR/${f}_clusterpbx.xml"
  done
  for f in directory dialplan; do
    printf '<include>\n  <X-PRE-PROCESS cmd="include" data="%s/%s_clusterpbx.xml"/>\n</include>\n' \
      "$CPBX_DIR" "$f" >"$CONF/$f/clusterpbx.xml"
  done
  fs_include_after "$CONF/autoload_configs/conference.conf.xml" profiles "$CPBX_DIR/conference_profiles_clusterpbx.xml"
  fs_include_after "$CONF/autoload_configs/conference.conf.xml" caller-controls \
    "$CPBX_DIR/conference_controls_clusterpbx.xml"
  fs_include_after "$CONF/autoload_configs/callcenter.conf.xml" queues "$CPBX_DIR/callcenter_queues_clusterpbx.xml"
  fs_include_after "$CONF/autoload_configs/callcenter.conf.xml" agents "$CPBX_DIR/callcenter_agents_clusterpbx.xml"
  fs_include_after "$CONF/autoload_configs/callcenter.conf.xml" tiers "$CPBX_DIR/callcenter_tiers_clusterpbx.xml"
  # 7. The lab's own test account in the default domain (127.0.0.1), context default (9196 = echo).
  cat >"$CONF/directory/default/$LAB_SIP_USER.xml" <<XML
<include>
  <user id="$LAB_SIP_USER">
    <params>
      <param name="password" value="$LAB_SIP_PASSWORD"/>
    </params>
    <variables>
      <variable name="user_context" value="default"/>
      <variable name="effective_caller_id_name" value="ClusterPBX lab"/>
    </variables>
  </user>
</include>
XML
  chmod 0600 "$CONF/directory/default/$LAB_SIP_USER.xml"
  touch "$RUN/.configured"
}

start() {
  need_build
  secrets
  [ -e "$RUN/.configured" ] || configure
  if pid_alive "$PIDFILE"; then
    say "FreeSWITCH already running (pid $(cat "$PIDFILE"))"
  else
    if port_in_use "$FS_ESL_PORT"; then
      die "something else already listens on $LAB_IP:$FS_ESL_PORT"
    fi
    say "starting FreeSWITCH ($BIN -conf $CONF)"
    # -nc: in the background; -nonat: no NAT discovery (no network here).
    "$BIN" -nc -nonat -conf "$CONF" -log "$RUN/log" -run "$RUN/run" -db "$RUN/db" -storage "$RUN/storage" \
      -recordings "$RUN/recordings" -cache "$RUN/cache" -temp "$RUN/tmp" -certs "$RUN/certs" >"$RUN/log/start.out" 2>&1
  fi
  local i
  for ((i = 0; i < 90; i++)); do
    if esl_check; then
      say "FreeSWITCH up: ESL $LAB_IP:$FS_ESL_PORT, SIP udp $LAB_IP:$FS_SIP_PORT (internal), $LAB_IP:$FS_EXT_SIP_PORT (external)"
      return 0
    fi
    sleep 1
  done
  die "FreeSWITCH's event socket did not answer on $LAB_IP:$FS_ESL_PORT within 90 s (see $RUN/log/freeswitch.log)"
}

stop() {
  if ! pid_alive "$PIDFILE"; then
    say "FreeSWITCH is not running"
    return 0
  fi
  stop_pid "$PIDFILE" 20
  say "FreeSWITCH stopped"
}

status() {
  need_build
  "$BIN" -version
  if pid_alive "$PIDFILE"; then
    secrets
    echo "running, pid $(cat "$PIDFILE")"
    if esl_check; then echo "ESL $LAB_IP:$FS_ESL_PORT answers"; else echo "ESL $LAB_IP:$FS_ESL_PORT does not answer"; fi
  else
    echo "stopped"
    return 3
  fi
}

print_env() {
  secrets
  printf 'export CPBX_LAB_ESL_HOST=%s CPBX_LAB_ESL_PORT=%s CPBX_LAB_ESL_PASSWORD=%s\n' \
    "$LAB_IP" "$FS_ESL_PORT" "$ESL_PASSWORD"
  printf 'export CPBX_LAB_FS_SIP=%s:%s CPBX_LAB_SIP_USER=%s CPBX_LAB_SIP_PASSWORD=%s\n' \
    "$LAB_IP" "$FS_SIP_PORT" "$LAB_SIP_USER" "$LAB_SIP_PASSWORD"
  printf 'export CPBX_LAB_FS_CONFIG_DIR=%s CPBX_LAB_FS_JSON_CDR_ERRORS=%s\n' "$CPBX_DIR" "$RUN/log/json_cdr_failed"
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
