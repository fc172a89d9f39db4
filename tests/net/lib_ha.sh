# Two gateways sharing the clients' address with keepalived (VRRP), sourced after
# lib.sh, lib_pg.sh and lib_gw.sh (gateways 1 and 2 already added).
#
#          c9 (10.0.9.2, .3 ...; default via the VIP 10.0.9.1)
#           |
#   lan:  [brc]----------------+          two bridges in host "lan"
#           |                  |
#   gw1 lanc 10.0.9.11   gw2 lanc 10.0.9.12     VIP 10.0.9.1 on the master's lanc
#   gw1 lans 10.9.9.11   gw2 lans 10.9.9.12     VIP 10.9.9.1 on the master's lans
#           |                  |
#   lan:  [brs]----------------+
#           |
#          srv (10.9.9.2; 10.0.9.0/24 via the VIP 10.9.9.1)
#
# Both addresses move together (one vrrp_sync_group), so the answer of a
# service goes back through the gateway its request came through.
#
#   ha_lan                     the bridges, the gateways' ports, client host c9
#   ha_start N PRIO            keepalived in gwN (dist/keepalived/sekisho-check.sh --local as
#                              its check, --store as a weight of -60), as dist/keepalived
#   ha_stop N [SIGNAL]         stop it (TERM: it gives the addresses up at once)
#   ha_master N                0 when gwN holds both virtual addresses
#   ha_link N up|down          gwN's two LAN ports

HA_VIP=10.0.9.1
HA_SVIP=10.9.9.1

ha_port() {   # host ifname cidr bridge
	ip link add "$2" netns "$NET_PREFIX-$1" type veth peer name "$4-$1" netns "$NET_PREFIX-lan" || return 1
	in_ns lan ip link set "$4-$1" master "$4" up
	in_ns "$1" ip addr add "$3" dev "$2"
	in_ns "$1" ip link set "$2" up
}

ha_lan() {
	host_add lan && host_add c9 || return 1
	for b in brc brs; do
		in_ns lan ip link add "$b" type bridge || return 1
		in_ns lan ip link set "$b" up
	done
	for n in 1 2; do
		ha_port "gw$n" lanc "10.0.9.1$n/24" brc && ha_port "gw$n" lans "10.9.9.1$n/24" brs || return 1
	done
	ha_port c9 lanc 10.0.9.2/24 brc && ha_port srv lans 10.9.9.2/24 brs || return 1
	in_ns c9 ip addr add 10.0.9.3/24 dev lanc
	route_add c9 default "$HA_VIP"
	route_add srv 10.0.9.0/24 "$HA_SVIP"
}

ha_conf() {   # n prio
	peer=$((3 - $1))
	cat <<EOF
global_defs {
	router_id gw$1
	vrrp_version 3
	script_user root
	vrrp_garp_master_delay 1
	vrrp_garp_master_repeat 3
}
vrrp_script sekisho_local {
	script "$SEKISHO_TOP/dist/keepalived/sekisho-check.sh --local"
	interval 1
	timeout 4
	fall 2
	rise 2
}
vrrp_script sekisho_store {
	script "$SEKISHO_TOP/dist/keepalived/sekisho-check.sh --store"
	interval 1
	timeout 4
	fall 2
	rise 2
}
vrrp_sync_group sekisho {
	group {
		clients
		services
	}
	track_script {
		sekisho_local
	}
	sync_group_tracking_weight
}
vrrp_instance clients {
	state BACKUP
	interface lanc
	virtual_router_id 51
	priority $2
	advert_int 0.5
	unicast_src_ip 10.0.9.1$1
	unicast_peer {
		10.0.9.1$peer
	}
	virtual_ipaddress {
		$HA_VIP/24 dev lanc
	}
	track_script {
		sekisho_store weight -60
	}
}
vrrp_instance services {
	state BACKUP
	interface lans
	virtual_router_id 52
	priority $2
	advert_int 0.5
	unicast_src_ip 10.9.9.1$1
	unicast_peer {
		10.9.9.1$peer
	}
	virtual_ipaddress {
		$HA_SVIP/24 dev lans
	}
	track_script {
		sekisho_store weight -60
	}
}
EOF
}

ha_start() {   # n prio
	ha_conf "$1" "$2" >"$T/keepalived.$1.conf"
	bg_start "ka.$1" "gw$1" /usr/sbin/keepalived -n -l -D -f "$T/keepalived.$1.conf" \
		-p "$T/ka.$1.main.pid" -r "$T/ka.$1.vrrp.pid" -c "$T/ka.$1.check.pid"
}

ha_stop() { bg_stop "ka.$1" "${2:-TERM}"; }

ha_master() {   # n
	in_ns "gw$1" ip -4 addr show dev lanc | grep -q "inet $HA_VIP/" &&
	in_ns "gw$1" ip -4 addr show dev lans | grep -q "inet $HA_SVIP/"
}

ha_link() {   # n up|down
	in_ns "gw$1" ip link set lanc "$2" && in_ns "gw$1" ip link set lans "$2"
}
