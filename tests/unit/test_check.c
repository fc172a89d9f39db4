#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "../../cid/cid.h"
#include "keys.h"

/*
 * The forward-auth decision against an in-memory cache (no store): cookie
 * parsing and verification, the right's liveness, the client binding, and
 * the malformed inputs a proxy or a browser may send.
 */

#define NOW      1700000000
#define LAB      1
#define OTHER    2
#define RIGHT    100
#define INTERVAL 600             /* lab's max idle gap, seconds */

static struct cache cache;
static struct cid_conf cc;
static const uint8_t sid_alice[SID_BYTES] = { 0xa1, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                              0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };

/* Key 7 signs now; key 5 signed before it and still verifies (rotation window). */
static struct keyring
ring(void)
{
	struct keyring kr = { .n = 2 };

	kr.keys[0] = test_key(7, 0x77, NOW - 100, NOW + 86400);
	kr.keys[1] = test_key(5, 0x55, NOW - 86400, NOW + 3600);
	return kr;
}

static struct store_service
service(int64_t id, const char *name, int interval_min)
{
	struct store_service s;

	memset(&s, 0, sizeof s);
	s.id = id;
	snprintf(s.name, sizeof s.name, "%s", name);
	snprintf(s.url, sizeof s.url, "http://%s.example/", name);
	s.max_interval_min = interval_min;
	s.enabled = 1;
	return s;
}

static struct store_right
right(int64_t id, const uint8_t sid[SID_BYTES], int64_t service_id, const char *ip,
      int64_t expires_at, int64_t last_seen)
{
	struct store_right r;

	memset(&r, 0, sizeof r);
	r.id = id;
	sid_to_hex(sid, r.sid);
	snprintf(r.user_name, sizeof r.user_name, "alice");
	r.service_id = service_id;
	cr_assert_eq(addr_parse(ip, &r.ip), 0);
	r.expires_at = expires_at;
	r.last_seen = last_seen;
	return r;
}

static void
setup(void)
{
	struct cache_data d;
	struct keyring kr = ring();
	struct store_service lab = service(LAB, "lab", INTERVAL / 60);
	struct store_service other = service(OTHER, "other", 10);
	struct store_right r = right(RIGHT, sid_alice, LAB, "10.0.0.2", NOW + 3600, NOW - 60);

	cr_assert_eq(cache_init(&cache, 5000), 0);
	cr_assert_eq(data_init(&d), 0);
	cr_assert_eq(data_put_service(&d, &lab), 0);
	cr_assert_eq(data_put_service(&d, &other), 0);
	cr_assert_eq(data_put_right(&d, &r), 0);
	cache_swap(&cache, &d, &kr, 1);
	memset(&cc, 0, sizeof cc);
	snprintf(cc.cookie, sizeof cc.cookie, "sekisho");
	cc.bind_ip = 1;
	cc.secure = -1;
}

static void
teardown(void)
{
	cache_destroy(&cache);
}

TestSuite(check, .init = setup, .fini = teardown);

/* A token for sid/service/expiry signed under the ring's key valid at `at`. */
static void
sign(const struct keyring *kr, int64_t at, const uint8_t sid[SID_BYTES], int64_t service_id,
     int64_t expires_at, char out[TOKEN_STR_MAX])
{
	struct token t;

	memset(&t, 0, sizeof t);
	memcpy(t.sid, sid, SID_BYTES);
	t.service_id = service_id;
	t.expires_at = expires_at;
	cr_assert_eq(token_sign(kr, at, &t, out, TOKEN_STR_MAX), 0);
}

static void
good_token(char out[TOKEN_STR_MAX])
{
	struct keyring kr = ring();

	sign(&kr, NOW, sid_alice, LAB, NOW + 3600, out);
}

static struct check_req
req(const char *service, const char *token, const char *client)
{
	struct check_req q;

	memset(&q, 0, sizeof q);
	snprintf(q.service, sizeof q.service, "%s", service);
	q.token = token;
	q.token_len = strlen(token);
	cr_assert_eq(addr_parse(client, &q.client), 0);
	return q;
}

static int
run_at(const char *service, const char *token, const char *client, int64_t now,
       struct check_out *out)
{
	struct check_req q = req(service, token, client);

	return check_run(&cache, &cc, &q, now, out);
}

static int
run(const char *service, const char *token, const char *client)
{
	struct check_out out;

	return run_at(service, token, client, NOW, &out);
}

static struct cache_right *
alice(void)
{
	struct cache_right *r;

	cache_rdlock(&cache);
	r = cache_right_locked(&cache, sid_alice);
	cache_unlock(&cache);
	cr_assert_not_null(r);
	return r;
}

Test(check, valid_cookie_passes_with_user_and_remaining_time)
{
	char tok[TOKEN_STR_MAX];
	struct check_out out;

	good_token(tok);
	cr_assert_eq(run_at("lab", tok, "10.0.0.2", NOW, &out), CHECK_OK);
	cr_assert_str_eq(out.user, "alice");
	cr_assert_eq(out.remaining, 3600);
	cr_assert_eq(out.right_id, RIGHT);
	cr_assert_eq(check_status(out.result), 204);
}

Test(check, valid_check_records_last_seen_in_memory)
{
	char tok[TOKEN_STR_MAX];
	int64_t ids[4], seen[4];

	good_token(tok);
	cr_assert_eq(alice()->dirty, 0);
	cr_assert_eq(run("lab", tok, "10.0.0.2"), CHECK_OK);
	cr_assert_eq(alice()->seen, NOW);
	cr_assert_eq(cache_take_dirty(&cache, ids, seen, 4), 1);
	cr_assert_eq(ids[0], RIGHT);
	cr_assert_eq(seen[0], NOW);
	cr_assert_eq(cache_take_dirty(&cache, ids, seen, 4), 0, "the flag is cleared once taken");
}

Test(check, every_tampered_character_is_refused_without_a_trace)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char tok[TOKEN_STR_MAX], bad[TOKEN_STR_MAX];
	size_t len;

	good_token(tok);
	len = strlen(tok);
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < 3; k++) {
			memcpy(bad, tok, len + 1);
			bad[i] = alphabet[(strchr(alphabet, tok[i]) - alphabet + 1 + 21 * (long)k) % 64];
			cr_assert_neq(run("lab", bad, "10.0.0.2"), CHECK_OK, "char %zu changed: %s", i, bad);
		}
	}
	cr_assert_eq(alice()->seen, NOW - 60, "a refused cookie does not count as use");
	cr_assert_eq(alice()->dirty, 0);
}

Test(check, truncated_and_extended_tokens_are_bad_cookies)
{
	char tok[TOKEN_STR_MAX], bad[TOKEN_STR_MAX + 8];
	size_t len;

	good_token(tok);
	len = strlen(tok);
	for (size_t n = 0; n < len; n += 7) {
		snprintf(bad, sizeof bad, "%.*s", (int)n, tok);
		cr_assert_eq(run("lab", bad, "10.0.0.2"), CHECK_BAD_COOKIE,
		             "prefix of %zu", n);
	}
	snprintf(bad, sizeof bad, "%sA", tok);
	cr_assert_eq(run("lab", bad, "10.0.0.2"), CHECK_BAD_COOKIE);
}

Test(check, cookie_of_another_service_is_refused)
{
	struct keyring kr = ring();
	char tok[TOKEN_STR_MAX];

	sign(&kr, NOW, sid_alice, OTHER, NOW + 3600, tok);
	cr_assert_eq(run("lab", tok, "10.0.0.2"), CHECK_WRONG_SERVICE);
	good_token(tok);
	cr_assert_eq(run("other", tok, "10.0.0.2"), CHECK_WRONG_SERVICE);
}

Test(check, token_naming_a_service_the_right_is_not_for_is_refused)
{
	struct keyring kr = ring();
	char tok[TOKEN_STR_MAX];

	/* A genuine key signing a mismatched pair must still not pass. */
	sign(&kr, NOW, sid_alice, OTHER, NOW + 3600, tok);
	cr_assert_eq(run("other", tok, "10.0.0.2"), CHECK_WRONG_SERVICE);
}

Test(check, unknown_key_is_refused)
{
	struct keyring foreign = { .n = 1 };
	char tok[TOKEN_STR_MAX];

	foreign.keys[0] = test_key(99, 0x99, NOW - 10, NOW + 1000);
	sign(&foreign, NOW, sid_alice, LAB, NOW + 3600, tok);
	cr_assert_eq(run("lab", tok, "10.0.0.2"), CHECK_UNKNOWN_KEY);
}

Test(check, same_kid_with_another_secret_is_a_bad_tag)
{
	struct keyring forged = { .n = 1 };
	char tok[TOKEN_STR_MAX];

	forged.keys[0] = test_key(7, 0x01, NOW - 10, NOW + 1000);
	sign(&forged, NOW, sid_alice, LAB, NOW + 3600, tok);
	cr_assert_eq(run("lab", tok, "10.0.0.2"), CHECK_BAD_TAG);
}

Test(check, rotated_key_still_verifies_within_its_window)
{
	struct keyring old = { .n = 1 };
	char tok[TOKEN_STR_MAX];

	old.keys[0] = test_key(5, 0x55, NOW - 86400, NOW + 3600);
	sign(&old, NOW - 200, sid_alice, LAB, NOW + 3600, tok);
	cr_assert_eq(run("lab", tok, "10.0.0.2"), CHECK_OK);
	cr_assert_eq(run_at("lab", tok, "10.0.0.2", NOW + 3600, &(struct check_out){ 0 }),
	             CHECK_UNKNOWN_KEY, "past the key's verify window");
}

Test(check, expired_token_is_refused)
{
	struct keyring kr = ring();
	char tok[TOKEN_STR_MAX];

	sign(&kr, NOW, sid_alice, LAB, NOW - 1, tok);
	cr_assert_eq(run("lab", tok, "10.0.0.2"), CHECK_EXPIRED);
}

Test(check, right_past_absolute_expiry_is_refused_whatever_the_token_says)
{
	struct keyring kr = ring();
	char tok[TOKEN_STR_MAX];
	struct check_out out;

	sign(&kr, NOW, sid_alice, LAB, NOW + 80000, tok);
	cache_seen(alice(), NOW + 3500);
	cr_assert_eq(run_at("lab", tok, "10.0.0.2", NOW + 3599, &out), CHECK_OK);
	cr_assert_eq(run_at("lab", tok, "10.0.0.2", NOW + 3600, &out), CHECK_EXPIRED);
}

Test(check, idle_right_is_refused_at_the_interval)
{
	char tok[TOKEN_STR_MAX];
	struct check_out out;

	int64_t t1 = NOW - 60 + INTERVAL - 1, t2 = t1 + INTERVAL - 1;

	good_token(tok);
	cr_assert_eq(run_at("lab", tok, "10.0.0.2", t1, &out), CHECK_OK);
	cr_assert_eq(alice()->seen, t1);
	cr_assert_eq(run_at("lab", tok, "10.0.0.2", t2, &out), CHECK_OK,
	             "each valid check moves the idle deadline");
	cr_assert_eq(run_at("lab", tok, "10.0.0.2", t2 + INTERVAL, &out), CHECK_IDLE);
	cr_assert_eq(check_status(CHECK_IDLE), 401);
}

static int reread_calls;
static int64_t reread_seen;
static int64_t reread_ended;

static int
fake_reread(void *arg, const uint8_t sid[SID_BYTES], struct store_right *r)
{
	(void)arg;
	reread_calls++;
	*r = right(RIGHT, sid, LAB, "10.0.0.2", NOW + 3600, reread_seen);
	r->idle_deadline = reread_seen + INTERVAL;
	r->ended_at = reread_ended;
	return STORE_OK;
}

Test(check, idle_looking_right_is_reread_once_a_second_and_passes_if_used_elsewhere)
{
	char tok[TOKEN_STR_MAX];
	struct check_out out;
	int64_t later = NOW - 60 + INTERVAL;

	good_token(tok);
	cache.reread = fake_reread;
	reread_calls = 0;
	reread_seen = NOW - 60;
	reread_ended = 0;
	cr_assert_eq(run_at("lab", tok, "10.0.0.2", later, &out), CHECK_IDLE);
	cr_assert_eq(run_at("lab", tok, "10.0.0.2", later, &out), CHECK_IDLE);
	cr_assert_eq(reread_calls, 1, "at most one re-read per right and second");
	reread_seen = later - 5;                 /* the portal saw the user */
	cr_assert_eq(run_at("lab", tok, "10.0.0.2", later + 1, &out), CHECK_OK);
	cr_assert_eq(reread_calls, 2);
}

Test(check, reread_that_finds_the_right_ended_drops_it)
{
	char tok[TOKEN_STR_MAX];
	struct check_out out;

	good_token(tok);
	cache.reread = fake_reread;
	reread_seen = NOW - 60;
	reread_ended = NOW - 1;
	cr_assert_eq(run_at("lab", tok, "10.0.0.2", NOW + INTERVAL, &out), CHECK_IDLE);
	cr_assert_eq(run_at("lab", tok, "10.0.0.2", NOW + INTERVAL, &out), CHECK_NO_RIGHT);
}

Test(check, other_client_ip_is_refused_when_bound)
{
	char tok[TOKEN_STR_MAX];

	good_token(tok);
	cr_assert_eq(run("lab", tok, "10.0.0.3"), CHECK_WRONG_IP);
	cr_assert_eq(run("lab", tok, "::ffff:10.0.0.3"), CHECK_WRONG_IP);
	cr_assert_eq(alice()->dirty, 0);
	cc.bind_ip = 0;
	cr_assert_eq(run("lab", tok, "10.0.0.3"), CHECK_OK);
}

Test(check, ended_or_unknown_right_is_refused)
{
	struct keyring kr = ring();
	uint8_t other_sid[SID_BYTES] = { 1, 2, 3 };
	char tok[TOKEN_STR_MAX];

	sign(&kr, NOW, other_sid, LAB, NOW + 3600, tok);
	cr_assert_eq(run("lab", tok, "10.0.0.2"), CHECK_NO_RIGHT);
	good_token(tok);
	cache_drop_right(&cache, RIGHT);
	cr_assert_eq(run("lab", tok, "10.0.0.2"), CHECK_NO_RIGHT);
}

Test(check, unknown_service_is_refused)
{
	char tok[TOKEN_STR_MAX];

	good_token(tok);
	cr_assert_eq(run("nosuch", tok, "10.0.0.2"), CHECK_UNKNOWN_SERVICE);
}

Test(check, disabled_service_takes_its_rights_along)
{
	char tok[TOKEN_STR_MAX];

	good_token(tok);
	cache_wrlock(&cache);
	data_drop_service(&cache.d, LAB);
	cache_unlock(&cache);
	cr_assert_eq(run("lab", tok, "10.0.0.2"), CHECK_UNKNOWN_SERVICE);
	cache_rdlock(&cache);
	cr_assert_null(cache_right_locked(&cache, sid_alice));
	cache_unlock(&cache);
}

Test(check, nothing_passes_before_the_first_snapshot_or_when_stale)
{
	struct cache empty;
	struct check_req q;
	struct check_out out;
	char tok[TOKEN_STR_MAX];

	good_token(tok);
	q = req("lab", tok, "10.0.0.2");
	cr_assert_eq(cache_init(&empty, 5000), 0);
	cr_assert_eq(check_run(&empty, &cc, &q, NOW, &out), CHECK_UNAVAILABLE);
	cr_assert_eq(check_status(CHECK_UNAVAILABLE), 503);
	cache_destroy(&empty);
	atomic_store(&cache.synced_ms, clock_mono_ms() - 6000);
	cr_assert_eq(run("lab", tok, "10.0.0.2"), CHECK_UNAVAILABLE);
}

/* ---- what the proxy sends ---- */

static struct sockaddr_in
v4(const char *ip)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(40000);
	cr_assert_eq(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	return sa;
}

struct parse_case {
	const char *name;
	const char *service;
	int n_service;
	const char *host;
	const char *cookie;
	int n_cookie;
	const char *xff;
	int n_xff;
	const char *xfp;
	const char *peer;
	int want;                            /* check_parse's result */
	const char *client;                  /* when CHECK_OK: the client it found */
	int https;
};

static const char long_cookie[] =
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

static const struct parse_case parse_cases[] = {
	{ "plain request", "lab", 1, NULL, "x", 1, NULL, 0, NULL, "10.0.0.2", CHECK_OK, "10.0.0.2", 0 },
	{ "no service and no host map", NULL, 0, "unmapped.example", "x", 1, NULL, 0, NULL, "10.0.0.2",
	  CHECK_BAD_REQUEST, NULL, 0 },
	{ "host map", NULL, 0, "LAB.example", "x", 1, NULL, 0, NULL, "10.0.0.2", CHECK_OK, "10.0.0.2", 0 },
	{ "host map without the port", NULL, 0, "lab.example:8443", "x", 1, NULL, 0, NULL, "10.0.0.2",
	  CHECK_OK, "10.0.0.2", 0 },
	{ "repeated service header", "lab", 2, NULL, "x", 1, NULL, 0, NULL, "10.0.0.2",
	  CHECK_BAD_REQUEST, NULL, 0 },
	{ "service name with a slash", "../lab", 1, NULL, "x", 1, NULL, 0, NULL, "10.0.0.2",
	  CHECK_BAD_REQUEST, NULL, 0 },
	{ "empty service name", "", 1, NULL, "x", 1, NULL, 0, NULL, "10.0.0.2", CHECK_BAD_REQUEST, NULL, 0 },
	{ "absurdly long service name", "abcdefghijabcdefghijabcdefghijabc", 1, NULL, "x", 1, NULL, 0,
	  NULL, "10.0.0.2", CHECK_BAD_REQUEST, NULL, 0 },
	{ "no cookie", "lab", 1, NULL, NULL, 0, NULL, 0, NULL, "10.0.0.2", CHECK_NO_COOKIE, NULL, 0 },
	{ "empty cookie", "lab", 1, NULL, "", 1, NULL, 0, NULL, "10.0.0.2", CHECK_NO_COOKIE, NULL, 0 },
	{ "repeated cookie", "lab", 1, NULL, "x", 2, NULL, 0, NULL, "10.0.0.2", CHECK_BAD_COOKIE, NULL, 0 },
	{ "huge cookie", "lab", 1, NULL, long_cookie, 1, NULL, 0, NULL, "10.0.0.2", CHECK_BAD_COOKIE, NULL, 0 },
	{ "forwarded-for from a stranger is ignored", "lab", 1, NULL, "x", 1, "10.9.9.9", 1, "https",
	  "10.0.0.2", CHECK_OK, "10.0.0.2", 0 },
	{ "forwarded-for from a trusted proxy", "lab", 1, NULL, "x", 1, "10.9.9.9", 1, "https",
	  "127.0.0.1", CHECK_OK, "10.9.9.9", 1 },
	{ "rightmost untrusted hop wins", "lab", 1, NULL, "x", 1, " 6.6.6.6 , 10.9.9.9,127.0.0.2 ", 1,
	  "http", "127.0.0.1", CHECK_OK, "10.9.9.9", 0 },
	{ "a blank before a trusted hop", "lab", 1, NULL, "x", 1, "10.9.9.9, 127.0.0.2", 1, NULL,
	  "127.0.0.1", CHECK_OK, "10.9.9.9", 0 },
	{ "the client's own claims left of it are not read", "lab", 1, NULL, "x", 1,
	  "unknown, 10.9.9.9 ,\t127.0.0.2", 1, NULL, "127.0.0.1", CHECK_OK, "10.9.9.9", 0 },
	{ "malformed where it is read", "lab", 1, NULL, "x", 1, "10.9.9.9, unknown, 127.0.0.2", 1,
	  NULL, "127.0.0.1", CHECK_BAD_REQUEST, NULL, 0 },
	{ "all hops trusted: the leftmost", "lab", 1, NULL, "x", 1, "127.0.0.2,127.0.0.1", 1, NULL,
	  "127.0.0.1", CHECK_OK, "127.0.0.2", 0 },
	{ "forwarded-for with a name", "lab", 1, NULL, "x", 1, "client.example", 1, NULL, "127.0.0.1",
	  CHECK_BAD_REQUEST, NULL, 0 },
	{ "forwarded-for with a port", "lab", 1, NULL, "x", 1, "10.9.9.9:1234", 1, NULL, "127.0.0.1",
	  CHECK_BAD_REQUEST, NULL, 0 },
	{ "forwarded-for empty entry", "lab", 1, NULL, "x", 1, "10.9.9.9,,", 1, NULL, "127.0.0.1",
	  CHECK_BAD_REQUEST, NULL, 0 },
	{ "repeated forwarded-for", "lab", 1, NULL, "x", 1, "10.9.9.9", 2, NULL, "127.0.0.1",
	  CHECK_BAD_REQUEST, NULL, 0 },
	{ "ipv6 in forwarded-for", "lab", 1, NULL, "x", 1, "2001:db8::7", 1, NULL, "127.0.0.1",
	  CHECK_OK, "2001:db8::7", 0 },
};

static void
check_parse_case(const struct parse_case *pc)
{
	struct sockaddr_in peer = v4(pc->peer);
	struct check_in in = {
		.service = pc->service, .n_service = pc->n_service, .host = pc->host,
		.cookie = pc->cookie, .n_cookie = pc->n_cookie, .xff = pc->xff, .n_xff = pc->n_xff,
		.xfp = pc->xfp, .peer = (struct sockaddr *)&peer,
	};
	struct check_req q;
	struct check_out out;
	struct addr want;
	char got[ADDR_STR_MAX];

	cr_assert_eq(check_parse(&cc, &in, &q, &out), pc->want, "%s: got %s", pc->name,
	             check_label(out.result));
	if (pc->want != CHECK_OK) {
		cr_assert(out.result == CHECK_NO_COOKIE || out.why != NULL, "%s: says why", pc->name);
		return;
	}
	cr_assert_eq(addr_parse(pc->client, &want), 0);
	cr_assert(addr_eq(&q.client, &want), "%s: client %s", pc->name,
	          addr_str(&q.client, got, sizeof got));
	cr_assert_eq(q.https, pc->https, "%s: https", pc->name);
}

Test(check, proxy_headers_are_parsed_strictly)
{
	char err[128];
	struct conf c;

	conf_defaults(&c);
	snprintf(c.cid.trusted_proxies, sizeof c.cid.trusted_proxies, "127.0.0.1, 127.0.0.2");
	snprintf(c.cid.host_map, sizeof c.cid.host_map, "lab.example=lab,other.example=other");
	cr_assert_eq(cid_conf_build(&c, &cc, err, sizeof err), 0, "%s", err);
	for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++)
		check_parse_case(&parse_cases[i]);
}

Test(check, forwarded_host_picks_the_mapping_only_from_a_trusted_proxy)
{
	struct sockaddr_in proxy = v4("127.0.0.1"), stranger = v4("10.0.0.2");
	struct check_in in = { .host = "cid.internal:8081", .xfh = "lab.example", .cookie = "x",
	                       .n_cookie = 1, .peer = (struct sockaddr *)&proxy };
	struct check_req q;
	struct check_out out;
	char err[128];
	struct conf c;

	conf_defaults(&c);
	snprintf(c.cid.trusted_proxies, sizeof c.cid.trusted_proxies, "127.0.0.1");
	snprintf(c.cid.host_map, sizeof c.cid.host_map, "lab.example=lab");
	cr_assert_eq(cid_conf_build(&c, &cc, err, sizeof err), 0, "%s", err);
	cr_assert_eq(check_parse(&cc, &in, &q, &out), CHECK_OK);
	cr_assert_str_eq(q.service, "lab");
	cr_assert_str_eq(out.service, "lab");
	in.peer = (struct sockaddr *)&stranger;
	cr_assert_eq(check_parse(&cc, &in, &q, &out), CHECK_BAD_REQUEST);
}

/* handoff asks the same question: it must tell "not said" from "malformed". */
Test(check, the_asked_service_is_said_unsaid_or_malformed)
{
	struct check_in in = { .host = "cid.internal", .xfh = "lab.example" };
	char name[NAME_MAX_LEN + 1], err[128];
	const char *why = NULL;
	struct conf c;

	conf_defaults(&c);
	snprintf(c.cid.host_map, sizeof c.cid.host_map, "lab.example=lab");
	cr_assert_eq(cid_conf_build(&c, &cc, err, sizeof err), 0, "%s", err);
	cr_assert_eq(check_service(&cc, &in, 0, name, &why), 0, "X-Forwarded-Host from a stranger");
	cr_assert_not_null(why);
	cr_assert_eq(check_service(&cc, &in, 1, name, &why), 1);
	cr_assert_str_eq(name, "lab");
	in.service = "other";
	in.n_service = 1;
	cr_assert_eq(check_service(&cc, &in, 1, name, &why), 1, "the header wins over the host");
	cr_assert_str_eq(name, "other");
	in.n_service = 2;
	cr_assert_eq(check_service(&cc, &in, 1, name, &why), -1);
	cr_assert_str_eq(why, "repeated X-Sekisho-Service");
	in.service = "../lab";
	in.n_service = 1;
	cr_assert_eq(check_service(&cc, &in, 1, name, &why), -1);
}

Test(check, forwarded_for_longer_than_its_bound_is_refused)
{
	struct sockaddr_in peer = v4("127.0.0.1");
	char xff[XFF_MAX_LEN + 32] = "";
	struct check_in in = { .service = "lab", .n_service = 1, .cookie = "x", .n_cookie = 1,
	                       .xff = xff, .n_xff = 1, .peer = (struct sockaddr *)&peer };
	struct check_req q;
	struct check_out out;

	cc.proxies[0] = (struct addr){ .family = AF_INET, .bytes = { 127, 0, 0, 1 } };
	cc.n_proxies = 1;
	while (strlen(xff) + 9 + 8 < sizeof xff)
		strcat(xff, "10.0.0.1,");
	strcat(xff, "1.2.3.4");
	cr_assert_eq(check_parse(&cc, &in, &q, &out), CHECK_BAD_REQUEST);
}

struct cookie_case {
	const char *name;
	const char *cookie;
	int want;
};

static const struct cookie_case cookie_cases[] = {
	{ "not base64", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", CHECK_BAD_COOKIE },
	{ "standard base64 alphabet", "++++////++++////++++////++++////++++////++++////++++////++++////++++////++++////++++////++++", CHECK_BAD_COOKIE },
	{ "padding", "AAAA==", CHECK_BAD_COOKIE },
	{ "one character", "A", CHECK_BAD_COOKIE },
	{ "right length, all zero", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", CHECK_BAD_COOKIE },
	{ "version 1, unknown kid", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", CHECK_UNKNOWN_KEY },
	{ "spaces", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", CHECK_BAD_COOKIE },
};

Test(check, garbled_cookies_are_refused_by_the_token_alone)
{
	for (size_t i = 0; i < sizeof cookie_cases / sizeof cookie_cases[0]; i++)
		cr_assert_eq(run("lab", cookie_cases[i].cookie, "10.0.0.2"), cookie_cases[i].want,
		             "%s: got %s", cookie_cases[i].name,
		             check_label(run("lab", cookie_cases[i].cookie, "10.0.0.2")));
}

Test(check, every_result_has_a_label_and_a_status)
{
	for (int r = 0; r < CHECK__N; r++) {
		cr_assert_str_neq(check_label(r), "?");
		cr_assert(check_status(r) == 204 || check_status(r) == 400 || check_status(r) == 401 ||
		          check_status(r) == 503);
	}
}
