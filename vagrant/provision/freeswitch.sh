#!/usr/bin/env bash
# FreeSWITCH 1.10 on the portal VM (Debian 12), built from source: SignalWire's Debian packages need a
# personal access token, and Debian ships neither FreeSWITCH nor the sofia-sip >= 1.13.17 and
# spandsp 3 it needs. Debian 12 rather than 13: FreeSWITCH 1.10.12 still needs PCRE 1 (libpcre3-dev),
# which Debian 13 dropped. Then the configuration of docs/operators.md: event socket on loopback,
# mod_json_cdr to the portal, the generated files included.
#
# Run as root on the portal VM:  ESL_PASSWORD=... bash vagrant/provision/freeswitch.sh
# Safe to run again: the build is skipped when the pinned version is installed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR source=edit.sh
. "$LAB_DIR/provision/edit.sh"
need_env ESL_PASSWORD

# Pinned sources. Tags, not hashes: the hashes were never fetched from the project's machines (no access
# to GitHub there). Set *_COMMIT to make the build refuse anything else.
FREESWITCH_TAG=v1.10.12
FREESWITCH_COMMIT=${FREESWITCH_COMMIT:-}
SOFIA_SIP_TAG=v1.13.17
SOFIA_SIP_COMMIT=${SOFIA_SIP_COMMIT:-}
# spandsp has no release tags; this commit is the one commonly used with FreeSWITCH 1.10 (later
# commits changed the V.18 API that mod_spandsp uses; the lab does not build mod_spandsp anyway).
SPANDSP_COMMIT=0d2e6ac65e0e8f53d652665a743015a88bf048d4

PREFIX=/usr/local/freeswitch
CONF=$PREFIX/conf
BUILD=/usr/local/src/clusterpbx-lab
export LAB_PORTAL_IP ESL_PORT PORTAL_PORT FS_NODE ESL_PASSWORD

say "1. Build dependencies (Debian 12 packages)"
apt_install build-essential git ca-certificates autoconf automake libtool libtool-bin pkg-config cmake \
  yasm uuid-dev zlib1g-dev libjpeg-dev libsqlite3-dev libcurl4-openssl-dev libpcre3-dev libspeex-dev \
  libspeexdsp-dev libldns-dev libedit-dev libtiff-dev libopus-dev libsndfile1-dev libssl-dev \
  libncurses-dev unixodbc-dev libyuv-dev libvpx-dev libpng-dev xz-utils wget

# fetch NAME URL TAG_OR_COMMIT [EXPECTED_COMMIT]: a clean checkout of one pinned revision in $BUILD/NAME.
fetch() {
  local name=$1 url=$2 rev=$3 expected=${4:-} dir=$BUILD/$1 got
  rm -rf "$dir"
  git init -q "$dir"
  git -C "$dir" fetch -q --depth 1 "$url" "$rev"
  git -C "$dir" checkout -q FETCH_HEAD
  got=$(git -C "$dir" rev-parse HEAD)
  if [ -n "$expected" ] && [ "$got" != "$expected" ]; then
    die "$name $rev is $got, expected $expected"
  fi
  echo "$name $rev $got" >>"$BUILD/versions.txt"
}

install -d "$BUILD"
if [ "$(pkg-config --modversion sofia-sip-ua 2>/dev/null)" != "${SOFIA_SIP_TAG#v}" ]; then
  say "2. sofia-sip $SOFIA_SIP_TAG"
  fetch sofia-sip https://github.com/freeswitch/sofia-sip.git "$SOFIA_SIP_TAG" "$SOFIA_SIP_COMMIT"
  (cd "$BUILD/sofia-sip" && ./bootstrap.sh && ./configure --quiet && make -s -j"$(nproc)" && make -s install)
  ldconfig
else
  say "2. sofia-sip ${SOFIA_SIP_TAG#v} already installed"
fi

if [ ! -e "$BUILD/.spandsp-$SPANDSP_COMMIT" ]; then
  say "3. spandsp $SPANDSP_COMMIT"
  fetch spandsp https://github.com/freeswitch/spandsp.git "$SPANDSP_COMMIT" "$SPANDSP_COMMIT"
  (cd "$BUILD/spandsp" && ./bootstrap.sh && ./configure --quiet && make -s -j"$(nproc)" && make -s install)
  ldconfig
  touch "$BUILD/.spandsp-$SPANDSP_COMMIT"
else
  say "3. spandsp $SPANDSP_COMMIT already installed"
fi

if ! "$PREFIX/bin/freeswitch" -version 2>/dev/null | grep -q "${FREESWITCH_TAG#v}"; then
  say "4. FreeSWITCH $FREESWITCH_TAG (about 20 minutes on 2 cores)"
  fetch freeswitch https://github.com/signalwire/freeswitch.git "$FREESWITCH_TAG" "$FREESWITCH_COMMIT"
  cd "$BUILD/freeswitch"
  ./bootstrap.sh -j
  # Modules ClusterPBX's generated configuration uses (docs/operators.md), on; modules that need
  # libraries the lab does not build (libks for verto/signalwire, ffmpeg for av), off.
  for m in applications/mod_callcenter applications/mod_commands applications/mod_conference \
    applications/mod_db applications/mod_dptools applications/mod_hash applications/mod_voicemail \
    endpoints/mod_loopback endpoints/mod_sofia event_handlers/mod_event_socket \
    event_handlers/mod_json_cdr xml_int/mod_xml_curl; do
    if grep -qx "#$m" modules.conf; then
      sed -i "s|^#$m\$|$m|" modules.conf
    elif ! grep -qx "$m" modules.conf; then
      echo "$m" >>modules.conf
    fi
  done
  for m in applications/mod_signalwire endpoints/mod_verto applications/mod_av applications/mod_spandsp \
    languages/mod_lua; do
    sed -i "s|^$m\$|#$m|" modules.conf
  done
  ./configure --quiet --prefix="$PREFIX"
  make -s -j"$(nproc)"
  make -s install
  # 8 kHz prompts and music on hold (voicemail, conference, busy messages).
  make -s sounds-install moh-install
  cd /
else
  say "4. FreeSWITCH ${FREESWITCH_TAG#v} already installed"
fi
"$PREFIX/bin/freeswitch" -version

say "5. The freeswitch user and service"
if ! id freeswitch >/dev/null 2>&1; then
  adduser --system --group --home "$PREFIX" --no-create-home freeswitch
fi
chown -R freeswitch:freeswitch "$PREFIX"
install -m 0644 "$LAB_DIR/config/freeswitch/freeswitch.service" /etc/systemd/system/freeswitch.service
systemctl daemon-reload

say "6. FreeSWITCH configuration (originals kept as *.dist)"
# SIP and RTP on the lab network, no STUN, and no well-known default password for the stock users.
backup_once "$CONF/vars.xml"
fs_vars "$CONF/vars.xml" "$LAB_PORTAL_IP"
# Owned whole by the lab: the event socket for the daemon, mod_json_cdr posting to the portal.
for f in event_socket.conf.xml json_cdr.conf.xml; do
  backup_once "$CONF/autoload_configs/$f"
  render "$LAB_DIR/config/freeswitch/$f" >"$CONF/autoload_configs/$f"
  chown freeswitch:freeswitch "$CONF/autoload_configs/$f"
  chmod 0640 "$CONF/autoload_configs/$f"
done
# Tenants register in their own directory domains: the stock internal profile would answer 403.
backup_once "$CONF/sip_profiles/internal.xml"
fs_multi_domain_profile "$CONF/sip_profiles/internal.xml"
# Load what the generated dialplan uses; do not try to load the modules that were not built.
MODS=$CONF/autoload_configs/modules.conf.xml
backup_once "$MODS"
fs_skip_modules "$MODS" mod_signalwire mod_verto mod_av mod_spandsp mod_lua
fs_load_modules "$MODS" mod_commands mod_db mod_hash mod_callcenter mod_conference mod_voicemail \
  mod_loopback mod_event_socket mod_json_cdr

# The folder the control daemon writes the generated files into (group freeswitch, setgid, so the
# files it creates stay readable by FreeSWITCH), with empty stand-ins until the first apply.
CPBX_DIR=$CONF/clusterpbx
install -d -m 2770 -o freeswitch -g freeswitch "$CPBX_DIR"
for f in directory dialplan conference_profiles conference_controls callcenter_queues callcenter_agents \
  callcenter_tiers; do
  if [ ! -e "$CPBX_DIR/${f}_clusterpbx.xml" ]; then
    echo '<include/>' >"$CPBX_DIR/${f}_clusterpbx.xml"
    chown freeswitch:freeswitch "$CPBX_DIR/${f}_clusterpbx.xml"
    chmod 0640 "$CPBX_DIR/${f}_clusterpbx.xml"
  fi
done
# The stock freeswitch.xml includes directory/*.xml and dialplan/*.xml: one stub each points at our files.
for section in directory dialplan; do
  printf '<include>\n  <X-PRE-PROCESS cmd="include" data="%s/%s_clusterpbx.xml"/>\n</include>\n' \
    "$CPBX_DIR" "$section" >"$CONF/$section/clusterpbx.xml"
done
CC=$CONF/autoload_configs/callcenter.conf.xml
CONFERENCE=$CONF/autoload_configs/conference.conf.xml
backup_once "$CONFERENCE"
fs_include_after "$CONFERENCE" profiles "$CPBX_DIR/conference_profiles_clusterpbx.xml"
fs_include_after "$CONFERENCE" caller-controls "$CPBX_DIR/conference_controls_clusterpbx.xml"
backup_once "$CC"
fs_include_after "$CC" queues "$CPBX_DIR/callcenter_queues_clusterpbx.xml"
fs_include_after "$CC" agents "$CPBX_DIR/callcenter_agents_clusterpbx.xml"
fs_include_after "$CC" tiers "$CPBX_DIR/callcenter_tiers_clusterpbx.xml"
# mod_json_cdr's error folder, which the control daemon (group freeswitch) reads and empties.
install -d -m 2770 -o freeswitch -g freeswitch "$PREFIX/log/json_cdr_failed"
chown -R freeswitch:freeswitch "$CONF"

say "7. Start FreeSWITCH"
systemctl enable freeswitch
systemctl restart freeswitch
for _ in $(seq 1 60); do
  "$PREFIX/bin/fs_cli" -p "$ESL_PASSWORD" -x status >/dev/null 2>&1 && break
  sleep 1
done
"$PREFIX/bin/fs_cli" -p "$ESL_PASSWORD" -x version
"$PREFIX/bin/fs_cli" -p "$ESL_PASSWORD" -x 'sofia status'
say "FreeSWITCH ready: SIP udp $LAB_PORTAL_IP:$SIP_PORT (profile internal), ESL 127.0.0.1:$ESL_PORT"
