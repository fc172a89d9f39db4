#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pgcluster.h"

#define PGC_PORT "5432"    /* only names the socket file in our own directory */

/* Runs argv[0] (as postgres when we are root) with output to log; its exit status or -1. */
static int
run(char *const argv[], const char *log)
{
	struct passwd *pw = getuid() == 0 ? getpwnam("postgres") : NULL;
	int status;
	pid_t pid;

	if (getuid() == 0 && !pw)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int fd;
		if (pw && (setgroups(0, NULL) || setgid(pw->pw_gid) || setuid(pw->pw_uid)))
			_exit(126);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok = f && fputs(text, f) >= 0;

	if (f && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static int
prepare_dir(struct pgc *c, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	struct passwd *pw = getuid() == 0 ? getpwnam("postgres") : NULL;

	snprintf(c->dir, sizeof c->dir, "%s/sekisho-pg.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(c->dir)) {
		snprintf(err, errlen, "mkdtemp %s: %s", c->dir, strerror(errno));
		return -1;
	}
	if (getuid() == 0 && (!pw || chown(c->dir, pw->pw_uid, pw->pw_gid) != 0)) {
		snprintf(err, errlen, "no postgres user to run the test cluster as "
		         "(install postgresql-15: make deps)");
		return -1;
	}
	return 0;
}

static int
append_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");
	int ok = f && fputs(text, f) >= 0;

	if (f && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/*
 * Access and settings go into the data directory, so a plain pg_ctl start
 * (pgc_resume) brings the same server back. With PGC_LISTEN_ENV set, the
 * server also listens on TCP at those addresses (system tests start it in
 * the database host's namespace), trusting every role but PGC_PW_ROLE.
 */
static int
configure(const char *dir, const char *data, int durable, char *err, size_t errlen)
{
	const char *listen = getenv(PGC_LISTEN_ENV);
	char path[320], text[600];

	if (listen && strpbrk(listen, "'\\\n")) {
		snprintf(err, errlen, "%s: a quote, backslash or newline", PGC_LISTEN_ENV);
		return -1;
	}
	snprintf(path, sizeof path, "%s/pg_hba.conf", data);
	snprintf(text, sizeof text, "local all " PGC_PW_ROLE " scram-sha-256\nlocal all all trust\n%s",
	         listen && *listen ? "host all " PGC_PW_ROLE " all scram-sha-256\nhost all all all trust\n" : "");
	if (write_file(path, text) != 0) {
		snprintf(err, errlen, "cannot write %s", path);
		return -1;
	}
	snprintf(path, sizeof path, "%s/postgresql.conf", data);
	snprintf(text, sizeof text, "unix_socket_directories = '%s'\nport = " PGC_PORT "\n"
	         "listen_addresses = '%s'\nfsync = %s\nmax_connections = 200\n",
	         dir, listen ? listen : "", durable ? "on" : "off");
	if (append_file(path, text) != 0) {
		snprintf(err, errlen, "cannot write %s", path);
		return -1;
	}
	return 0;
}

int
pgc_start(struct pgc *c, int durable, char *err, size_t errlen)
{
	char data[300], log[300];

	memset(c, 0, sizeof *c);
	if (prepare_dir(c, err, errlen) == -1)
		return -1;
	snprintf(data, sizeof data, "%s/data", c->dir);
	snprintf(log, sizeof log, "%s/server.log", c->dir);
	char *initdb[] = { PGC_BIN "/initdb", "-D", data, "-U", "sekisho", "-A", "trust", "-E",
	                   "UTF8", "--no-sync", "--no-instructions", NULL };
	if (run(initdb, log) != 0) {
		snprintf(err, errlen, "%s/initdb failed (log: %s)", PGC_BIN, log);
		return -1;
	}
	if (configure(c->dir, data, durable, err, errlen) == -1)
		return -1;
	if (pgc_resume(c->dir) != 0) {
		snprintf(err, errlen, "pg_ctl start failed (log: %s)", log);
		return -1;
	}
	snprintf(c->url, sizeof c->url, "host=%s port=" PGC_PORT " user=sekisho dbname=postgres",
	         c->dir);
	return 0;
}

/* pg_ctl MODE on the cluster in dir (start, or a fast stop that keeps the data). */
static int
ctl(const char *dir, int start)
{
	char data[300], log[300];

	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log, sizeof log, "%s/server.log", dir);
	char *on[] = { PGC_BIN "/pg_ctl", "-D", data, "-l", log, "-w", "start", NULL };
	char *off[] = { PGC_BIN "/pg_ctl", "-D", data, "-m", "fast", "-w", "stop", NULL };
	return run(start ? on : off, log) == 0 ? 0 : -1;
}

int
pgc_pause(const char *dir)
{
	return ctl(dir, 0);
}

int
pgc_resume(const char *dir)
{
	return ctl(dir, 1);
}

static int
rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

void
pgc_stop(struct pgc *c)
{
	char data[300], log[300];

	if (!c->dir[0])
		return;
	snprintf(data, sizeof data, "%s/data", c->dir);
	snprintf(log, sizeof log, "%s/server.log", c->dir);
	char *stop[] = { PGC_BIN "/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", NULL };
	run(stop, log);
	nftw(c->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	c->dir[0] = '\0';
}

int
pgc_createdb(const char *base, char *url, size_t n, char *err, size_t errlen)
{
	static atomic_int serial;
	const char *cut = base ? strstr(base, " dbname=") : NULL;
	char sql[96], name[48];
	PGconn *db;
	PGresult *r;
	int ok;

	if (!cut) {
		snprintf(err, errlen, "no test cluster (%s unset)", PGC_ENV);
		return -1;
	}
	snprintf(name, sizeof name, "t_%d_%d", (int)getpid(), atomic_fetch_add(&serial, 1));
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	db = PQconnectdb(base);
	r = PQstatus(db) == CONNECTION_OK ? PQexec(db, sql) : NULL;
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(err, errlen, "%s", PQerrorMessage(db));
	PQclear(r);
	PQfinish(db);
	if (ok && (size_t)snprintf(url, n, "%.*s dbname=%s", (int)(cut - base), base, name) >= n) {
		snprintf(err, errlen, "conninfo too long");
		ok = 0;
	}
	return ok ? 0 : -1;
}

static struct pgc hook_cluster;
static int guard_fd = -1;       /* write end of the guard's pipe; its only holder is us */
static pid_t guard_pid = -1;

/*
 * The guard: a shell in its own session whose stdin is the pipe's read end.
 * The pipe closes when the test program ends in any way, SIGKILL included;
 * the guard then stops the server (SIGQUIT to the postmaster: immediate
 * shutdown) and removes the directory, so a killed run leaves nothing. After
 * pgc_hook_stop the directory is gone and it does nothing. It is a shell, not
 * a fork of the test program, so killing the program by name spares it.
 */
static const char guard_script[] =
	"cat >/dev/null; d=$1; p=$(head -n1 \"$d/data/postmaster.pid\" 2>/dev/null); "
	"if [ -n \"$p\" ] && kill -QUIT \"$p\" 2>/dev/null; then "
	"i=0; while kill -0 \"$p\" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; fi; "
	"[ -d \"$d\" ] && rm -rf \"$d\"";

static void
guard(int rfd, const char *dir)
{
	int null = open("/dev/null", O_RDWR);

	setsid();
	if (dup2(rfd, 0) < 0 || null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(1);
	execl("/bin/sh", "sh", "-c", guard_script, "pgcluster-guard", dir, (char *)NULL);
	_exit(127);
}

static void
guard_start(struct pgc *c)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) != 0)
		return;
	if ((guard_pid = fork()) == 0)
		guard(p[0], c->dir);
	close(p[0]);
	if (guard_pid < 0)
		close(p[1]);
	else
		guard_fd = p[1];
}

void
pgc_hook_start(void)
{
	char err[512];

	if (pgc_start(&hook_cluster, 0, err, sizeof err) != 0) {
		fprintf(stderr, "test cluster: %s\n", err);
		exit(1);
	}
	guard_start(&hook_cluster);
	setenv(PGC_ENV, hook_cluster.url, 1);
}

void
pgc_hook_stop(void)
{
	pgc_stop(&hook_cluster);
	if (guard_fd >= 0) {
		close(guard_fd);
		guard_fd = -1;
		while (guard_pid > 0 && waitpid(guard_pid, NULL, 0) < 0 && errno == EINTR)
			;
		guard_pid = -1;
	}
}
