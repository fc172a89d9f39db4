#!/bin/sh
# cid behind a real nginx with the shipped dist/nginx/service-site.conf,
# sekisho-door.conf and sekisho-app.conf, put together as docs/deploy.md
# says: the layout of tests/net/lib_proxy.sh, nginx on 127.0.0.1:8080.
# (tests/net/test_cid.sh covers cid's answers behind nginx in depth.)
. "${SEKISHO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/net/lib.sh"
net_init
. "$NET_HELPERS/lib_proxy.sh"
command -v nginx >/dev/null || { not_ok "nginx installed"; tap_done; exit 1; }

px_setup

mkdir -p "$T/nginx"
{
	cat <<EOC
daemon off;
pid $T/nginx.pid;
error_log $T/nginx-error.log warn;
events { worker_connections 256; }
http {
	include $SEKISHO_TOP/dist/nginx/sekisho-log.conf;
	client_body_temp_path $T/nginx/body;
	proxy_temp_path $T/nginx/proxy;
	fastcgi_temp_path $T/nginx/fastcgi;
	uwsgi_temp_path $T/nginx/uwsgi;
	scgi_temp_path $T/nginx/scgi;
EOC
	sed -e "s|/etc/nginx/snippets/|$SEKISHO_TOP/dist/nginx/|" -e "s|https://portal\.example\.org|$PORTAL|" \
	    -e 's|192\.0\.2\.10:80|127.0.0.1:8080|' -e 's|192\.0\.2\.1:|127.0.0.1:|' \
	    -e "s|/var/log/nginx/lab.access.log|$T/nginx-access.log|" \
	    "$SEKISHO_TOP/dist/nginx/service-site.conf"
	echo "}"
} >"$T/nginx.conf"
check "the shipped nginx site is valid" nginx -t -q -c "$T/nginx.conf" -p "$T/nginx"
bg_start nginx gw nginx -c "$T/nginx.conf" -p "$T/nginx"
nginx_up() { [ "$(px_status 127.0.0.1 "$LAB/")" = 302 ]; }
check "nginx answers" wait_for 10 nginx_up

px_door_cases nginx

tap_done
