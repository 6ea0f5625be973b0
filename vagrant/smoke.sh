#!/usr/bin/env bash
# ClusterPBX lab smoke test. On the portal VM, as root, after 'vagrant up':
#
#   vagrant ssh portal -c 'sudo /srv/clusterpbx-src/vagrant/smoke.sh'            # both PBXs
#   vagrant ssh portal -c 'sudo /srv/clusterpbx-src/vagrant/smoke.sh asterisk'   # or one of them
#
# For each PBX, with that PBX's two lab accounts A and B, SIPp (sipp/*.xml) plays the phones and the
# portal's REST API (one bearer token per account) is asked what happened:
#   1. B registers; A calls B, B answers: A's live calls show the call while it lasts;
#   2. after A hangs up, A's call records show A -> B;
#   3. B turns DND on through the API; A calls B again: B's phone must not ring (the PBX answers busy,
#      or sends the call to B's voicemail with the busy greeting); DND is turned off again;
#   4. A logs in to the lab queue through the API: the queue shows A logged in (the PBX's word, projected
#      by the daemon); A logs out again.
# Exits non-zero at the first failure, with a line saying what was expected.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lab.env
. "$HERE/lab.env"
SIPP_DIR="$HERE/sipp"
ACCOUNTS="${LAB_ACCOUNTS:-/etc/clusterpbx/lab-accounts.tsv}"
PORTAL="${LAB_PORTAL_URL:-http://127.0.0.1:$PORTAL_PORT}"
CPBX="${CPBX:-/usr/local/sbin/cpbx}"
LOCAL_IP="${LAB_SIPP_IP:-$LAB_PORTAL_IP}"
# B's phone registers from, and answers on, UAS_PORT (the PBXs rewrite the Contact to the source).
UAS_PORT=5071
UAC_PORT=5073
WORK="${WORK:-$(mktemp -d /tmp/clusterpbx-smoke.XXXXXX)}"
pbx="setup"
UAS_PID=""
CLEANUP=()

fail() {
  printf 'SMOKE FAILED [%s]: %s\n' "$pbx" "$*" >&2
  printf '  (SIPp logs and API answers are in %s)\n' "$WORK" >&2
  exit 1
}
ok() { printf 'ok   [%s] %s\n' "$pbx" "$*"; }

cleanup() {
  local step
  phone_down
  for step in "${CLEANUP[@]}"; do
    (eval "$step") >/dev/null 2>&1 || true
  done
}

# sip_password DOMAIN EXTENSION: the account's SIP password, from the provisioning's account list.
sip_password() {
  awk -F '\t' -v d="$1" -v e="$2" '$4 == d && $5 == e { print $7 }' "$ACCOUNTS"
}

# token EMAIL: a new API token for that portal user.
token() {
  local t
  t="$("$CPBX" api token create --user "$1" --name "smoke-$(date +%s)-$$" | tail -n 1 | tr -d '[:space:]')"
  [ -n "$t" ] || fail "clusterpbx api token create --user $1 printed no token"
  printf '%s' "$t"
}

# api TOKEN METHOD PATH [JSON]: call the portal's API; the answer (JSON) goes to stdout and to $WORK.
api() {
  local tok=$1 method=$2 path=$3 body=${4:-} out
  out="$WORK/api-$(date +%s%N).json"
  local args=(-sS -o "$out" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $tok"
    -H 'Accept: application/json')
  [ -z "$body" ] || args+=(-H 'Content-Type: application/json' --data "$body")
  local code
  code="$(curl "${args[@]}" "$PORTAL$path")" || fail "$method $path: the portal did not answer"
  case "$code" in
    2??) cat "$out" ;;
    *) fail "$method $path answered HTTP $code: $(head -c 300 "$out")" ;;
  esac
}

# The API's answers (docs/api.md): {"items": [...]} lists; a live call's "source"/"destination" are a
# number or a SIP URI, so numbers are matched as whole digit runs.
# shellcheck disable=SC2016  # jq code: $n, $a, $b are jq's variables, not the shell's
JQ_NUM='def num($n): tostring | test("(^|[^0-9])" + $n + "([^0-9]|$)");'

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND once a second until it succeeds.
wait_for() {
  local seconds=$1 what=$2 i
  shift 2
  for ((i = 0; i < seconds; i++)); do
    if "$@"; then
      return 0
    fi
    sleep 1
  done
  fail "after ${seconds}s: $what"
}

# live_call TOKEN A B: the token's user sees a live call from A to B.
live_call() {
  api "$1" GET /api/v1/me/live-calls | jq -e --arg a "$2" --arg b "$3" \
    "$JQ_NUM"' [.items[] | select((.source | num($a)) and (.destination | num($b)))] | length > 0' >/dev/null
}
# answered_record TOKEN A B: the token's user has a record of an answered call from A to B (UTC days
# around today, whatever the user's time zone).
answered_record() {
  local start end
  start="$(date -u -d yesterday +%F)"
  end="$(date -u -d tomorrow +%F)"
  api "$1" GET "/api/v1/me/call-records?start=$start&end=$end" | jq -e --arg a "$2" --arg b "$3" \
    '[.items[] | select(.caller_number == $a and .dialed_number == $b and .status == "answered")] | length > 0' \
    >/dev/null
}
# dnd_applied TOKEN true|false: the setting has that value and the daemon reports it applied on the PBX.
dnd_applied() {
  api "$1" GET /api/v1/me/call-settings |
    jq -e --argjson v "$2" '.dnd == $v and .sync_state == "applied"' >/dev/null
}
# queue_id TOKEN NAME: the id of the user's queue NAME (empty if the user is not its agent).
queue_id() {
  api "$1" GET /api/v1/me/queues | jq -r --arg q "$2" '[.items[] | select(.name == $q) | .id][0] // empty'
}
# queue_status_is TOKEN ID STATUS: connected, offline or paused, as the PBX reports it (projected).
queue_status_is() {
  api "$1" GET /api/v1/me/queues |
    jq -e --argjson id "$2" --arg s "$3" '[.items[] | select(.id == $id and .status == $s)] | length > 0' >/dev/null
}

# sipp_run NAME SCENARIO ARGS...: run SIPp once in the foreground, logs in $WORK/NAME.*.
sipp_run() {
  local name=$1 scenario=$2
  shift 2
  sipp -sf "$SIPP_DIR/$scenario" -m 1 -i "$LOCAL_IP" -nostdin -timeout 60s -timeout_error \
    -trace_logs -log_file "$WORK/$name.log" -trace_err -error_file "$WORK/$name.err" "$@" \
    >"$WORK/$name.out" 2>&1
}

# register SERVER DOMAIN EXT PASSWORD EXPIRES: B's "phone" registers from UAS_PORT, its Contact.
register() {
  sipp_run "register-$3-$5" register.xml -p "$UAS_PORT" -au "$3" -ap "$4" -set user "$3" \
    -set domain "$2" -set uas_port "$UAS_PORT" -set expires "$5" "$1:$SIP_PORT" ||
    fail "$3 could not register with $1 (expires $5): see $WORK/register-$3-$5.err"
}

# phone_up NAME SERVER DOMAIN EXT PASSWORD: B registers, then its UAS listens on the same port at once
# (Asterisk qualifies a new contact right away; its OPTIONS retransmissions must find someone). No -m:
# each OPTIONS is a "call" of its own; phone_down stops it.
phone_up() {
  register "$2" "$3" "$4" "$5" 300
  sipp -sf "$SIPP_DIR/uas_answer.xml" -i "$LOCAL_IP" -p "$UAS_PORT" -nostdin -timeout 120s \
    -trace_logs -log_file "$WORK/$1.log" -trace_err -error_file "$WORK/$1.err" >"$WORK/$1.out" 2>&1 &
  UAS_PID=$!
  sleep 1
  kill -0 "$UAS_PID" 2>/dev/null || fail "SIPp could not listen on $LOCAL_IP:$UAS_PORT: see $WORK/$1.out"
}

phone_down() {
  [ -z "$UAS_PID" ] || kill "$UAS_PID" 2>/dev/null || true
  wait "$UAS_PID" 2>/dev/null || true
  UAS_PID=""
}

# call NAME SERVER DOMAIN FROM PASSWORD TO HOLD_MS: A calls B (in the background; CALL_PID).
call() {
  sipp -sf "$SIPP_DIR/uac_call.xml" -m 1 -i "$LOCAL_IP" -p "$UAC_PORT" -nostdin -timeout 60s -timeout_error \
    -s "$6" -au "$4" -ap "$5" -set caller "$4" -set domain "$3" -d "$7" \
    -trace_logs -log_file "$WORK/$1.log" -trace_err -error_file "$WORK/$1.err" "$2:$SIP_PORT" \
    >"$WORK/$1.out" 2>&1 &
  CALL_PID=$!
}

smoke_pbx() {
  pbx=$1
  local server domain a b email_a email_b pw_a pw_b tok_a tok_b qid
  case "$pbx" in
    asterisk)
      server=$LAB_ASTERISK_IP domain=$AST_DOMAIN a=$AST_EXT_A b=$AST_EXT_B
      email_a=$AST_EMAIL_A email_b=$AST_EMAIL_B ;;
    freeswitch)
      server=$LAB_PORTAL_IP domain=$FS_DOMAIN a=$FS_EXT_A b=$FS_EXT_B
      email_a=$FS_EMAIL_A email_b=$FS_EMAIL_B ;;
    *) fail "unknown PBX '$pbx' (asterisk or freeswitch)" ;;
  esac
  pw_a="$(sip_password "$domain" "$a")"
  pw_b="$(sip_password "$domain" "$b")"
  if [ -z "$pw_a" ] || [ -z "$pw_b" ]; then
    fail "no SIP password for $a or $b@$domain in $ACCOUNTS"
  fi
  tok_a="$(token "$email_a")"
  tok_b="$(token "$email_b")"
  CLEANUP+=("api '$tok_b' PATCH /api/v1/me/call-settings '{\"dnd\": false}'")
  api "$tok_b" PATCH /api/v1/me/call-settings '{"dnd": false}' >/dev/null
  wait_for 15 "$b's DND off is not applied on the PBX (GET /api/v1/me/call-settings: sync_state)" \
    dnd_applied "$tok_b" false

  # 1. An answered call, seen live.
  CLEANUP+=("register '$server' '$domain' '$b' '$pw_b' 0")
  phone_up "answer-$b" "$server" "$domain" "$b" "$pw_b"
  ok "$b registered, its phone listens on $LOCAL_IP:$UAS_PORT"
  call "call-$a-$b" "$server" "$domain" "$a" "$pw_a" "$b" 10000
  wait_for 10 "A's live calls (GET /api/v1/me/live-calls) never showed the call $a -> $b" \
    live_call "$tok_a" "$a" "$b"
  ok "live call $a -> $b shown by the API"
  wait "$CALL_PID" || fail "the call $a -> $b failed: see $WORK/call-$a-$b.err"
  grep -q '^FINAL 200' "$WORK/call-$a-$b.log" || fail "the call $a -> $b was not answered"
  sleep 2
  phone_down
  grep -q '^ANSWERED' "$WORK/answer-$b.log" || fail "$b's phone did not answer the call"
  grep -q '^HUNG UP' "$WORK/answer-$b.log" || fail "$b's phone never got the BYE"
  ok "call $a -> $b answered by $b's phone and hung up"

  # 2. The call record.
  wait_for 30 "A's call records (GET /api/v1/me/call-records) never showed an answered call $a -> $b" \
    answered_record "$tok_a" "$a" "$b"
  ok "call record $a -> $b (answered) shown by the API"

  # 3. DND.
  api "$tok_b" PATCH /api/v1/me/call-settings '{"dnd": true}' >/dev/null
  wait_for 15 "GET /api/v1/me/call-settings never reported dnd true applied on the PBX" \
    dnd_applied "$tok_b" true
  phone_up "dnd-$b" "$server" "$domain" "$b" "$pw_b"  # registered and reachable: only DND keeps it quiet
  call "dnd-call-$a-$b" "$server" "$domain" "$a" "$pw_a" "$b" 2000
  wait "$CALL_PID" || fail "the call $a -> $b with DND on failed oddly: see $WORK/dnd-call-$a-$b.err"
  sleep 2
  phone_down
  if grep -q '^RUNG' "$WORK/dnd-$b.log" 2>/dev/null; then
    fail "$b's phone rang although $b turned DND on"
  fi
  ok "with DND on, $b's phone did not ring ($(grep -m1 '^FINAL' "$WORK/dnd-call-$a-$b.log"): $(
    grep -q '^FINAL 200' "$WORK/dnd-call-$a-$b.log" && echo voicemail || echo busy/refused))"
  api "$tok_b" PATCH /api/v1/me/call-settings '{"dnd": false}' >/dev/null
  wait_for 15 "GET /api/v1/me/call-settings never reported dnd false applied on the PBX" \
    dnd_applied "$tok_b" false
  ok "DND off again"

  # 4. Queue log in, as the PBX reports it.
  qid="$(queue_id "$tok_a" "$LAB_QUEUE_NAME")"
  [ -n "$qid" ] || fail "GET /api/v1/me/queues does not list the lab queue $LAB_QUEUE_NAME for $email_a"
  CLEANUP+=("api '$tok_a' POST /api/v1/me/queues/$qid/logout")
  api "$tok_a" POST "/api/v1/me/queues/$qid/login" >/dev/null
  wait_for 20 "queue $qid never showed $email_a connected (GET /api/v1/me/queues: status)" \
    queue_status_is "$tok_a" "$qid" connected
  ok "$a logged in to queue $qid (the PBX says connected)"
  api "$tok_a" POST "/api/v1/me/queues/$qid/logout" >/dev/null
  wait_for 20 "queue $qid never showed $email_a offline after logout" queue_status_is "$tok_a" "$qid" offline
  ok "$a logged out of queue $qid"

  register "$server" "$domain" "$b" "$pw_b" 0
  ok "$b unregistered"
}

main() {
  local tool target targets=("$@")
  for tool in sipp curl jq "$CPBX"; do
    command -v "$tool" >/dev/null || fail "$tool is missing (this runs on the portal VM, provisioned by portal.sh)"
  done
  [ -r "$ACCOUNTS" ] || fail "cannot read $ACCOUNTS (written by portal.sh; run as root)"
  [ ${#targets[@]} -gt 0 ] || targets=(asterisk freeswitch)
  for target in "${targets[@]}"; do
    smoke_pbx "$target"
  done
  pbx="all"
  ok "smoke test passed for: ${targets[*]}"
  rm -rf "$WORK"
}

# Sourced (tests/vagrant does, to try the API checks against a real portal): functions only.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  trap cleanup EXIT
  main "$@"
fi
