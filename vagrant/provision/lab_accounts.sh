#!/usr/bin/env bash
# The lab's ClusterPBX objects, with the clusterpbx command only: the two nodes, one tenant per node,
# two users (each with an extension, so a SIP account) per tenant. Called by portal.sh; the test suite
# runs it too, against a throw-away SQLite database (tests/vagrant).
#
#   CPBX=/usr/local/sbin/cpbx MNT=/mnt/lab-asterisk AMI_SECRET=... ESL_PASSWORD=... LAB_USER_PASSWORD=... \
#     bash vagrant/provision/lab_accounts.sh
# Safe to run again: what exists already is kept (nothing is updated: destroy the VMs to start over).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
need_env CPBX MNT AMI_SECRET ESL_PASSWORD LAB_USER_PASSWORD
FS_CONF_DIR=${FS_CONF_DIR:-/usr/local/freeswitch/conf/clusterpbx}
FS_JSON_CDR_DIR=${FS_JSON_CDR_DIR:-/usr/local/freeswitch/log/json_cdr_failed}

# once COMMAND...: run a creating command; "already exists/taken" counts as done, any other error stops.
once() {
  local out
  if out=$("$@" 2>&1); then
    printf '%s\n' "$out"
  elif grep -qiE 'already (exists|taken)' <<<"$out"; then
    printf '(kept) %s\n' "$(grep -iE 'already (exists|taken)' <<<"$out" | tail -n 1)"
  else
    printf '%s\n' "$out" >&2
    return 1
  fi
}

once "$CPBX" node add "$AST_NODE" --kind asterisk --host "$LAB_ASTERISK_IP" --port "$AMI_PORT" \
  --username clusterpbx --secret-stdin --spool "$MNT/spool/asterisk" \
  --config-dir "$MNT/etc/asterisk/clusterpbx" \
  --option "cdr_csv=$MNT/log/asterisk/cdr-csv/Master.csv" <<<"$AMI_SECRET"
once "$CPBX" node add "$FS_NODE" --kind freeswitch --host 127.0.0.1 --port "$ESL_PORT" --secret-stdin \
  --sip-domain "$FS_DOMAIN" --config-dir "$FS_CONF_DIR" \
  --option "json_cdr_error_dir=$FS_JSON_CDR_DIR" <<<"$ESL_PASSWORD"
once "$CPBX" domain create "$AST_TENANT" --domain "$AST_DOMAIN" --node "$AST_NODE"
once "$CPBX" domain create "$FS_TENANT" --domain "$FS_DOMAIN" --node "$FS_NODE"
# domain extension e-mail first-name last-name language
while read -r domain ext email first last language; do
  once "$CPBX" user create --domain "$domain" --email "$email" --extension "$ext" --first-name "$first" \
    --last-name "$last" --language "$language" --password-stdin <<<"$LAB_USER_PASSWORD"
done <<USERS
$AST_DOMAIN $AST_EXT_A $AST_EMAIL_A Alice Asterisk fr
$AST_DOMAIN $AST_EXT_B $AST_EMAIL_B Bob Asterisk en
$FS_DOMAIN $FS_EXT_A $FS_EMAIL_A Carol FreeSWITCH fr
$FS_DOMAIN $FS_EXT_B $FS_EMAIL_B Dave FreeSWITCH en
USERS
