#!/usr/bin/env bash
# In-place edits of the PBXs' own configuration files, one function per edit, each safe to repeat
# (sourced by asterisk.sh and freeswitch.sh; tests/vagrant runs them on sample files).

# ast_persistent_members QUEUES_CONF: 'persistentmembers = yes' in [general].
ast_persistent_members() {
  sed -i -E 's/^[[:space:]]*persistentmembers[[:space:]]*=.*/persistentmembers = yes/' "$1"
  if ! grep -qx 'persistentmembers = yes' "$1"; then
    sed -i 's/^\[general\]$/[general]\npersistentmembers = yes/' "$1"
  fi
}

# fs_vars VARS_XML IP: SIP and RTP on IP (local_ip_v4 set first thing, external IPs without STUN), and
# a random default password instead of the stock 1234 (which the stock directory users share).
fs_vars() {
  local file=$1 ip=$2 password
  sed -i -E '/^  <X-PRE-PROCESS cmd="set" data="local_ip_v4=[0-9.]*"\/>$/d' "$file"
  sed -i "0,/<include>/s||<include>\n  <X-PRE-PROCESS cmd=\"set\" data=\"local_ip_v4=$ip\"/>|" "$file"
  sed -i -E "s#<X-PRE-PROCESS cmd=\"(stun-)?set\" data=\"external_(rtp|sip)_ip=[^\"]*\"/>#<X-PRE-PROCESS cmd=\"set\" data=\"external_\\2_ip=$ip\"/>#" "$file"
  if grep -q 'data="default_password=1234"' "$file"; then
    password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    sed -i "s|data=\"default_password=1234\"|data=\"default_password=$password\"|" "$file"
  fi
}

# fs_load_modules MODULES_CONF_XML MODULE...: load these modules (uncommented <load> lines).
fs_load_modules() {
  local file=$1 m
  shift
  for m in "$@"; do
    if ! grep -qE "^[[:space:]]*<load module=\"$m\"/>" "$file"; then
      sed -i "s|</modules>|  <load module=\"$m\"/>\n  </modules>|" "$file"
    fi
  done
}

# fs_skip_modules MODULES_CONF_XML MODULE...: comment out the <load> lines of modules not built.
fs_skip_modules() {
  local file=$1 m
  shift
  for m in "$@"; do
    sed -i -E "s#^([[:space:]]*)(<load module=\"$m\"/>)#\\1<!-- \\2 -->#" "$file"
  done
}

# fs_include_after FILE TAG PATH: right after the first line holding only <TAG>, include PATH.
fs_include_after() {
  local file=$1 tag=$2 path=$3
  grep -qF "data=\"$path\"" "$file" && return 0
  if ! grep -qE "^[[:space:]]*<$tag>[[:space:]]*$" "$file"; then
    printf 'ERROR: %s has no <%s> line to include %s after\n' "$file" "$tag" "$path" >&2
    return 1
  fi
  sed -i -E "0,/^[[:space:]]*<$tag>[[:space:]]*\$/s||  <$tag>\n    <X-PRE-PROCESS cmd=\"include\" data=\"$path\"/>|" "$file"
}

# fs_multi_domain_profile INTERNAL_XML: drop the stock internal profile's force-register-domain,
# force-subscription-domain and force-register-db-domain (all $${domain}). With them FreeSWITCH looks
# every REGISTER up in the default domain and answers 403 to a phone of a tenant's own domain
# (ClusterPBX gives each tenant its directory domain); without them the domain of the REGISTER is used.
fs_multi_domain_profile() {
  sed -i -E '/^[[:space:]]*<param name="force-(register|subscription|register-db)-domain"/d' "$1"
}
