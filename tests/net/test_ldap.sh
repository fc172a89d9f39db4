#!/bin/sh
# Directory logins end to end (docs/identity.md): a real slapd started here in
# a temp directory (its own config, a small directory of users and groups,
# TLS with a test CA made here; never the system's instance), a real authd
# over a temporary SQLite store (ipfd off) whose [identity] points at it, curl
# as the browser. Covers: wrong password, unknown user, StartTLS and ldaps,
# a directory group granting a restricted service, a user removed from the
# directory, and the server stopped (fail closed; local accounts still work).
#
#   c1 (10.0.1.2) --- gw (authd 10.0.1.1:8080; slapd on gw's 127.0.0.1)
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"

B=$SEKISHO_BUILD
net_init
command -v slapd >/dev/null || { echo "1..0 # SKIP slapd missing (make deps)"; exit 0; }
SLAPD=$(command -v slapd)
PORTAL=http://10.0.1.1:8080
L=$T/ldap
mkdir -p "$L/db"

# ---- a test CA and the server's certificate (for 127.0.0.1) ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$L/ca.key" -out "$L/ca.pem" -days 2 \
	-subj /CN=sekisho-test-ca >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$L/server.key" -out "$L/server.csr" \
	-subj /CN=127.0.0.1 >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' >"$L/ext"
openssl x509 -req -in "$L/server.csr" -CA "$L/ca.pem" -CAkey "$L/ca.key" -CAcreateserial \
	-out "$L/server.pem" -days 2 -extfile "$L/ext" >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$L/other.key" -out "$L/other-ca.pem" \
	-days 2 -subj /CN=some-other-ca >/dev/null 2>&1

cat >"$L/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $L/slapd.pid
TLSCACertificateFile $L/ca.pem
TLSCertificateFile $L/server.pem
TLSCertificateKeyFile $L/server.key
database mdb
suffix "dc=test"
rootdn "cn=admin,dc=test"
rootpw admin-secret
directory $L/db
CONF
person() {   # uid password
	printf 'dn: uid=%s,ou=people,dc=test\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n\n' \
		"$1" "$1" "$1" "$1" "$2"
}
{
	printf 'dn: dc=test\nobjectClass: dcObject\nobjectClass: organization\no: test\ndc: test\n\n'
	printf 'dn: ou=people,dc=test\nobjectClass: organizationalUnit\nou: people\n\n'
	printf 'dn: ou=groups,dc=test\nobjectClass: organizationalUnit\nou: groups\n\n'
	person ann ann-pass; person ben ben-pass; person cat cat-pass
	printf 'dn: cn=physics,ou=groups,dc=test\nobjectClass: groupOfNames\ncn: physics\n'
	printf 'member: uid=ann,ou=people,dc=test\nmember: uid=cat,ou=people,dc=test\n\n'
} >"$L/data.ldif"
slapadd -f "$L/slapd.conf" -l "$L/data.ldif" >/dev/null 2>&1 || { echo "1..0 # SKIP slapadd failed"; exit 0; }

host_add c1; host_add gw
link_add c1 10.0.1.2/24 gw 10.0.1.1/24
slapd_start() {   # in gw: ldaps on 6360, plain (StartTLS) on 3890
	in_ns gw "$SLAPD" -f "$L/slapd.conf" -h "ldaps://127.0.0.1:6360/ ldap://127.0.0.1:3890/"
	wait_for 10 test -s "$L/slapd.pid"
	wait_tcp gw 127.0.0.1 6360
}
slapd_stop() {
	[ -s "$L/slapd.pid" ] || return 0
	p=$(cat "$L/slapd.pid"); kill "$p"
	wait_for 10 sh -c "! kill -0 $p 2>/dev/null"
	rm -f "$L/slapd.pid"
}
trap 'slapd_stop; net_cleanup' EXIT
slapd_start

CONF=$T/sekisho.conf
write_conf() {   # URL CAFILE
	cat >"$CONF" <<CONF
[db]
path = $T/db.sqlite
[authd]
listen = 10.0.1.1:8080
base_url = $PORTAL
web_dir = $SEKISHO_TOP/web
throttle_ip_burst = 50
throttle_user_burst = 20
[identity]
ldap_url = $1
ldap_ca_file = $2
ldap_user_base = ou=people,dc=test
ldap_group_base = ou=groups,dc=test
[ipfd]
socket = $T/ipfd.sock
enabled = off
CONF
}
write_conf ldap://127.0.0.1:3890 "$L/ca.pem"

ctl() { "$B/sekishoctl" -f "$CONF" "$@"; }
browser() { in_ns c1 curl -s --max-time 30 -b "$T/jar" -c "$T/jar" "$@"; }
login() {   # USER PASSWORD [SERVICE]: the form, then POST /login; prints the status code
	browser -o "$T/form" "$PORTAL/"
	csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/form" | head -n 1)
	browser -o "$T/body" -w '%{http_code}' --data-urlencode "user=$1" \
		--data-urlencode "password=$2" --data-urlencode "service=${3:-lab}" \
		--data-urlencode "csrf=$csrf" "$PORTAL/login"
}
expect() {   # name want got
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want $2, got $3"; fi
}
user_field() {   # USER FIELD: a field of the user in "user list --json"
	ctl user list --json | "$PY" -c 'import json, sys
u = [x for x in json.load(sys.stdin)["users"] if x["name"] == sys.argv[1]]
print(u[0][sys.argv[2]] if u else "absent")' "$1" "$2"
}
ldap_admin() {   # ldapdelete|ldapmodify ARGS...: as the directory's admin over StartTLS
	cmd=$1; shift
	in_ns gw env LDAPTLS_CACERT="$L/ca.pem" "$cmd" -x -ZZ -H ldap://127.0.0.1:3890 \
		-D cn=admin,dc=test -w admin-secret "$@" >/dev/null 2>&1
}

printf 'root-password\n' >"$T/rootpw"
ctl init --root-password-file "$T/rootpw" >/dev/null
printf 'local-password\n' >"$T/pw"
ctl user add loc --role user --password-file "$T/pw" >/dev/null
ctl service add lab --url http://10.0.9.2/ --max-usage 60 --max-interval 30 --cap 50 \
	--admin root >/dev/null
ctl service add physlab --url http://10.0.9.3/ --max-usage 60 --max-interval 30 --cap 50 \
	--admin root >/dev/null
ctl group add physics >/dev/null
ctl service restrict physlab >/dev/null
ctl service allow physlab --group physics >/dev/null
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null http://127.0.0.1:9080/healthz

# ---- logins over StartTLS ----
expect "a name the directory does not know is refused" 401 "$(login nobody$$ whatever)"
expect "a wrong password is refused" 401 "$(login ann wrong-pass)"
expect "an empty password is refused (no anonymous bind)" 401 "$(login ann '')"
expect "no account is made for refused logins" absent "$(user_field ann source)"
expect "the directory's password admits ann (StartTLS)" 303 "$(login ann ann-pass)"
expect "... through an ldap account made at the first login" ldap "$(user_field ann source)"
expect "... with role user" user "$(user_field ann role)"
expect "a local account still logs in" 303 "$(login loc local-password)"

# ---- a directory group grants a restricted service ----
expect "ann, in the directory's physics group, is admitted to physlab" 303 \
	"$(login ann ann-pass physlab)"
check "... and is in sekisho's group physics" sh -c "'$B/sekishoctl' -f '$CONF' group show physics | grep -qx ann"
expect "ben, in no directory group, is refused physlab with 403" 403 "$(login ben ben-pass physlab)"
check "ben is in no sekisho group" sh -c "! '$B/sekishoctl' -f '$CONF' group show physics | grep -qx ben"
ldap_admin ldapmodify <<LDIF
dn: cn=physics,ou=groups,dc=test
changetype: modify
delete: member
member: uid=ann,ou=people,dc=test
LDIF
expect "out of the directory group, ann's next login is refused physlab" 403 \
	"$(login ann ann-pass physlab)"

# ---- ldaps, and a certificate from another CA ----
bg_stop authd
write_conf ldaps://127.0.0.1:6360 "$L/ca.pem"
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null http://127.0.0.1:9080/healthz
expect "cat logs in over ldaps" 303 "$(login cat cat-pass physlab)"
bg_stop authd
write_conf ldaps://127.0.0.1:6360 "$L/other-ca.pem"
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null http://127.0.0.1:9080/healthz
expect "a server certificate the CA file does not vouch for fails closed (503)" 503 \
	"$(login cat cat-pass)"
bg_stop authd
write_conf ldap://127.0.0.1:3890 "$L/ca.pem"
bg_start authd gw "$B/authd" -d -f "$CONF"
wait_for 10 in_ns gw curl -sf -o /dev/null http://127.0.0.1:9080/healthz

# ---- a user removed from the directory ----
ldap_admin ldapdelete "uid=ann,ou=people,dc=test"
expect "a user removed from the directory is refused" 401 "$(login ann ann-pass)"
expect "... and its sekisho account is disabled" True "$(user_field ann disabled)"
check "... which is audited" sh -c "'$B/sekishoctl' -f '$CONF' audit --user ann | grep -q 'user.disable'"

# ---- the server stopped ----
slapd_stop
expect "with the directory down its users get 503" 503 "$(login cat cat-pass)"
check "... saying the directory is not answering" grep -q 'directory is not answering' "$T/body"
expect "... while a local account still logs in" 303 "$(login loc local-password)"

tap_done
