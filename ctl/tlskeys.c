/*
 * sekishoctl tls-keys: the TLS session-ticket key ring (docs/tls.md).
 * sync makes sure the ring is due-complete (one gateway adds a key at a time),
 * writes it to the terminators' files atomically (temporary file 0600, owner,
 * fsync, rename), and tells the terminators: nginx by SIGHUP to its master
 * (what "nginx -s reload" does), HAProxy through its runtime API with
 * "set ssl tls-key", without a reload. Files change only when the ring did,
 * and key material is never printed.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ctl.h"
#include "tlskeys.h"

#define TLS_FILE_MAX 1024     /* one key file: at most 7 lines of base64 */
#define TLS_REPLY_MAX 8192    /* an answer of HAProxy's runtime API */

struct owner {
	int set;
	uid_t uid;
	gid_t gid;
};

static struct ring_policy
policy_of(const struct ctl *c)
{
	return tls_ring_policy(c->conf.authd.tls_ticket_rotate_min, c->conf.authd.tls_ticket_previous);
}

/* 1 when path already holds exactly data, else 0. */
static int
same_content(const char *path, const void *data, size_t n)
{
	char buf[TLS_FILE_MAX];
	ssize_t got;
	int fd, same;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	got = read(fd, buf, sizeof buf);
	close(fd);
	same = got == (ssize_t)n && memcmp(buf, data, n) == 0;
	OPENSSL_cleanse(buf, sizeof buf);
	return same;
}

/* Replaces path with data atomically, mode 0600, owned by o. 1 changed, 0 unchanged, -1 failed. */
static int
write_atomic(const char *path, const void *data, size_t n, const struct owner *o)
{
	char tmp[PATH_MAX];
	int fd, ok;

	if (same_content(path, data, n))
		return 0;
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		ctl_fail("%s: path too long", path);
		return -1;
	}
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		ctl_fail("%s: %s", tmp, strerror(errno));
		return -1;
	}
	ok = write(fd, data, n) == (ssize_t)n && (!o->set || fchown(fd, o->uid, o->gid) == 0) &&
	     fchmod(fd, 0600) == 0 && fsync(fd) == 0;
	if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
		ctl_fail("%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 1;
}

/* fsync of the directory holding path, so the renames survive a crash. */
static void
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd != -1) {
		fsync(fd);
		close(fd);
	}
}

/* nginx: DIR/ticket.N.key, 80 raw bytes each; the configuration lists 0 (encrypts) first. */
static int
write_nginx(const char *dir, const struct tls_slots *sl, const struct owner *o, int *changed)
{
	uint8_t raw[TLS_TICKET_KEY_LEN];
	char path[PATH_MAX];
	int rc = 0;

	for (int i = 0; i < sl->n && rc >= 0; i++) {
		if (snprintf(path, sizeof path, "%s/ticket.%d.key", dir, i) >= (int)sizeof path ||
		    tls_ticket_key(sl->key[i], raw) == -1) {
			ctl_fail("%s: cannot derive ticket key %d", dir, i);
			rc = -1;
			break;
		}
		rc = write_atomic(path, raw, sizeof raw, o);
		*changed |= rc == 1;
	}
	OPENSSL_cleanse(raw, sizeof raw);
	sync_dir(dir);
	return rc < 0 ? -1 : 0;
}

/*
 * HAProxy's order (its configuration manual, tls-ticket-keys): the last
 * TLS_TICKETS_NO (3) lines decrypt and the penultimate encrypts. So: the
 * previous key, the current one, the next one; hap[] gets them in that order.
 */
static int
haproxy_lines(const struct tls_slots *sl, char hap[3][TLS_TICKET_B64_LEN + 1])
{
	if (tls_ticket_b64(sl->key[2], hap[0]) == -1 || tls_ticket_b64(sl->key[0], hap[1]) == -1 ||
	    tls_ticket_b64(sl->key[1], hap[2]) == -1)
		return -1;
	return 0;
}

static int
write_haproxy(const char *path, char hap[3][TLS_TICKET_B64_LEN + 1], const struct owner *o,
              int *changed)
{
	char buf[3 * (TLS_TICKET_B64_LEN + 2)];
	int rc;

	snprintf(buf, sizeof buf, "%s\n%s\n%s\n", hap[0], hap[1], hap[2]);
	rc = write_atomic(path, buf, strlen(buf), o);
	OPENSSL_cleanse(buf, sizeof buf);
	*changed |= rc == 1;
	return rc < 0 ? -1 : 0;
}

/* One command on HAProxy's runtime API socket; the answer into reply. 0 or -1. */
static int
haproxy_cmd(const char *sock, const char *cmd, char *reply, size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t got = 0;
	ssize_t r;
	int fd, ok;

	if (strlen(sock) >= sizeof sa.sun_path)
		return (ctl_fail("%s: socket path too long", sock), -1);
	strcpy(sa.sun_path, sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		ctl_fail("%s: %s", sock, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	ok = write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd);
	while (ok && got + 1 < n && (r = read(fd, reply + got, n - 1 - got)) > 0)
		got += (size_t)r;
	reply[got] = '\0';
	close(fd);
	return ok ? 0 : -1;
}

/*
 * Brings HAProxy's loaded keys for file to hap[] without a reload. Each
 * "set ssl tls-key" appends a key and makes the one before it encrypt, so
 * pushing previous, current, next in order ends with HAProxy's three keys in
 * file order; every key that encrypts on the way is a ring key still valid.
 * Nothing is sent when HAProxy already holds the three keys.
 */
static int
update_haproxy(const char *sock, const char *file, char hap[3][TLS_TICKET_B64_LEN + 1],
               int *pushed)
{
	char cmd[PATH_MAX + TLS_TICKET_B64_LEN + 32], reply[TLS_REPLY_MAX];
	int have = 0, rc = 0;

	snprintf(cmd, sizeof cmd, "show tls-keys %s\n", file);
	if (haproxy_cmd(sock, cmd, reply, sizeof reply) == -1)
		return -1;
	for (int i = 0; i < 3; i++)
		have += strstr(reply, hap[i]) != NULL;
	if (strstr(reply, file) == NULL && have == 0)
		return (ctl_fail("%s: HAProxy has no tls-ticket-keys %s", sock, file), -1);
	for (int i = 0; have < 3 && i < 3 && rc == 0; i++) {
		snprintf(cmd, sizeof cmd, "set ssl tls-key %s %s\n", file, hap[i]);
		if ((rc = haproxy_cmd(sock, cmd, reply, sizeof reply)) == 0 &&
		    strstr(reply, "TLS ticket key updated") == NULL) {
			reply[strcspn(reply, "\r\n")] = '\0';   /* its first line, never a key */
			rc = (ctl_fail("%s: set ssl tls-key: %.120s", sock,
			               strstr(reply, hap[i]) ? "(refused)" : reply), -1);
		}
		(*pushed)++;
	}
	OPENSSL_cleanse(cmd, sizeof cmd);
	OPENSSL_cleanse(reply, sizeof reply);
	return rc;
}

/* SIGHUP to the master whose pid the file holds: nginx reloads its configuration and keys. */
static int
reload_nginx(const char *pidfile)
{
	char buf[32];
	long long pid;
	ssize_t n;
	int fd;

	if ((fd = open(pidfile, O_RDONLY | O_CLOEXEC)) == -1)
		return (ctl_fail("%s: %s", pidfile, strerror(errno)), -1);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	char *end;
	errno = 0;
	pid = strtoll(buf, &end, 10);
	if (errno || end == buf || (*end != '\n' && *end != '\0') || pid < 2 || pid > 4194304)
		return (ctl_fail("%s: no process id", pidfile), -1);
	if (kill((pid_t)pid, SIGHUP) == -1)
		return (ctl_fail("nginx (pid %lld): %s", pid, strerror(errno)), -1);
	return 0;
}

static int
owner_of(const char *name, struct owner *o)
{
	struct passwd *pw;

	o->set = 0;
	if (name == NULL)
		return 0;
	if ((pw = getpwnam(name)) == NULL)
		return (ctl_usage("--owner %s: no such user", name), -1);
	o->set = 1;
	o->uid = pw->pw_uid;
	o->gid = pw->pw_gid;
	return 0;
}

/* Loads the ring after making sure it is complete, and orders it. */
static int
ring_slots(struct ctl *c, struct keyring *kr, struct tls_slots *sl, int *added)
{
	struct ring_policy p = policy_of(c);
	int rc;

	if ((rc = ring_ensure(c->s, &RING_TLS, c->now, &p, added)) != STORE_OK ||
	    (rc = ring_load(c->s, &RING_TLS, c->now, kr)) != STORE_OK)
		return ctl_store_fail(c, rc, "tls-keys", NULL);
	if (tls_slots(kr, c->now, c->conf.authd.tls_ticket_previous, sl) == -1)
		return ctl_fail("tls-keys: the ring has no current or next key");
	return CTL_OK;
}

int
ctl_tls_sync(struct ctl *c)
{
	const char *dir = ctl_opt(c, "nginx"), *hfile = ctl_opt(c, "haproxy"),
	           *sock = ctl_opt(c, "haproxy-socket"), *pidfile = ctl_opt(c, "nginx-pid");
	char hap[3][TLS_TICKET_B64_LEN + 1];
	struct keyring kr;
	struct tls_slots sl;
	struct owner o;
	int added = 0, nchanged = 0, hchanged = 0, pushed = 0, rc;

	if (sock && !hfile)
		return ctl_usage("--haproxy-socket needs --haproxy FILE");
	if (pidfile && !dir)
		return ctl_usage("--nginx-pid needs --nginx DIR");
	if (owner_of(ctl_opt(c, "owner"), &o) == -1)
		return CTL_USAGE;
	if ((rc = ring_slots(c, &kr, &sl, &added)) != CTL_OK)
		return rc;
	rc = CTL_OK;
	if (dir && write_nginx(dir, &sl, &o, &nchanged) == -1)
		rc = CTL_FAIL;
	if (rc == CTL_OK && dir && nchanged && pidfile && reload_nginx(pidfile) == -1)
		rc = CTL_FAIL;
	if (rc == CTL_OK && hfile && haproxy_lines(&sl, hap) == -1)
		rc = ctl_fail("tls-keys: cannot derive the HAProxy keys");
	if (rc == CTL_OK && hfile && write_haproxy(hfile, hap, &o, &hchanged) == -1)
		rc = CTL_FAIL;
	if (rc == CTL_OK && sock && update_haproxy(sock, hfile, hap, &pushed) == -1)
		rc = CTL_FAIL;
	if (rc == CTL_OK)
		printf("ring: %d added, current %u, next %u; nginx: %s%s; haproxy: %s, %d pushed\n",
		       added, sl.key[0]->kid, sl.key[1]->kid, !dir ? "-" : nchanged ? "written" : "unchanged",
		       dir && nchanged && pidfile ? ", reloaded" : "",
		       !hfile ? "-" : hchanged ? "written" : "unchanged", pushed);
	OPENSSL_cleanse(hap, sizeof hap);
	OPENSSL_cleanse(&kr, sizeof kr);
	return rc;
}

int
ctl_tls_rotate(struct ctl *c)
{
	struct ring_policy p = policy_of(c);
	int rc;

	if ((rc = ring_rotate(c->s, &RING_TLS, c->now, &p)) != STORE_OK)
		return ctl_store_fail(c, rc, "tls-keys rotate", NULL);
	printf("TLS ticket ring rotated: the next key encrypts from now; run tls-keys sync on every gateway\n");
	return ctl_audit(c, "tls_key_rotate", NULL, NULL, "%s", "");
}

int
ctl_tls_list(struct ctl *c)
{
	struct keyring kr;
	const struct store_key *cur, *nx;
	int rc;

	if ((rc = ring_load(c->s, &RING_TLS, c->now, &kr)) != STORE_OK)
		return ctl_store_fail(c, rc, "tls-keys list", NULL);
	cur = ring_current(&kr, c->now);
	nx = ring_next(&kr, c->now);
	printf("%-10s  %-8s  %-20s  %s\n", "KID", "STATE", "ACTIVATES", "EXPIRES");
	for (int i = 0; i < kr.n; i++) {
		const struct store_key *k = &kr.keys[i];
		printf("%-10u  %-8s  %-20lld  %lld\n", k->kid,
		       k == cur ? "current" : k == nx ? "next" : k->activates_at > c->now ? "waiting" : "previous",
		       (long long)k->activates_at, (long long)k->expires_at);
	}
	OPENSSL_cleanse(&kr, sizeof kr);
	return CTL_OK;
}
