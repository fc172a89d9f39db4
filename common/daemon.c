#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

volatile sig_atomic_t daemon_stop;
volatile sig_atomic_t daemon_reload;

static void
usage(const char *name)
{
	fprintf(stderr, "usage: %s [-d] [-n] [-f config]\n", name);
	exit(2);
}

void
daemon_start_check(const char *name, int argc, char **argv, struct daemon_opts *o,
                   struct conf *c, int (*check)(const struct conf *c, char *err, size_t errlen))
{
	char err[512];
	int ch;

	o->config = CONF_DEFAULT_PATH;
	o->foreground = 0;
	o->check_only = 0;
	while ((ch = getopt(argc, argv, "df:nh")) != -1) {
		switch (ch) {
		case 'd': o->foreground = 1; break;
		case 'f': o->config = optarg; break;
		case 'n': o->check_only = 1; break;
		default: usage(name);
		}
	}
	if (optind != argc)
		usage(name);

	conf_defaults(c);
	if (conf_load(o->config, c, err, sizeof err) == -1) {
		fprintf(stderr, "%s: %s\n", name, err);
		exit(1);
	}
	if (check != NULL && check(c, err, sizeof err) == -1) {
		fprintf(stderr, "%s: %s\n", name, err);
		exit(1);
	}
	if (o->check_only) {
		printf("%s: %s: ok\n", name, o->config);
		exit(0);
	}
	log_init(name, o->foreground, c->log_level);
}

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		daemon_reload = 1;
	else
		daemon_stop = 1;
}

void
daemon_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, waitmask);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGHUP);
}

int
daemon_reread(unsigned program, const struct conf *running, struct conf *fresh)
{
	char err[512], keys[512];

	conf_defaults(fresh);
	if (conf_load(running->file, fresh, err, sizeof err) == -1) {
		log_err("event=reload result=failed file=%s error=\"%s\" effect=kept_old_config",
		        running->file, err);
		return -1;
	}
	conf_restart_keys(program, running, fresh, keys, sizeof keys);
	if (keys[0] != '\0')
		log_warn("event=reload result=needs_restart keys=%s note=\"these take full effect "
		         "only at a restart\"", keys);
	return 0;
}

int
daemon_drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (user == NULL || user[0] == '\0' || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "unknown user %s", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, errlen, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	return 0;
}
