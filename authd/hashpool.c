#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "authd.h"
#include "log.h"
#include "passwd.h"

/*
 * Password checks run on hash_workers long-lived threads. Each scrypt hash
 * needs 32 MiB; a long-lived thread gets the same memory back from its malloc
 * arena every time (main.c keeps such blocks off mmap), where a fresh
 * connection thread would fault in 32 MiB of new zeroed pages per login. The
 * workers also take the hash semaphore, which bounds every other hash in
 * authd (the admin pages) to the same hash_workers.
 *
 * A job's throttle reservation is made when a worker takes it and settled
 * before the worker moves on, so at most hash_workers reservations are ever
 * outstanding.
 *
 * PAM and directory checks (pam.c, ldap.c) run here too, under the same slot
 * and throttle: a PAM stack may hash (pam_unix), a directory is across the
 * network, and HTTP threads never do either.
 *
 * Logins beyond the workers wait in arrival order (FIFO), as many as
 * hash_queue_max; they wait as long as the line takes (each one's turn is
 * bounded by the line ahead of it, not by a timer), and a login past the
 * bound is refused at once (AUTHN_BUSY) rather than after a wait. Waiting
 * logins hold only their own connection thread: the portal's other pages
 * never wait for a hash.
 */

/*
 * Hash workers yield the CPU to the HTTP threads: a flood of logins keeps
 * every worker busy for minutes, and at equal priority the pages that need
 * only microseconds of CPU (GET /, the waiting room's polls) wait behind
 * scrypt for their time slice. SCHED_BATCH (no wake-up preemption) and a nice
 * of HASH_NICE (about a tenth of an HTTP thread's share when both want the
 * CPU) cost hashing nothing on an otherwise idle machine.
 */
#define HASH_NICE 10

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct hash_job {
	const char *ip;
	struct hash_check *c;
	int flags;                           /* THROTTLE_NO_*: buckets that do not apply */
	int state, result, retry_s;
	pthread_cond_t done;
	hash_done_fn cb;                     /* submitted: told by the worker, job freed */
	void *arg;
	const atomic_int *skip;              /* submitted: set when no longer wanted */
	struct hash_job *next;
};

struct hashpool {
	struct authd *a;
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct hash_job *head, *tail;
	pthread_t *threads;
	int n, stop;
	int queued, queue_max;               /* jobs no worker has taken yet, and their bound */
};

static void
sem_take(sem_t *s)
{
	while (sem_wait(s) == -1 && errno == EINTR)
		;
}

/* The check itself: scrypt against the hash, or the external source. AUTHN_OK, _BAD or _EXT_DOWN. */
static int
verify(struct hash_check *c)
{
	char err[256] = "";
	int match;

	if (c->ext == NULL) {
		if ((match = passwd_verify(c->pw, c->hash, err, sizeof err)) == -1)
			log_err("event=bad_password_hash error=\"%s\"", err);
		return match == 1 && c->account_ok ? AUTHN_OK : AUTHN_BAD;
	}
	match = c->source == SOURCE_LDAP ? ldap_check(c->ext, c, err, sizeof err)
	                                 : pam_check(c->ext, c->user, c->pw, err, sizeof err);
	switch (match) {
	case EXTV_OK:
		return c->account_ok ? AUTHN_OK : AUTHN_BAD;
	case EXTV_UNKNOWN:
		c->gone = 1;
		return AUTHN_BAD;
	case EXTV_BAD:
		return AUTHN_BAD;
	default:
		log_err("event=%s_unavailable user=%s error=\"%s\"", source_str(c->source), c->user,
		        err);
		return AUTHN_EXT_DOWN;
	}
}

/* Reserve, verify, settle. */
static void
run_job(struct authd *a, struct hash_job *j)
{
	struct throttle_ticket tk;

	sem_take(&a->hash_sem);
	if (throttle_begin(a->throttle, j->ip, j->flags, clock_mono_ms(), &tk, &j->retry_s) == -1) {
		j->result = AUTHN_THROTTLED;
	} else {
		j->result = verify(j->c);
		throttle_done(a->throttle, j->ip, j->result == AUTHN_OK ? THROTTLE_OK : THROTTLE_FAILED,
		              clock_mono_ms(), &tk);
	}
	sem_post(&a->hash_sem);
}

/* This thread only (Linux: a thread's nice is its own). Best effort: logged, not fatal. */
static void
lower_priority(void)
{
	struct sched_param sp = { 0 };

	if (pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp) != 0 ||
	    setpriority(PRIO_PROCESS, (id_t)gettid(), HASH_NICE) == -1)
		log_warn("event=hash_priority error=\"cannot lower the hash worker's priority\"");
}

static void *
worker_main(void *arg)
{
	struct hashpool *p = arg;
	struct hash_job *j;

	lower_priority();
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;
		j = p->head;
		if ((p->head = j->next) == NULL)
			p->tail = NULL;
		p->queued--;
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&p->lock);
		if (j->cb != NULL) {
			if (!atomic_load(j->skip))
				run_job(p->a, j);
			j->cb(j->arg, j->result, j->retry_s);
			free(j);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		run_job(p->a, j);
		pthread_mutex_lock(&p->lock);
		j->state = JOB_DONE;
		pthread_cond_signal(&j->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct hashpool *
hashpool_start(struct authd *a, int n, int queue_max, char *err, size_t errlen)
{
	struct hashpool *p = calloc(1, sizeof *p);

	if (p == NULL || (p->threads = calloc((size_t)n, sizeof *p->threads)) == NULL) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->a = a;
	p->queue_max = queue_max;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	for (; p->n < n; p->n++)
		if (pthread_create(&p->threads[p->n], NULL, worker_main, p) != 0) {
			snprintf(err, errlen, "cannot start hash worker %d", p->n);
			hashpool_stop(p);
			return NULL;
		}
	return p;
}

void
hashpool_stop(struct hashpool *p)
{
	struct hash_job *submitted = NULL, *next;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	for (struct hash_job *j = p->head; j != NULL; j = next) {
		next = j->next;
		if (j->cb != NULL) {
			j->next = submitted;
			submitted = j;
			continue;
		}
		j->state = JOB_DONE;             /* result stays AUTHN_BUSY */
		pthread_cond_signal(&j->done);
	}
	p->head = p->tail = NULL;
	pthread_mutex_unlock(&p->lock);
	/* Submitted jobs are told outside the lock: their callbacks take their own. */
	for (struct hash_job *j = submitted; j != NULL; j = next) {
		next = j->next;
		j->cb(j->arg, AUTHN_BUSY, 0);
		free(j);
	}
	for (int i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
}

/* Puts j at the end of the line. 0, or -1 (the line is full) with *retry_s. Under p->lock. */
static int
enqueue(struct hashpool *p, struct hash_job *j, int *retry_s)
{
	if (p->stop || p->queued >= p->queue_max) {
		/* About 0.1 s per hash per worker: when the line will have moved on. */
		*retry_s = 1 + p->queued / (10 * p->n);
		return -1;
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	pthread_cond_signal(&p->work);
	return 0;
}

int
hashpool_submit(struct hashpool *p, const char *ip, int flags, struct hash_check *c,
                hash_done_fn cb, void *arg, const atomic_int *skip, int *retry_s)
{
	struct hash_job *j = calloc(1, sizeof *j);
	int rc;

	*retry_s = 5;
	if (j == NULL)
		return -1;
	*j = (struct hash_job){ .ip = ip, .c = c, .flags = flags, .state = JOB_QUEUED,
	                        .result = AUTHN_BUSY, .cb = cb, .arg = arg, .skip = skip };
	pthread_mutex_lock(&p->lock);
	rc = enqueue(p, j, retry_s);
	pthread_mutex_unlock(&p->lock);
	if (rc == -1)
		free(j);
	return rc;
}

int
hashpool_verify(struct hashpool *p, const char *ip, int flags, struct hash_check *c, int *retry_s)
{
	struct hash_job j = { ip, c, flags, JOB_QUEUED, AUTHN_BUSY, 0, PTHREAD_COND_INITIALIZER,
	                      NULL, NULL, NULL, NULL };

	if (authd_wait_take(p->a) == -1)
		return AUTHN_BUSY;
	pthread_mutex_lock(&p->lock);
	if (enqueue(p, &j, retry_s) == -1) {
		pthread_mutex_unlock(&p->lock);
		authd_wait_give(p->a);
		return AUTHN_BUSY;
	}
	while (j.state != JOB_DONE)
		pthread_cond_wait(&j.done, &p->lock);
	pthread_mutex_unlock(&p->lock);
	authd_wait_give(p->a);
	pthread_cond_destroy(&j.done);
	*retry_s = j.retry_s;
	return j.result;
}

int
hashpool_waiting(struct hashpool *p)
{
	int n;

	pthread_mutex_lock(&p->lock);
	n = p->queued;
	pthread_mutex_unlock(&p->lock);
	return n;
}

/* Waits for a free hash slot. 0, or -1 when none came free in time. */
static int
hash_slot(struct authd *a)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += HASH_WAIT_S;
	while (sem_timedwait(&a->hash_sem, &deadline) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

int
hashpool_hash(struct authd *a, const char *pw, char *out, size_t n)
{
	char err[160];
	int rc;

	if (authd_wait_take(a) == -1) {
		log_warn("event=hash_busy error=\"every wait turn of the HTTP threads is taken\"");
		return -1;
	}
	if (hash_slot(a) == -1) {
		authd_wait_give(a);
		log_warn("event=hash_busy error=\"no hash slot came free in %d s\"", HASH_WAIT_S);
		return -1;
	}
	rc = passwd_hash(pw, &passwd_default, out, n, err, sizeof err);
	sem_post(&a->hash_sem);
	authd_wait_give(a);
	if (rc == -1)
		log_err("event=hash_failed error=\"%s\"", err);
	return rc;
}
