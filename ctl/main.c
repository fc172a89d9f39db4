#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

static const struct ctl_cmd cmds[] = {
	{ "init", NULL, ctl_init, 0, 0, "root-password-file= root-name=", 0,
	  "init [--root-password-file F] [--root-name NAME]" },
	{ "migrate", NULL, ctl_migrate, 0, 0, "", 0, "migrate" },
	{ "store", "copy", ctl_store_copy, 0, 0, "from= to= replace json", 0,
	  "store copy [--from SQLITE-FILE] [--to PG-URL] [--replace] [--json]" },
	{ "user", "add", ctl_user_add, 1, 1, "role= password-file=", 1,
	  "user add NAME --role user|admin|root --password-file F" },
	{ "user", "list", ctl_user_list, 0, 0, "json", 1, "user list [--json]" },
	{ "user", "passwd", ctl_user_passwd, 1, 1, "password-file=", 1,
	  "user passwd NAME --password-file F" },
	{ "user", "disable", ctl_user_disable, 1, 1, "", 1, "user disable NAME" },
	{ "user", "enable", ctl_user_enable, 1, 1, "", 1, "user enable NAME" },
	{ "user", "del", ctl_user_del, 1, 1, "", 1, "user del NAME" },
	{ "service", "add", ctl_service_add, 1, 1,
	  "url= max-usage= max-interval= cap= admin= guard* entry-url= queue= queue-max= "
	  "queue-lapse= rate=", 1,
	  "service add NAME --url URL --max-usage MIN --max-interval MIN --cap N --admin USER "
	  "[--guard ADDR[:PORT]]... [--entry-url URL] [--queue default|on|off] [--queue-max N] "
	  "[--queue-lapse SECONDS] [--rate PER_MINUTE]" },
	{ "service", "list", ctl_service_list, 0, 0, "json", 1, "service list [--json]" },
	{ "service", "show", ctl_service_show, 1, 1, "json", 1, "service show NAME [--json]" },
	{ "service", "edit", ctl_service_edit, 1, 1,
	  "url= max-usage= max-interval= cap= admin= guard* no-guards entry-url= enable disable "
	  "queue= queue-max= queue-lapse= rate=", 1,
	  "service edit NAME [--url URL] [--max-usage MIN] [--max-interval MIN] [--cap N] "
	  "[--admin USER] [--guard ADDR[:PORT]]... [--no-guards] [--entry-url URL] "
	  "[--enable|--disable] [--queue default|on|off] [--queue-max N] [--queue-lapse SECONDS] "
	  "[--rate PER_MINUTE]" },
	{ "service", "del", ctl_service_del, 1, 1, "", 1, "service del NAME" },
	{ "service", "access", ctl_service_access, 1, 1, "json", 1,
	  "service access NAME [--json]" },
	{ "service", "restrict", ctl_service_restrict, 1, 1, "", 1, "service restrict NAME" },
	{ "service", "open", ctl_service_open, 1, 1, "", 1, "service open NAME" },
	{ "service", "allow", ctl_service_allow, 1, 1, "user= group=", 1,
	  "service allow NAME --user USER | --group GROUP" },
	{ "service", "deny", ctl_service_deny, 1, 1, "user= group=", 1,
	  "service deny NAME --user USER | --group GROUP" },
	{ "group", "add", ctl_group_add, 1, 1, "", 1, "group add NAME" },
	{ "group", "del", ctl_group_del, 1, 1, "", 1, "group del NAME" },
	{ "group", "list", ctl_group_list, 0, 0, "json", 1, "group list [--json]" },
	{ "group", "show", ctl_group_show, 1, 1, "json", 1, "group show NAME [--json]" },
	{ "group", "join", ctl_group_join, 2, 2, "", 1, "group join GROUP USER" },
	{ "group", "leave", ctl_group_leave, 2, 2, "", 1, "group leave GROUP USER" },
	{ "service", "load", ctl_service_load, 1, 1,
	  "probe= no-probe interval-ms= timeout-ms= down-after= up-after= cap-mode= cap-min= "
	  "target-ms= gauge= gauge-metric= gauge-target= no-gauge", 1,
	  "service load NAME [--probe http://ADDR[:PORT]/PATH|tcp://ADDR:PORT|--no-probe] "
	  "[--interval-ms N] [--timeout-ms N] [--down-after N] [--up-after N] "
	  "[--cap-mode fixed|adaptive] [--cap-min N] [--target-ms N] "
	  "[--gauge http://ADDR[:PORT]/PATH --gauge-metric SERIES --gauge-target X|--no-gauge]" },
	{ "right", "list", ctl_right_list, 0, 0, "service= json", 1,
	  "right list [--service NAME] [--json]" },
	{ "right", "revoke", ctl_right_revoke, 1, 1, "", 1, "right revoke ID" },
	{ "grant", NULL, ctl_grant, 3, 3, "", 1, "grant USER SERVICE IP" },
	{ "status", NULL, ctl_status, 0, 0, "json", 1, "status [--json]" },
	{ "key", "list", ctl_key_list, 0, 0, "json", 1, "key list [--json]" },
	{ "key", "rotate", ctl_key_rotate, 0, 0, "", 1, "key rotate" },
	{ "tls-keys", "sync", ctl_tls_sync, 0, 0, "nginx= nginx-pid= haproxy= haproxy-socket= owner=", 1,
	  "tls-keys sync [--nginx DIR [--nginx-pid FILE]] [--haproxy FILE [--haproxy-socket PATH]] "
	  "[--owner USER]" },
	{ "tls-keys", "rotate", ctl_tls_rotate, 0, 0, "", 1, "tls-keys rotate" },
	{ "tls-keys", "list", ctl_tls_list, 0, 0, "", 1, "tls-keys list" },
	{ "tls-versions", NULL, ctl_tls_versions, 1, CTL_POS_MAX, "", 0, "tls-versions LOGFILE..." },
	{ "audit", NULL, ctl_audit_list, 0, 0, "service= user= limit= json", 1,
	  "audit [--service NAME] [--user NAME] [--limit N] [--json]" },
	{ "lockout", "list", ctl_lockout_list, 0, 1, "json", 1, "lockout list [USER] [--json]" },
	{ "lockout", "clear", ctl_lockout_clear, 1, 1, "source=", 1,
	  "lockout clear USER [--source ADDR|d:DEVICE|*]" },
};

#define N_CMDS (sizeof cmds / sizeof cmds[0])

static void
usage(FILE *f)
{
	fprintf(f, "usage: sekishoctl [-f CONFIG] COMMAND [ARGS]\n"
	           "  -f CONFIG   configuration file (default %s)\n\ncommands:\n",
	        CONF_DEFAULT_PATH);
	for (size_t i = 0; i < N_CMDS; i++)
		fprintf(f, "  %s\n", cmds[i].usage);
	fprintf(f, "\n\"session\" is an old name of \"right\" and still works.\n");
	fprintf(f, "Passwords are read from files (first line), never from arguments.\n");
}

/* The command named by argv[0] (and argv[1] for groups); *words gets 1 or 2. */
static const struct ctl_cmd *
find_cmd(int argc, char **argv, int *words)
{
	int group = 0;

	for (size_t i = 0; i < N_CMDS; i++) {
		if (strcmp(cmds[i].group, argv[0]) != 0)
			continue;
		group = 1;
		if (cmds[i].name == NULL) {
			*words = 1;
			return &cmds[i];
		}
		if (argc > 1 && strcmp(cmds[i].name, argv[1]) == 0) {
			*words = 2;
			return &cmds[i];
		}
	}
	if (!group)
		ctl_usage("unknown command \"%s\" (try sekishoctl -h)", argv[0]);
	else if (argc < 2)
		ctl_usage("%s: missing subcommand (try sekishoctl -h)", argv[0]);
	else
		ctl_usage("unknown command \"%s %s\" (try sekishoctl -h)", argv[0], argv[1]);
	return NULL;
}

/* The invoking unix user's name for audit details ("uid=N" without a passwd entry). */
static void
who_am_i(char *out, size_t n)
{
	struct passwd *pw = getpwuid(getuid());

	if (pw != NULL && strlen(pw->pw_name) < n)
		snprintf(out, n, "%s", pw->pw_name);
	else
		snprintf(out, n, "uid=%ld", (long)getuid());
}

/* Global options before the command: -f CONFIG, -h. Returns the index of the command or -1 (status in *rc). */
static int
global_opts(int argc, char **argv, const char **config, int *rc)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			*rc = CTL_OK;
			return -1;
		}
		if (strcmp(argv[i], "-f") != 0) {
			*rc = ctl_usage("unknown option %s (try sekishoctl -h)", argv[i]);
			return -1;
		}
		if (++i == argc) {
			*rc = ctl_usage("option -f needs a file");
			return -1;
		}
		*config = argv[i];
	}
	if (i == argc) {
		*rc = ctl_usage("no command (try sekishoctl -h)");
		return -1;
	}
	return i;
}

static int
run(struct ctl *c, const struct ctl_cmd *cmd)
{
	char err[512];
	int rc;

	if (cmd->store) {
		c->s = store_open(&c->conf.db, 0, err, sizeof err);
		if (c->s == NULL)
			return ctl_fail("%s", err);
	}
	rc = cmd->run(c);
	ctl_fw_close(c);
	if (c->s != NULL)
		store_close(c->s);
	c->s = NULL;
	return rc;
}

int
main(int argc, char **argv)
{
	static struct ctl c;
	const struct ctl_cmd *cmd;
	const char *config = CONF_DEFAULT_PATH;
	char err[512];
	int first, words = 0, rc = CTL_OK;

	if ((first = global_opts(argc, argv, &config, &rc)) == -1)
		return rc;
	if (strcmp(argv[first], "session") == 0) {   /* the old name, kept for one release */
		argv[first] = "right";
		c.legacy_session = 1;
	}
	if ((cmd = find_cmd(argc - first, argv + first, &words)) == NULL)
		return CTL_USAGE;
	if ((rc = ctl_parse_args(&c, cmd, argc - first - words, argv + first + words)) != CTL_OK)
		return rc;
	conf_defaults(&c.conf);
	if (conf_load(config, &c.conf, err, sizeof err) == -1)
		return ctl_fail("%s", err);
	c.now = (int64_t)time(NULL);
	who_am_i(c.by, sizeof c.by);
	return run(&c, cmd);
}
