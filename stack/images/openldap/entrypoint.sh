#!/bin/bash
# bitnami/openldap's start-up for Debian's slapd. What differs from upstream:
# - the configuration is a slapd.conf written from the environment at every start (upstream
#   keeps cn=config under /bitnami/openldap/slapd.d): changes made over LDAP to cn=config do
#   not persist, and there is no cn=config database to bind to;
# - the LDIFs are loaded offline with slapadd before the server starts (upstream: ldapadd
#   against a temporary server); the result is the same entries;
# - access is stricter than upstream's defaults: anonymous clients may read the root DSE and
#   the schema and authenticate, nothing else; userPassword is never readable; bound users read;
# - no TLS, replication, ppolicy or LDAP_USERS/LDAP_GROUP shortcuts (the catalog uses none).
set -euo pipefail

ROOT="${LDAP_ROOT:-dc=example,dc=org}"
ADMIN_DN="cn=${LDAP_ADMIN_USERNAME:-admin},${ROOT}"
PORT="${LDAP_PORT_NUMBER:-1389}"
BASE=/bitnami/openldap
DATA="$BASE/data"
CONF=/opt/openldap/slapd.conf

if [ -z "${LDAP_ADMIN_PASSWORD:-}" ]; then
  echo 'openldap: LDAP_ADMIN_PASSWORD is not set' >&2
  exit 1
fi
mkdir -p "$DATA"

{
  for schema in core cosine inetorgperson nis; do echo "include /etc/ldap/schema/${schema}.schema"; done
  echo 'pidfile /opt/openldap/slapd.pid'
  echo 'modulepath /usr/lib/ldap'
  echo 'moduleload back_mdb'
  echo 'database mdb'
  echo "suffix \"${ROOT}\""
  echo "rootdn \"${ADMIN_DN}\""
  echo "rootpw $(slappasswd -s "$LDAP_ADMIN_PASSWORD")"
  echo "directory ${DATA}"
  echo 'maxsize 1073741824'
  echo 'access to dn.base="" by * read'
  echo 'access to dn.base="cn=Subschema" by * read'
  echo 'access to attrs=userPassword by anonymous auth by self write by * none'
  echo 'access to * by users read by * none'
} > "$CONF"
chmod 600 "$CONF"

if [ ! -e "$DATA/data.mdb" ]; then
  shopt -s nullglob
  custom=()
  if [ -n "${LDAP_CUSTOM_LDIF_DIR:-}" ] && [ -d "$LDAP_CUSTOM_LDIF_DIR" ]; then
    custom=("$LDAP_CUSTOM_LDIF_DIR"/*.ldif)
  fi
  if [ "${#custom[@]}" -eq 0 ] && [ "${LDAP_SKIP_DEFAULT_TREE:-no}" != 'yes' ]; then
    dc="${ROOT#dc=}"; dc="${dc%%,*}"
    default=/opt/openldap/default-tree.ldif
    printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: %s\no: %s\n\ndn: ou=users,%s\nobjectClass: organizationalUnit\nou: users\n\ndn: ou=groups,%s\nobjectClass: organizationalUnit\nou: groups\n' \
      "$ROOT" "$dc" "$dc" "$ROOT" "$ROOT" > "$default"
    custom=("$default")
  fi
  for ldif in "${custom[@]}"; do
    echo "openldap: loading $ldif"
    slapadd -q -f "$CONF" -l "$ldif"
  done
  echo "openldap: initialised ${ROOT}"
fi

echo "openldap: serving ${ROOT} on port ${PORT}"
exec slapd -f "$CONF" -h "ldap://:${PORT}/" -d "${LDAP_LOGLEVEL:-256}"
