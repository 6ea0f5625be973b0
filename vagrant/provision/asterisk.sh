#!/usr/bin/env bash
# The Asterisk VM: Ubuntu 24.04 with Asterisk 20 LTS from Ubuntu's own packages (universe), configured
# the way docs/operators.md tells an operator to, plus NFS exports so the control daemon on the portal VM
# can write the generated files and read the voicemail spool and Master.csv.
#
# Run as root on the Asterisk VM:  AMI_SECRET=... bash vagrant/provision/asterisk.sh
# Safe to run again: every step checks before it changes anything.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR source=edit.sh
. "$LAB_DIR/provision/edit.sh"
need_env AMI_SECRET

say "1. Packages: Asterisk 20 (Ubuntu universe), English and French prompts, NFS server"
apt_install asterisk asterisk-modules asterisk-voicemail asterisk-core-sounds-en-gsm \
  asterisk-moh-opsound-gsm nfs-kernel-server
# French prompts for the French-speaking demo users, where the release packages them.
if apt-cache show asterisk-core-sounds-fr-gsm >/dev/null 2>&1; then
  apt_install asterisk-core-sounds-fr-gsm
fi
asterisk -V

ETC=/etc/asterisk
CPBX_DIR=$ETC/clusterpbx
AST_UID=$(id -u asterisk)
AST_GID=$(id -g asterisk)
export LAB_ASTERISK_IP LAB_PORTAL_IP AMI_PORT SIP_PORT AMI_SECRET

say "2. The folder ClusterPBX writes its five files into: $CPBX_DIR"
install -d -m 0770 -o asterisk -g asterisk "$CPBX_DIR"
for f in pjsip extensions queues confbridge voicemail; do
  # Empty stand-ins until the portal VM runs 'clusterpbx dialplan apply', so that every #include
  # below names a file that exists from the first start on.
  if [ ! -e "$CPBX_DIR/${f}_clusterpbx.conf" ]; then
    printf '; placeholder: replaced by clusterpbx dialplan apply\n' >"$CPBX_DIR/${f}_clusterpbx.conf"
    chown asterisk:asterisk "$CPBX_DIR/${f}_clusterpbx.conf"
    chmod 0640 "$CPBX_DIR/${f}_clusterpbx.conf"
  fi
done

say "3. Asterisk configuration (originals kept as *.dist)"
# Files the lab owns whole: the AMI user, the SIP transport, call records.
for f in manager.conf pjsip.conf cdr.conf cdr_manager.conf; do
  backup_once "$ETC/$f"
  render "$LAB_DIR/config/asterisk/$f" >"$ETC/$f.new"
  install -m 0640 -o asterisk -g asterisk "$ETC/$f.new" "$ETC/$f"
  rm -f "$ETC/$f.new"
done
# Files that keep the distribution's content and get one #include at the very end (docs/operators.md).
for f in extensions queues confbridge voicemail; do
  backup_once "$ETC/$f.conf"
  append_once "$ETC/$f.conf" "#include clusterpbx/${f}_clusterpbx.conf"
done
# Queue members added by the daemon survive an Asterisk restart until the daemon re-asserts them.
ast_persistent_members "$ETC/queues.conf"
# chan_sip (still shipped with Asterisk 20) would take UDP 5060 from PJSIP.
backup_once "$ETC/modules.conf"
append_once "$ETC/modules.conf" "noload => chan_sip.so"

say "4. NFS exports for the portal VM ($LAB_PORTAL_IP) only"
install -d -m 0750 -o asterisk -g asterisk /var/spool/asterisk/voicemail /var/log/asterisk/cdr-csv
opts="sync,no_subtree_check,all_squash,anonuid=$AST_UID,anongid=$AST_GID"
install -d /etc/exports.d
cat >/etc/exports.d/clusterpbx-lab.exports <<EXPORTS
# ClusterPBX lab: the control daemon on $LAB_PORTAL_IP acts as the asterisk user here.
$CPBX_DIR $LAB_PORTAL_IP(rw,$opts)
/var/spool/asterisk/voicemail $LAB_PORTAL_IP(rw,$opts)
/var/log/asterisk/cdr-csv $LAB_PORTAL_IP(ro,$opts)
EXPORTS
systemctl enable --now nfs-kernel-server
exportfs -ra

say "5. Restart Asterisk and show what it loaded"
systemctl enable asterisk
systemctl restart asterisk
for _ in $(seq 1 30); do
  asterisk -rx 'core waitfullybooted' >/dev/null 2>&1 && break
  sleep 1
done
asterisk -rx 'core show version'
asterisk -rx 'pjsip show transports'
asterisk -rx 'manager show user clusterpbx' | sed 's/secret.*/secret: (hidden)/I'
say "Asterisk VM ready: SIP udp $LAB_ASTERISK_IP:$SIP_PORT, AMI $LAB_ASTERISK_IP:$AMI_PORT (portal VM only)"
