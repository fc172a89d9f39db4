#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "authd.h"
#include "log.h"
#include "token.h"

/*
 * The login line (docs/waiting-room.md, "The login line"). Every portal
 * login that needs a password check takes a ticket here, in arrival order:
 * its name and password stay in this process's memory (never in the store,
 * never on disk) until a hash worker has checked them, and are wiped
 * (OPENSSL_cleanse) as soon as the check is settled.
 *
 * The ticket's number is taken when the login's request reaches its handler,
 * before the throttle's and lockout's store work (whose write lock many
 * logins arriving at once would take in no particular order).
 *
 * One thread, the finisher, continues the logins strictly in ticket order
 * once each is hashed: lockout, the portal login, the admission or the
 * service's waiting room (portal_login_answer), on a detached request whose
 * answer is kept. So the order of arrival is the order of admission end to
 * end, however many workers hash and however late a browser comes back.
 *
 * A login near the front (at most a->line_direct tickets from the front,
 * and while it holds a wait turn, authd_wait_take) waits on its own connection and gets its answer
 * there, as a login always did: a connection is held only while a few hashes
 * are ahead of it, however slow each is (a PAM stack's fail delay, a loaded
 * machine). Any other gets at once a page with its place in the line, which refreshes itself (no JavaScript) to GET /login/wait; the
 * ticket cookie LINE_COOKIE (random, HttpOnly, SameSite=Strict, good only
 * from the same client address) ties the browser to its ticket, and the
 * refresh that finds the answer gets it. No connection is held meanwhile.
 *
 * Bounds: hash_queue_max tickets at once (past it: 503 and Retry-After at
 * once). A ticket whose page has not asked for queue_lapse_s lapses: not yet
 * hashed, it is not hashed at all; answered, its answer is dropped.
 */

#define LINE_BUCKETS 4096
#define SWEEP_MS     1000

/* A ticket's life: its number at arrival, its check, its answer; or dropped unanswered. */
enum { T_PREPARING, T_HASHING, T_HASHED, T_ANSWERED, T_GONE };

struct ticket {
	struct loginline *line;
	char id[RANDOM_STR_LEN + 1];
	uint64_t seq;
	int state, result, retry_s;
	atomic_int skip;                     /* lapsed before its hash: no hash */
	int64_t seen_ms;                     /* its holder asked last (or its answer was made) */
	int64_t born_ms;
	struct addr ip;
	char ipstr[ADDR_STR_MAX];
	int tls;
	struct authd_view *v;                /* held: the settings the login came under */
	char *pw;                            /* wiped once the check is settled */
	size_t pw_len;
	char user[NAME_MAX_LEN + 1];
	struct store_service svc;
	int logged_in;                       /* the POST's portal login, if any */
	char login_hash[CODE_HASH_LEN + 1];
	struct store_login login;
	struct authn_login l;
	struct http_req *answer;             /* detached, once made */
	pthread_cond_t done;
	struct ticket *next;                 /* the line, oldest first, until answered */
	struct ticket *hnext;                /* its bucket */
};

struct loginline {
	struct authd *a;
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_t finisher;
	int stop, max, count;                /* count: tickets held, answered or not */
	uint64_t next_seq, done_seq;         /* done_seq: the last ticket answered */
	struct ticket *head, *tail;
	struct ticket *bucket[LINE_BUCKETS];
};

static unsigned
bucket_of(const char *id)
{
	unsigned h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % LINE_BUCKETS;
}

static void
wipe_pw(struct ticket *t)
{
	if (t->pw == NULL)
		return;
	OPENSSL_cleanse(t->pw, t->pw_len);
	free(t->pw);
	t->pw = NULL;
	t->l.c.pw = NULL;
}

static void
ticket_free(struct authd *a, struct ticket *t)
{
	wipe_pw(t);
	http_req_free(t->answer);
	if (t->v != NULL)
		view_release(a, t->v);
	pthread_cond_destroy(&t->done);
	OPENSSL_cleanse(t, sizeof *t);
	free(t);
}

/* Under the lock: t leaves its bucket (it is no longer in the line). */
static void
unbucket(struct loginline *l, struct ticket *t)
{
	struct ticket **p = &l->bucket[bucket_of(t->id)];

	for (; *p != NULL; p = &(*p)->hnext)
		if (*p == t) {
			*p = t->hnext;
			l->count--;
			return;
		}
}

/* Under the lock: the ticket id names, for the client address ip; NULL if none. */
static struct ticket *
find(struct loginline *l, const char *id, const char *ip)
{
	for (struct ticket *t = l->bucket[bucket_of(id)]; t != NULL; t = t->hnext)
		if (ct_equal(t->id, id, RANDOM_STR_LEN) && strcmp(t->ipstr, ip) == 0)
			return t;
	return NULL;
}

/* A hash worker's word: the ticket is hashed (or skipped). */
static void
hashed(void *arg, int result, int retry_s)
{
	struct ticket *t = arg;
	struct loginline *l = t->line;

	pthread_mutex_lock(&l->lock);
	t->state = T_HASHED;
	t->result = result;
	t->retry_s = retry_s;
	if (t == l->head)
		pthread_cond_signal(&l->work);
	pthread_mutex_unlock(&l->lock);
}

/* On the finisher: what the login's POST would have answered, kept in t->answer. */
static void
answer(struct loginline *l, struct ticket *t)
{
	struct req q;
	int lr, result = t->result;

	memset(&q, 0, sizeof q);
	q.a = l->a;
	q.v = t->v;
	q.ip = t->ip;
	memcpy(q.ipstr, t->ipstr, sizeof q.ipstr);
	q.now = time(NULL);
	q.logged_in = t->logged_in;
	memcpy(q.login_hash, t->login_hash, sizeof q.login_hash);
	q.login = t->login;
	if ((q.r = http_req_detached(t->tls)) == NULL) {
		result = AUTHN_BUSY;
		log_err("event=login_line_error error=\"out of memory\"");
	}
	if (q.r != NULL && atomic_load(&t->skip))
		result = AUTHN_BUSY;
	result = authn_finish(&q, NULL, &t->l, t->pw, result);
	wipe_pw(t);
	if (q.r != NULL) {
		lr = portal_login_answer(&q, t->user, &t->svc, &t->l, result, t->retry_s);
		ametrics_service_login(t->svc.name, lr);
		ametrics_login(lr, (double)(clock_mono_ms() - t->born_ms) / 1e3);
	}
	req_store_release(&q);
	t->answer = q.r;
}

/* Under the lock: tickets whose holders stopped asking lapse. */
static void
sweep(struct loginline *l, int64_t now_ms)
{
	int64_t lapse_ms;
	struct ticket **p, *t;

	for (int b = 0; b < LINE_BUCKETS; b++)
		for (p = &l->bucket[b]; (t = *p) != NULL;) {
			lapse_ms = (int64_t)t->v->conf.authd.queue_lapse_s * 1000;
			if (now_ms - t->seen_ms <= lapse_ms) {
				p = &t->hnext;
				continue;
			}
			if (t->state != T_ANSWERED) {
				atomic_store(&t->skip, 1);   /* answered (busy) and dropped when reached */
				p = &t->hnext;
				continue;
			}
			*p = t->hnext;
			l->count--;
			ticket_free(l->a, t);
		}
}

static void *
finisher_main(void *arg)
{
	struct loginline *l = arg;
	struct timespec until;
	struct ticket *t;
	int64_t swept = clock_mono_ms();

	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		if (clock_mono_ms() - swept >= SWEEP_MS) {
			swept = clock_mono_ms();
			sweep(l, swept);
		}
		if ((t = l->head) != NULL && t->state == T_GONE) {
			if ((l->head = t->next) == NULL)
				l->tail = NULL;
			unbucket(l, t);
			l->done_seq = t->seq;
			ticket_free(l->a, t);
			continue;
		}
		if (t == NULL || t->state != T_HASHED) {
			clock_mono_after(&until, SWEEP_MS);
			pthread_cond_timedwait(&l->work, &l->lock, &until);
			continue;
		}
		if ((l->head = t->next) == NULL)
			l->tail = NULL;
		pthread_mutex_unlock(&l->lock);
		answer(l, t);
		pthread_mutex_lock(&l->lock);
		t->state = T_ANSWERED;
		t->seen_ms = clock_mono_ms();
		l->done_seq = t->seq;
		pthread_cond_broadcast(&t->done);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

struct loginline *
loginline_start(struct authd *a, int max, char *err, size_t errlen)
{
	struct loginline *l = calloc(1, sizeof *l);
	pthread_condattr_t ca;

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->a = a;
	l->max = max;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->work, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&l->finisher, NULL, finisher_main, l) != 0) {
		snprintf(err, errlen, "cannot start the login line");
		pthread_cond_destroy(&l->work);
		pthread_mutex_destroy(&l->lock);
		free(l);
		return NULL;
	}
	return l;
}

/* After hashpool_stop: no worker holds a ticket any more. */
void
loginline_stop(struct loginline *l)
{
	struct ticket *t;

	if (l == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = 1;
	pthread_cond_signal(&l->work);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->finisher, NULL);
	for (int b = 0; b < LINE_BUCKETS; b++)
		while ((t = l->bucket[b]) != NULL) {
			l->bucket[b] = t->hnext;
			ticket_free(l->a, t);
		}
	pthread_cond_destroy(&l->work);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* A ticket for q's login, with its own copies; NULL without memory. */
static struct ticket *
ticket_new(struct req *q, const char *user, const char *pw)
{
	struct ticket *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->pw_len = strlen(pw) + 1;
	if ((t->pw = malloc(t->pw_len)) == NULL ||
	    random_b64url(t->id, sizeof t->id, RANDOM_BYTES) == -1) {
		free(t->pw);
		free(t);
		return NULL;
	}
	memcpy(t->pw, pw, t->pw_len);
	pthread_cond_init(&t->done, NULL);
	snprintf(t->user, sizeof t->user, "%s", user);
	t->ip = q->ip;
	memcpy(t->ipstr, q->ipstr, sizeof t->ipstr);
	t->tls = q->v->https || http_is_tls(q->r);
	t->logged_in = q->logged_in;
	memcpy(t->login_hash, q->login_hash, sizeof t->login_hash);
	t->login = q->login;
	t->born_ms = t->seen_ms = clock_mono_ms();
	return t;
}

/*
 * How often the page of a ticket at position refreshes: queue_refresh_s near
 * the front; further back, about the time the line ahead takes at
 * LINE_RATE_MIN checks a second per hash worker (a low guess: a scrypt check
 * takes ~0.1 s of a CPU), at most a third of queue_lapse_s so the ticket
 * never lapses. Ten thousand browsers at the back do not poll every few
 * seconds while the CPUs hash.
 */
#define LINE_RATE_MIN 4

static int
refresh_s(const struct req *q, uint64_t position)
{
	const struct conf_authd *c = &q->v->conf.authd;
	uint64_t ahead_s = position / ((uint64_t)q->a->hash_workers * LINE_RATE_MIN);
	int most = c->queue_lapse_s / 3;

	if (ahead_s > (uint64_t)most)
		ahead_s = (uint64_t)most;
	return (int)ahead_s > c->queue_refresh_s ? (int)ahead_s : c->queue_refresh_s;
}

/* The page of a ticket still in line: its place, refreshed to /login/wait. */
static void
line_page(struct req *q, const char *service, uint64_t position)
{
	struct tmpl_ctx *c = page_ctx(q, "In the login line");
	char pos[24], when[32];
	int every = refresh_s(q, position);

	snprintf(pos, sizeof pos, "%llu", (unsigned long long)position);
	if (c != NULL) {
		tmpl_set(c, "service", service);
		tmpl_set(c, "position", pos);
		tmpl_setf(c, "ahead", "%llu", (unsigned long long)position - 1);
		tmpl_setf(c, "refresh_s", "%d", every);
		tmpl_setf(c, "refresh", "%d; url=/login/wait", every);
		page_duration(q->v->conf.authd.queue_lapse_s, when, sizeof when);
		tmpl_set(c, "lapse", when);
	}
	http_add_header(q->r, "X-Sekisho-Login-Position", pos);
	http_add_header(q->r, "Cache-Control", "no-store");
	page_render(q, 200, "line", c);
}

/* Under the lock, t answered: it leaves, the answer goes out on q, t is freed. */
static void
hand_over(struct loginline *l, struct req *q, struct ticket *t)
{
	unbucket(l, t);
	pthread_mutex_unlock(&l->lock);
	login_cookie_set(q, LINE_COOKIE, "", 0);
	if (t->answer == NULL || http_req_replay(q->r, t->answer) == -1)
		page_message(q, 503, "Service unavailable", "Your login could not be finished. "
		             "Please try again.", "/", "Back to the portal");
	ticket_free(l->a, t);
}

/* Under the lock: t takes its number and place in the line. 0, or -1 when the line is full. */
static int
reserve(struct loginline *l, struct ticket *t)
{
	if (l->stop || l->count >= l->max)
		return -1;
	t->line = l;
	t->state = T_PREPARING;
	t->seq = ++l->next_seq;
	t->hnext = l->bucket[bucket_of(t->id)];
	l->bucket[bucket_of(t->id)] = t;
	l->count++;
	if (l->tail != NULL)
		l->tail->next = t;
	else
		l->head = t;
	l->tail = t;
	return 0;
}

/* Under the lock: t's check joins the hash workers' line. 0, or -1 (*retry_s). */
static int
submit(struct loginline *l, struct ticket *t, int *retry_s)
{
	if (hashpool_submit(l->a->hashes, t->ipstr, t->l.src.flags, &t->l.c, hashed, t, &t->skip,
	                    retry_s) == -1)
		return -1;
	t->state = T_HASHING;
	return 0;
}

/* t was answered on its own request: the finisher drops it when it comes to it. */
static void
drop(struct loginline *l, struct ticket *t)
{
	pthread_mutex_lock(&l->lock);
	wipe_pw(t);
	t->state = T_GONE;
	if (t == l->head)
		pthread_cond_signal(&l->work);
	pthread_mutex_unlock(&l->lock);
}

/*
 * Waits (under the lock) for t's answer, bounded by the line ahead of it,
 * not by a timer; a stopping authd gives up at the next second (the page of
 * the place is answered instead).
 */
static void
wait_answer(struct authd *a, struct ticket *t, pthread_mutex_t *lock)
{
	struct timespec until;

	while (t->state != T_ANSWERED && !atomic_load(&a->stopping)) {
		t->seen_ms = clock_mono_ms();    /* its holder is here: it does not lapse */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec++;
		pthread_cond_timedwait(&t->done, lock, &until);
	}
}

struct ticket *
loginline_reserve(struct req *q, const char *user, const char *pw)
{
	struct loginline *l = q->a->line;
	struct ticket *t = ticket_new(q, user, pw);
	int rc;

	if (t == NULL)
		return NULL;
	t->v = view_ref(q->a, q->v); /* the settings its check is planned with (l.c.ext) */
	pthread_mutex_lock(&l->lock);
	rc = reserve(l, t);
	pthread_mutex_unlock(&l->lock);
	if (rc == -1) {
		ticket_free(q->a, t);
		return NULL;
	}
	return t;
}

void
loginline_drop(struct req *q, struct ticket *t)
{
	drop(q->a->line, t);
}

void
login_gate_enter(struct req *q)
{
	while (sem_wait(&q->a->login_gate) == -1 && errno == EINTR)
		;
	q->gated = 1;
}

void
login_gate_leave(struct req *q)
{
	if (q->gated)
		sem_post(&q->a->login_gate);
	q->gated = 0;
}

int
loginline_login(struct req *q, struct ticket *t, const struct store_service *svc)
{
	struct loginline *l = q->a->line;
	struct store *st = req_store(q);
	char id[RANDOM_STR_LEN + 1];
	uint64_t position;
	int rc, retry = 5;

	t->svc = *svc;
	if (st == NULL) {
		drop(l, t);
		return portal_login_answer(q, t->user, svc, NULL, AUTHN_STORE_DOWN, 0);
	}
	if ((rc = authn_prepare(q, st, t->user, t->pw, &t->l, &retry)) != AUTHN_OK) {
		rc = portal_login_answer(q, t->user, svc, &t->l, rc, retry);
		drop(l, t);
		return rc;
	}
	req_store_release(q);        /* no store connection is held while in line */
	login_gate_leave(q);
	pthread_mutex_lock(&l->lock);
	if (submit(l, t, &retry) == -1) {
		pthread_mutex_unlock(&l->lock);
		rc = authn_finish(q, NULL, &t->l, t->pw, AUTHN_BUSY);
		rc = portal_login_answer(q, t->user, svc, &t->l, rc, retry);
		drop(l, t);
		return rc;
	}
	position = t->seq - l->done_seq;
	log_info("event=login_line_join ticket=%llu user=%s service=%s ip=%s place=%llu",
	         (unsigned long long)t->seq, t->l.account ? t->l.account : "-", svc->name,
	         q->ipstr, (unsigned long long)position);
	if (position <= (uint64_t)q->a->line_direct && authd_wait_take(q->a) == 0) {
		wait_answer(q->a, t, &l->lock);
		authd_wait_give(q->a);
	}
	if (t->state == T_ANSWERED) {
		hand_over(l, q, t);
		return -1;
	}
	position = t->seq - l->done_seq;
	memcpy(id, t->id, sizeof id);
	pthread_mutex_unlock(&l->lock);
	login_cookie_set(q, LINE_COOKIE, id, q->v->conf.authd.queue_lapse_s * 2);
	http_log_kv(q->r, "login_line=%llu", (unsigned long long)position);
	line_page(q, svc->name, position);
	return -1;
}

/* GET /login/wait: the place of this browser's ticket, or its answer once made. */
void
loginline_poll(struct req *q)
{
	struct loginline *l = q->a->line;
	const char *id = login_cookie(q, LINE_COOKIE);
	struct store_service svc;
	struct ticket *t;
	uint64_t position;

	pthread_mutex_lock(&l->lock);
	if (id == NULL || (t = find(l, id, q->ipstr)) == NULL) {
		pthread_mutex_unlock(&l->lock);
		login_cookie_set(q, LINE_COOKIE, "", 0);
		page_message(q, 404, "Not in line", "This browser holds no place in the login line "
		             "(it may have lapsed). Please log in again.", "/", "Log in");
		return;
	}
	if (t->state == T_ANSWERED) {
		hand_over(l, q, t);
		return;
	}
	t->seen_ms = clock_mono_ms();
	position = t->seq - l->done_seq;
	svc = t->svc;
	pthread_mutex_unlock(&l->lock);
	/* The cookie's lifetime slides with each refresh: a long line outlasts any fixed one. */
	login_cookie_set(q, LINE_COOKIE, id, q->v->conf.authd.queue_lapse_s * 2);
	line_page(q, svc.name, position);
}

int
loginline_waiting(struct loginline *l)
{
	int n;

	pthread_mutex_lock(&l->lock);
	n = (int)(l->next_seq - l->done_seq);
	pthread_mutex_unlock(&l->lock);
	return n;
}
