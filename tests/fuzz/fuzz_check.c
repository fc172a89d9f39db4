#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../authd/authd.h"
#include "../../cid/cid.h"
#include "fuzz.h"
#include "../lib/keys.h"

/*
 * cid's forward-auth check on what a proxy and a browser send: the service
 * header or Host (host_map), the cookie, X-Forwarded-For/-Proto/-Host, then
 * the decision against an in-memory cache (as tests/unit/test_check.c
 * builds it): service "lab" with alice's right from 10.0.0.2, cookies signed
 * by key 7, trusted proxies 127.0.0.1 and ::1, bind_ip on.
 *
 * The client it finds behind trusted proxies must be the one authd finds
 * (clientip_resolve) for the same X-Forwarded-For whenever the header is
 * within both daemons' bounds: with bind_ip, cid compares the two.
 *
 * Input: one flags byte, then the headers one per line in the order
 * X-Sekisho-Service, Host, cookie, X-Forwarded-For, X-Forwarded-Proto,
 * X-Forwarded-Host; an empty line is an absent header. Flags: 1 the peer is
 * a trusted proxy, 2 TLS, 4/8/16 the service/cookie/X-Forwarded-For header
 * came twice, 32 the peer is IPv6.
 */

#define NOW   1700000000
#define LAB   1
#define OTHER 2
#define RIGHT 100

enum { H_SERVICE, H_HOST, H_COOKIE, H_XFF, H_XFP, H_XFH, H_N };

static struct cache cache;
static struct cid_conf cc;
static struct keyring ring;

static const uint8_t sid_alice[SID_BYTES] = { 0xa1, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                              0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };

static struct store_service
service(int64_t id, const char *name)
{
	struct store_service s;

	memset(&s, 0, sizeof s);
	s.id = id;
	snprintf(s.name, sizeof s.name, "%s", name);
	snprintf(s.url, sizeof s.url, "http://%s.example/", name);
	s.max_interval_min = 10;
	s.enabled = 1;
	return s;
}

static void
setup_conf(void)
{
	struct conf c;
	char err[256];

	conf_defaults(&c);
	snprintf(c.cid.trusted_proxies, sizeof c.cid.trusted_proxies, "127.0.0.1, ::1");
	snprintf(c.cid.host_map, sizeof c.cid.host_map, "lab.example=lab,other.example:8443=other");
	if (cid_conf_build(&c, &cc, err, sizeof err) == -1) {
		fprintf(stderr, "cid_conf_build: %s\n", err);
		exit(1);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cache_data d;
	struct store_service lab = service(LAB, "lab"), other = service(OTHER, "other");
	struct store_right r;

	(void)argc; (void)argv;
	ring.n = 2;
	ring.keys[0] = test_key(7, 0x77, NOW - 100, NOW + 86400);
	ring.keys[1] = test_key(5, 0x55, NOW - 86400, NOW + 3600);
	memset(&r, 0, sizeof r);
	r.id = RIGHT;
	sid_to_hex(sid_alice, r.sid);
	snprintf(r.user_name, sizeof r.user_name, "alice");
	r.service_id = LAB;
	addr_parse("10.0.0.2", &r.ip);
	r.expires_at = NOW + 3600;
	r.last_seen = NOW - 60;
	if (cache_init(&cache, INT64_MAX / 4) == -1 || data_init(&d) == -1 ||
	    data_put_service(&d, &lab) == -1 || data_put_service(&d, &other) == -1 ||
	    data_put_right(&d, &r) == -1)
		abort();
	cache_swap(&cache, &d, &ring, 1);
	setup_conf();
	return 0;
}

static void
set_peer(struct sockaddr_storage *ss, int flags)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (flags & 32) {
		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, flags & 1 ? "::1" : "2001:db8::2", &sin6->sin6_addr);
	} else {
		sin->sin_family = AF_INET;
		inet_pton(AF_INET, flags & 1 ? "127.0.0.1" : "10.0.0.2", &sin->sin_addr);
	}
}

/* What check_parse may return, and what it promises with CHECK_OK. */
static void
check_parsed(const struct check_in *in, const struct check_req *q, const struct check_out *out,
             int rc)
{
	struct addr peer;

	fuzz_assert(out->result == rc);
	fuzz_assert(rc == CHECK_OK || rc == CHECK_BAD_REQUEST || rc == CHECK_BAD_COOKIE ||
	            rc == CHECK_NO_COOKIE);
	fuzz_assert(rc == CHECK_OK || rc == CHECK_NO_COOKIE || out->why != NULL);
	if (rc != CHECK_OK)
		return;
	fuzz_assert(name_valid(q->service) && strcmp(out->service, q->service) == 0);
	fuzz_assert(in->n_service <= 1 && in->n_cookie == 1 && q->token == in->cookie);
	fuzz_assert(q->token_len == strlen(in->cookie) && q->token_len < TOKEN_STR_MAX);
	fuzz_assert(addr_from_sockaddr(in->peer, &peer) == 0);
	if (!cid_trusted(&cc, &peer))
		fuzz_assert(!q->via_proxy && addr_eq(&q->client, &peer) && q->https == in->tls);
}

/* A header authd takes gives cid the same client. */
static void
check_same_client(const struct check_in *in)
{
	struct check_req q;
	struct check_out out;
	struct addr peer, want;

	if (in->xff == NULL || in->n_xff != 1 || addr_from_sockaddr(in->peer, &peer) == -1 ||
	    clientip_resolve(&peer, in->xff, 1, cc.proxies, cc.n_proxies, &want) == -1)
		return;
	memset(&q, 0, sizeof q);
	memset(&out, 0, sizeof out);
	fuzz_assert(check_client(&cc, in, &q, &out) == CHECK_OK);
	fuzz_assert(addr_eq(&q.client, &want));
}

/* A check that passes: alice's right, from her address, with a cookie that verifies. */
static void
check_decided(const struct check_req *q, const struct check_out *out, int rc)
{
	struct addr alice;
	struct token t;

	fuzz_assert(rc >= 0 && rc < CHECK__N && out->result == rc);
	fuzz_assert(rc != CHECK_BAD_REQUEST && rc != CHECK_NO_COOKIE);
	if (rc != CHECK_OK)
		return;
	addr_parse("10.0.0.2", &alice);
	fuzz_assert(strcmp(q->service, "lab") == 0 && addr_eq(&q->client, &alice));
	fuzz_assert(out->right_id == RIGHT && out->service_id == LAB);
	fuzz_assert(strcmp(out->user, "alice") == 0 && out->remaining > 0);
	fuzz_assert(token_verify(&ring, NOW, q->token, q->token_len, &t) == TOKEN_OK);
	fuzz_assert(memcmp(t.sid, sid_alice, SID_BYTES) == 0 && t.service_id == LAB);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	struct check_in in;
	struct check_req q;
	struct check_out out;
	const char *h[H_N];
	char *s;
	int flags, rc;

	if (size == 0)
		return 0;
	flags = data[0];
	s = fuzz_str(data + 1, size - 1);
	fuzz_fields(s, '\n', h, H_N);
	set_peer(&ss, flags);
	memset(&in, 0, sizeof in);
	in.service = h[H_SERVICE];
	in.n_service = h[H_SERVICE] ? (flags & 4 ? 2 : 1) : 0;
	in.host = h[H_HOST];
	in.cookie = h[H_COOKIE];
	in.n_cookie = h[H_COOKIE] ? (flags & 8 ? 2 : 1) : 0;
	in.xff = h[H_XFF];
	in.n_xff = h[H_XFF] ? (flags & 16 ? 2 : 1) : 0;
	in.xfp = h[H_XFP];
	in.xfh = h[H_XFH];
	in.peer = (const struct sockaddr *)&ss;
	in.tls = (flags & 2) != 0;

	rc = check_parse(&cc, &in, &q, &out);
	check_parsed(&in, &q, &out, rc);
	check_same_client(&in);
	if (rc == CHECK_OK) {
		rc = check_run(&cache, &cc, &q, NOW, &out);
		check_decided(&q, &out, rc);
	}
	free(s);
	return 0;
}
