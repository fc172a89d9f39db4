#ifndef SEKISHO_DAEMON_H
#define SEKISHO_DAEMON_H

/*
 * What every daemon shares at start: "-f FILE -d -n -h", the config, logging,
 * and signals that only set flags (SIGTERM/SIGINT stop, SIGHUP reload).
 */

#include <signal.h>
#include <stddef.h>

#include "conf.h"

struct daemon_opts {
	const char *config;     /* -f, default CONF_DEFAULT_PATH */
	int foreground;         /* -d: stay in front, log to stderr */
	int check_only;         /* -n: check the config and exit */
};

extern volatile sig_atomic_t daemon_stop;     /* SIGTERM, SIGINT */
extern volatile sig_atomic_t daemon_reload;   /* SIGHUP */

/*
 * Parses argv, loads the config into c, runs check (when not NULL: the
 * program's own start-up checks, e.g. its templates) and starts logging as
 * name. On -n prints "NAME: FILE: ok" and exits 0; a failed load or check
 * prints "NAME: err" and exits 1, for -n and a normal start alike (2 for
 * usage). Returns only when the daemon should run.
 */
void daemon_start_check(const char *name, int argc, char **argv, struct daemon_opts *o,
                        struct conf *c, int (*check)(const struct conf *c, char *err,
                                                     size_t errlen));
/*
 * Installs the flag-setting handlers, ignores SIGPIPE, and blocks SIGTERM,
 * SIGINT and SIGHUP in the calling thread (and the threads it starts later).
 * waitmask is the mask to wait with (sigsuspend, ppoll): the old one with
 * those three open. A signal that arrives between checking the flags and
 * waiting then stays pending and ends the wait at once; with the signals
 * open, it could land just before the wait and be seen only when the wait
 * ends by itself.
 */
void daemon_signals(sigset_t *waitmask);
/*
 * SIGHUP's first half: rereads running's file into fresh. -1 when the file
 * no longer loads (logged; the daemon keeps running as it is). 0: fresh
 * holds the new config, and the keys program (CONF_AUTHD, ...) applies only
 * at a restart and that changed are named in a warning. The daemon then
 * applies the rest of fresh itself and logs event=reload result=ok.
 */
int daemon_reread(unsigned program, const struct conf *running, struct conf *fresh);
/*
 * Drops to user (name) when non-empty and running as root, with the user's
 * group and its memberships (the store's group sekisho comes that way, as
 * under systemd's User=). 0 or -1 with err.
 */
int daemon_drop_privileges(const char *user, char *err, size_t errlen);

#endif
