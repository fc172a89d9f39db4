# nginx terminating TLS on a test gateway with the shipped
# dist/nginx/sekisho-tls.conf (ticket keys from $T/GW/nginx, the sekisho_tls
# access log at $T/GW/logs/access.log). Sourced after tests/net/lib.sh;
# $T/cert.pem and $T/key.pem must exist.

tls_nginx_conf() {   # gw ip
	mkdir -p "$T/$1/nginx" "$T/$1/logs"
	sed -e "s|/run/sekisho-tls/nginx|$T/$1/nginx|" -e "s|/var/log/nginx/sekisho-tls.log|$T/$1/logs/access.log|" \
		"$SEKISHO_TOP/dist/nginx/sekisho-tls.conf" >"$T/$1/sekisho-tls.conf"
	cat >"$T/$1/nginx.conf" <<EOF
daemon on;
user root;
worker_processes 1;
pid $T/$1/nginx.pid;
error_log $T/$1/logs/error.log;
events { worker_connections 1024; }
http {
	include $T/$1/sekisho-tls.conf;
	server {
		listen $2:443 ssl;
		ssl_certificate $T/cert.pem;
		ssl_certificate_key $T/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_session_cache off;
		location / { return 200 "ok\n"; }
	}
}
EOF
}

tls_nginx_start() {   # gw
	in_ns "$1" nginx -p "$T/$1" -c "$T/$1/nginx.conf" -e "$T/$1/logs/error.log"
}

tls_nginx_stop() {   # gw
	in_ns "$1" nginx -p "$T/$1" -c "$T/$1/nginx.conf" -s stop 2>/dev/null
}
