#!/usr/bin/env bash
# The portal VM's ClusterPBX (Debian 12): PostgreSQL, the portal and the control daemon under systemd,
# the Asterisk VM's folders over NFS, the two lab nodes, tenants, accounts and queues, and the generated
# configuration applied to both PBXs. Runs after freeswitch.sh (same VM) and after the Asterisk VM is up.
#
# Run as root on the portal VM:
#   AMI_SECRET=... ESL_PASSWORD=... LAB_USER_PASSWORD=... bash vagrant/provision/portal.sh
# Safe to run again: existing nodes, tenants and users are kept (see 'once' below).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
need_env AMI_SECRET ESL_PASSWORD LAB_USER_PASSWORD

VENV=/opt/clusterpbx/venv
MNT=/mnt/lab-asterisk
CPBX=/usr/local/sbin/cpbx

say "1. Packages: Python 3.11, PostgreSQL, NFS client, SIPp (Debian's sip-tester), curl, jq"
apt_install python3.11 python3.11-venv python3-dev build-essential postgresql nfs-common sip-tester \
  curl jq ca-certificates

say "2. The clusterpbx user and its folders"
if ! id clusterpbx >/dev/null 2>&1; then
  adduser --system --group --home /var/lib/clusterpbx clusterpbx
fi
# Member of group freeswitch: writes FreeSWITCH's generated files, reads mod_json_cdr's error folder.
adduser clusterpbx freeswitch >/dev/null
install -d -m 0750 -o clusterpbx -g clusterpbx /var/lib/clusterpbx
install -d -m 0755 /etc/clusterpbx /opt/clusterpbx

say "3. PostgreSQL: role and database clusterpbx (peer authentication over the local socket)"
systemctl enable --now postgresql
if ! runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'clusterpbx'" | grep -qx 1; then
  runuser -u postgres -- createuser clusterpbx
fi
if ! runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'clusterpbx'" | grep -qx 1; then
  runuser -u postgres -- createdb -O clusterpbx clusterpbx
fi

SRC_DIR="$(cd "$LAB_DIR/.." && pwd)"
say "4. ClusterPBX from $SRC_DIR into $VENV"
[ -x "$VENV/bin/python" ] || python3.11 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "$SRC_DIR"
# Reinstall the package itself (same version number) so a changed source tree is picked up.
"$VENV/bin/pip" install -q --no-deps --force-reinstall "$SRC_DIR"
install -m 0644 "$LAB_DIR/config/portal/clusterpbx.toml" /etc/clusterpbx/clusterpbx.toml
install -m 0755 "$LAB_DIR/config/portal/cpbx" "$CPBX"
"$CPBX" db upgrade

say "5. The Asterisk VM's folders over NFS (docs/operators.md: paths as seen from the daemon)"
install -d "$MNT/etc/asterisk/clusterpbx" "$MNT/spool/asterisk/voicemail" "$MNT/log/asterisk/cdr-csv"
sed -i '/^# BEGIN clusterpbx-lab$/,/^# END clusterpbx-lab$/d' /etc/fstab
cat >>/etc/fstab <<FSTAB
# BEGIN clusterpbx-lab
$LAB_ASTERISK_IP:/etc/asterisk/clusterpbx $MNT/etc/asterisk/clusterpbx nfs rw,hard,_netdev 0 0
$LAB_ASTERISK_IP:/var/spool/asterisk/voicemail $MNT/spool/asterisk/voicemail nfs rw,hard,_netdev 0 0
$LAB_ASTERISK_IP:/var/log/asterisk/cdr-csv $MNT/log/asterisk/cdr-csv nfs ro,_netdev 0 0
# END clusterpbx-lab
FSTAB
systemctl daemon-reload
for d in etc/asterisk/clusterpbx spool/asterisk/voicemail log/asterisk/cdr-csv; do
  mountpoint -q "$MNT/$d" || mount "$MNT/$d"
done

say "6. The portal and the control daemon under systemd"
for unit in clusterpbx-web clusterpbx-control; do
  install -m 0644 "$LAB_DIR/config/portal/$unit.service" "/etc/systemd/system/$unit.service"
done
systemctl daemon-reload
systemctl enable clusterpbx-control clusterpbx-web

say "7. Nodes, tenants, accounts and queues"
CPBX="$CPBX" MNT="$MNT" bash "$LAB_DIR/provision/lab_accounts.sh"
(cd /var/lib/clusterpbx && runuser -u clusterpbx -- env CLUSTERPBX_CONFIG=/etc/clusterpbx/clusterpbx.toml \
  "$VENV/bin/python" "$LAB_DIR/provision/lab_data.py" queues)

say "8. Start (or restart, to pick up the nodes) the daemon and the portal"
systemctl restart clusterpbx-control clusterpbx-web
for _ in $(seq 1 30); do
  "$CPBX" control --status >/dev/null 2>&1 && break
  sleep 2
done
"$CPBX" control --status

say "9. Generate both PBXs' configuration and reload them through the daemon"
# The daemon may still be connecting to the PBXs: a few tries, then the error is shown.
for node in "$AST_NODE" "$FS_NODE"; do
  for try in 1 2 3 4 5 6; do
    "$CPBX" dialplan apply --node "$node" && break
    [ "$try" -lt 6 ] || die "clusterpbx dialplan apply --node $node failed (see above and 'cpbx control --status')"
    sleep 5
  done
done

say "10. The lab's SIP accounts (also in /etc/clusterpbx/lab-accounts.tsv, root only)"
(cd /var/lib/clusterpbx && runuser -u clusterpbx -- env CLUSTERPBX_CONFIG=/etc/clusterpbx/clusterpbx.toml \
  "$VENV/bin/python" "$LAB_DIR/provision/lab_data.py" accounts) >/etc/clusterpbx/lab-accounts.tsv.new
install -m 0600 /etc/clusterpbx/lab-accounts.tsv.new /etc/clusterpbx/lab-accounts.tsv
rm -f /etc/clusterpbx/lab-accounts.tsv.new
cat /etc/clusterpbx/lab-accounts.tsv
say "Portal: http://$LAB_PORTAL_IP:$PORTAL_PORT/ (accounts above, portal password in vagrant/.secrets.env)"
