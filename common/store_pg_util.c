/*
 * PostgreSQL backend: bound parameters, running statements and mapping their
 * failures to store results, transactions, and reading columns back.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "store_pg_int.h"

void
pgq_int(struct pgq *q, int64_t x)
{
	snprintf(q->num[q->n], sizeof q->num[q->n], "%" PRId64, x);
	q->v[q->n] = q->num[q->n];
	q->len[q->n] = 0;
	q->fmt[q->n++] = 0;
}

void
pgq_text(struct pgq *q, const char *t)
{
	q->v[q->n] = t;
	q->len[q->n] = 0;
	q->fmt[q->n++] = 0;
}

void
pgq_bytes(struct pgq *q, const void *b, size_t n)
{
	q->v[q->n] = b;
	q->len[q->n] = (int)n;
	q->fmt[q->n++] = 1;
}

void
pgq_addr(struct pgq *q, const struct addr *a)
{
	pgq_bytes(q, a->bytes, a->family == AF_INET ? 4 : 16);
}

/* The first line of libpq's message, for a one-line s->err. */
static const char *
first_line(const char *msg, char *buf, size_t n)
{
	size_t len = strcspn(msg, "\n");

	snprintf(buf, n, "%.*s", (int)(len < n ? len : n - 1), msg);
	return buf;
}

/* Reconnects a connection found broken, outside a transaction. */
static int
pg_ready(struct pgs *p, const char *what)
{
	char line[160];

	if (PQstatus(p->conn) == CONNECTION_OK)
		return STORE_OK;
	if (p->in_txn)
		return store_fail(&p->base, STORE_UNAVAILABLE, "%s: connection to PostgreSQL lost", what);
	PQreset(p->conn);
	p->listening = 0;
	p->base.epoch++;
	if (PQstatus(p->conn) != CONNECTION_OK)
		return store_fail(&p->base, STORE_UNAVAILABLE, "%s: PostgreSQL at %s port %s: %s", what,
		                  PQhost(p->conn), PQport(p->conn),
		                  first_line(PQerrorMessage(p->conn), line, sizeof line));
	return pg_session(p);
}

static int
result_rc(struct pgs *p, PGresult *res, const char *what)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	char line[160];

	first_line(PQresultErrorMessage(res), line, sizeof line);
	if (PQstatus(p->conn) != CONNECTION_OK)
		return store_fail(&p->base, STORE_UNAVAILABLE, "%s: connection to PostgreSQL lost: %s",
		                  what, line);
	if (state && strcmp(state, "23505") == 0)
		return store_fail(&p->base, STORE_EXISTS, "%s: exists", what);
	if (state && strcmp(state, "23503") == 0)
		return store_fail(&p->base, STORE_NOTFOUND, "%s: a row it names is missing", what);
	if (state && strcmp(state, "23514") == 0)
		return store_fail(&p->base, STORE_INVALID, "%s: %s", what, line);
	return store_fail(&p->base, STORE_UNAVAILABLE, "%s: %s", what, line);
}

int
pg_exec(struct pgs *p, const char *sql, const struct pgq *q, PGresult **res, const char *what)
{
	PGresult *r;
	ExecStatusType st;
	int rc;

	if (res)
		*res = NULL;
	if ((rc = pg_ready(p, what)) != STORE_OK)
		return rc;
	r = PQexecParams(p->conn, sql, q ? q->n : 0, NULL, q ? q->v : NULL, q ? q->len : NULL,
	                 q ? q->fmt : NULL, 0);
	st = PQresultStatus(r);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		rc = r ? result_rc(p, r, what)
		       : store_fail(&p->base, STORE_UNAVAILABLE, "%s: out of memory", what);
		PQclear(r);
		return rc;
	}
	if (res)
		*res = r;
	else
		PQclear(r);
	return STORE_OK;
}

int
pg_run(struct pgs *p, const char *sql, const struct pgq *q, int *changed, const char *what)
{
	PGresult *r;
	int rc = pg_exec(p, sql, q, &r, what);

	if (rc == STORE_OK && changed)
		*changed = (int)strtol(PQcmdTuples(r), NULL, 10);   /* "" for no count: 0 */
	PQclear(r);
	return rc;
}

/* A write transaction first takes the writers' lock exclusively: see store_pg_int.h. */
int
pg_begin(struct pgs *p, int write)
{
	int rc;

	if ((rc = pg_run(p, "BEGIN", NULL, NULL, "begin")) != STORE_OK)
		return rc;
	p->in_txn = 1;
	if (write && (rc = pg_run(p, "SELECT pg_advisory_xact_lock(" PG_WRITERS_LOCK ")", NULL,
	                          NULL, "begin: writers' lock")) != STORE_OK)
		pg_rollback(p);
	p->ring = write && rc == STORE_OK;
	return rc;
}

int
pg_commit(struct pgs *p)
{
	int rc = pg_run(p, "COMMIT", NULL, NULL, "commit");

	p->in_txn = 0;
	if (rc == STORE_OK && p->ring)
		pg_ring(p);
	p->ring = 0;
	return rc;
}

void
pg_ring(struct pgs *p)
{
	if (PQstatus(p->conn) != CONNECTION_OK)
		return;
	PQclear(PQexec(p->conn, "BEGIN; SET LOCAL synchronous_commit = off; "
	               "SELECT pg_notify('" PG_CHANNEL "', ''); COMMIT"));
	if (PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		PQclear(PQexec(p->conn, "ROLLBACK"));
}

void
pg_rollback(struct pgs *p)
{
	PGresult *r;

	if (PQstatus(p->conn) == CONNECTION_OK) {
		r = PQexec(p->conn, "ROLLBACK");
		PQclear(r);
	}
	p->in_txn = 0;
	p->ring = 0;
}

int
pg_finish(struct pgs *p, int rc)
{
	if (rc != STORE_OK) {
		pg_rollback(p);
		return rc;
	}
	return pg_commit(p);
}

int64_t
pg_i64(const PGresult *r, int row, int col)
{
	const char *v = PQgetvalue(r, row, col);
	char *end;
	long long x;

	if (PQgetisnull(r, row, col))
		return 0;
	x = strtoll(v, &end, 10);
	return *end == '\0' ? (int64_t)x : 0;
}

void
pg_text(const PGresult *r, int row, int col, char *dst, size_t n)
{
	snprintf(dst, n, "%s", PQgetvalue(r, row, col));
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* bytea in text form is "\x" and two lowercase hex digits a byte (bytea_output = hex). */
int
pg_bytes(const PGresult *r, int row, int col, uint8_t *dst, size_t max)
{
	const char *v = PQgetvalue(r, row, col);
	size_t len = strlen(v), n;

	if (len < 2 || v[0] != '\\' || v[1] != 'x' || len % 2 != 0 || (len - 2) / 2 > max)
		return -1;
	for (n = 0; n < (len - 2) / 2; n++) {
		int hi = hexval(v[2 + 2 * n]), lo = hexval(v[3 + 2 * n]);
		if (hi < 0 || lo < 0)
			return -1;
		dst[n] = (uint8_t)(hi << 4 | lo);
	}
	return (int)n;
}

void
pg_addr(const PGresult *r, int row, int col, struct addr *a)
{
	int n;

	memset(a, 0, sizeof *a);
	n = pg_bytes(r, row, col, a->bytes, sizeof a->bytes);
	a->family = n == 4 ? AF_INET : n == 16 ? AF_INET6 : 0;
}

void
pg_read_right(const PGresult *r, int row, int col, struct store_right *out)
{
	memset(out, 0, sizeof *out);
	out->id = pg_i64(r, row, col);
	pg_text(r, row, col + 1, out->sid, sizeof out->sid);
	out->user_id = pg_i64(r, row, col + 2);
	pg_text(r, row, col + 3, out->user_name, sizeof out->user_name);
	out->service_id = pg_i64(r, row, col + 4);
	pg_text(r, row, col + 5, out->service_name, sizeof out->service_name);
	pg_addr(r, row, col + 6, &out->ip);
	out->created_at = pg_i64(r, row, col + 7);
	out->expires_at = pg_i64(r, row, col + 8);
	out->last_seen = pg_i64(r, row, col + 9);
	out->idle_deadline = pg_i64(r, row, col + 10);
	out->ended_at = pg_i64(r, row, col + 11);
	out->end_reason = (int)pg_i64(r, row, col + 12);
	out->vouched = (int)pg_i64(r, row, col + 13);
}

int
pg_rights_add(struct pgs *p, const PGresult *res, struct pg_rights *out)
{
	int rows = PQntuples(res);

	if (!out || rows == 0)
		return STORE_OK;
	if (out->n + (size_t)rows > out->cap) {
		size_t cap = out->n + (size_t)rows;
		struct store_right *v = realloc(out->v, cap * sizeof *v);
		if (!v)
			return store_fail(&p->base, STORE_UNAVAILABLE, "out of memory");
		out->v = v;
		out->cap = cap;
	}
	for (int i = 0; i < rows; i++)
		pg_read_right(res, i, 0, &out->v[out->n++]);
	return STORE_OK;
}

void
pg_rights_deliver(struct pg_rights *rs, store_right_fn fn, void *arg)
{
	for (size_t i = 0; fn && i < rs->n; i++)
		if (fn(&rs->v[i], arg))
			break;
	free(rs->v);
	memset(rs, 0, sizeof *rs);
}

int
pg_end_txn(struct pgs *p, const char *sql, const struct pgq *q, struct pg_rights *out, int *n)
{
	PGresult *res;
	int rc;

	if ((rc = pg_begin(p, 1)) != STORE_OK)
		return rc;
	if ((rc = pg_exec(p, sql, q, &res, "end rights")) == STORE_OK) {
		if (n)
			*n = PQntuples(res);
		rc = pg_rights_add(p, res, out);
		PQclear(res);
	}
	return pg_finish(p, rc);
}
