#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../ctl/ctl.h"
#include "ipc.h"
#include "migrate.h"
#include "passwd.h"
#include "pgcluster.h"
#include "store.h"

#define OUT_MAX 16384

/* A PostgreSQL cluster for the tests that run sekishoctl on PostgreSQL. */
ReportHook(PRE_ALL)(struct criterion_test_set *set) { (void)set; pgc_hook_start(); }
ReportHook(POST_ALL)(struct criterion_global_stats *st) { (void)st; pgc_hook_stop(); }

/* A private directory with a config (ipfd off), a database path and password files. */
static char dir[64], conf_file[96], pw_file[96], empty_file[96], db_file[96];

struct run {
	int status;
	char out[OUT_MAX];
	char err[OUT_MAX];
};

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void
slurp(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	size_t len;

	cr_assert_not_null(f, "%s", path);
	len = fread(out, 1, n - 1, f);
	out[len] = '\0';
	fclose(f);
}

/* build/sekishoctl next to build/tests/test_ctl ($SEKISHO_BUILD when set). */
static void
ctl_path(char *out, size_t n)
{
	const char *b = getenv("SEKISHO_BUILD");
	char exe[PATH_MAX];
	ssize_t len;
	char *slash;

	if (b != NULL) {
		cr_assert_lt(snprintf(out, n, "%s/sekishoctl", b), (int)n);
		return;
	}
	len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	cr_assert_gt(len, 0);
	exe[len] = '\0';
	for (int i = 0; i < 2 && (slash = strrchr(exe, '/')) != NULL; i++)
		*slash = '\0';
	cr_assert_lt(snprintf(out, n, "%s/sekishoctl", exe), (int)n);
}

static void
setup(void)
{
	strcpy(dir, "/tmp/sekisho-ctl-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(conf_file, sizeof conf_file, "%s/sekisho.conf", dir);
	snprintf(pw_file, sizeof pw_file, "%s/pw", dir);
	snprintf(empty_file, sizeof empty_file, "%s/empty", dir);
	snprintf(db_file, sizeof db_file, "%s/sekisho.db", dir);
	put(pw_file, "Tr0ub4dor&3-unique\n");
	put(empty_file, "\n");
}

static void
setup_conf(void)
{
	char text[256];

	setup();
	snprintf(text, sizeof text, "[db]\npath = %s\n\n[ipfd]\nenabled = off\n", db_file);
	put(conf_file, text);
}

static void
teardown(void)
{
	char cmd[128];
	pid_t pid;

	if (dir[0] == '\0')
		return;
	snprintf(cmd, sizeof cmd, "%s", dir);
	if ((pid = fork()) == 0) {
		execlp("rm", "rm", "-rf", cmd, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

/* Runs argv (argv[0] = the binary) with stdout and stderr captured in r. */
static void
ctl_exec(struct run *r, char **argv)
{
	char outp[128], errp[128];
	int st;
	pid_t pid;

	snprintf(outp, sizeof outp, "%s/stdout", dir);
	snprintf(errp, sizeof errp, "%s/stderr", dir);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (freopen(outp, "w", stdout) == NULL || freopen(errp, "w", stderr) == NULL)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "%s did not exit normally", argv[0]);
	r->status = WEXITSTATUS(st);
	cr_assert_neq(r->status, 127, "cannot run %s", argv[0]);
	slurp(outp, r->out, sizeof r->out);
	slurp(errp, r->err, sizeof r->err);
}

/*
 * Runs sekishoctl -f CONF with the words of args (split at spaces; "@PW",
 * "@EMPTY" and "@DIR" stand for the fixture's paths).
 */
static void
ctl_run(struct run *r, const char *args)
{
	char bin[PATH_MAX], copy[512];
	char *argv[40], *tok, *save;
	int argc = 0;

	ctl_path(bin, sizeof bin);
	snprintf(copy, sizeof copy, "%s", args);
	argv[argc++] = bin;
	argv[argc++] = "-f";
	argv[argc++] = conf_file;
	for (tok = strtok_r(copy, " ", &save); tok && argc < 39; tok = strtok_r(NULL, " ", &save))
		argv[argc++] = strcmp(tok, "@PW") == 0 ? pw_file : strcmp(tok, "@EMPTY") == 0 ?
		               empty_file : strcmp(tok, "@DIR") == 0 ? dir : tok;
	argv[argc] = NULL;
	ctl_exec(r, argv);
}

/* Runs args and requires success (exit 0, nothing on stderr). */
static void
ctl_ok(struct run *r, const char *args)
{
	ctl_run(r, args);
	cr_assert_eq(r->status, 0, "sekishoctl %s: exit %d: %s", args, r->status, r->err);
	cr_assert_str_empty(r->err, "sekishoctl %s: %s", args, r->err);
}

/* init, an admin alice, a user bob, and service lab (cap 1) administered by alice. */
static void
populate(void)
{
	struct run r;

	ctl_ok(&r, "init --root-password-file @PW");
	ctl_ok(&r, "user add alice --role admin --password-file @PW");
	ctl_ok(&r, "user add bob --role user --password-file @PW");
	ctl_ok(&r, "service add lab --url http://lab.example/ --max-usage 60 --max-interval 10 "
	           "--cap 1 --admin alice --guard 192.0.2.10:80");
}

static void
setup_populated(void)
{
	setup_conf();
	populate();
}

#define contains(hay, needle) \
	cr_assert(strstr((hay), (needle)) != NULL, "want \"%s\" in:\n%s", (needle), (hay))

Test(ctl, grant_status_and_revoke_follow_the_store, .init = setup_populated, .fini = teardown)
{
	struct run r;

	ctl_ok(&r, "grant bob lab 10.0.0.9");
	contains(r.out, "granted right 1: bob on lab from 10.0.0.9");
	contains(r.out, "(1/1 in use)");
	ctl_ok(&r, "status --json");
	contains(r.out, "\"live_rights\":1");
	contains(r.out, "\"ipfd\":{\"state\":\"disabled\"}");
	contains(r.out, "\"name\":\"lab\"");
	contains(r.out, "\"cap\":1,\"active\":1");
	ctl_ok(&r, "right list --json --service lab");
	contains(r.out, "{\"rights\":[{\"id\":1,\"user\":\"bob\",\"service\":\"lab\",\"ip\":\"10.0.0.9\"");
	ctl_ok(&r, "right revoke 1");
	contains(r.out, "revoked right 1 (bob on lab from 10.0.0.9)");
	ctl_ok(&r, "status --json");
	contains(r.out, "\"cap\":1,\"active\":0");
	ctl_ok(&r, "right list --json");
	cr_assert_str_eq(r.out, "{\"rights\":[]}\n");
	ctl_ok(&r, "audit --json --service lab");
	contains(r.out, "\"action\":\"right.revoke\"");
	contains(r.out, "\"action\":\"admit\"");
}

Test(ctl, session_is_still_an_alias_of_right, .init = setup_populated, .fini = teardown)
{
	struct run r;

	ctl_ok(&r, "grant bob lab 10.0.0.9");
	ctl_ok(&r, "session list --json");
	contains(r.out, "{\"sessions\":[{\"id\":1,\"user\":\"bob\"");
	ctl_ok(&r, "session list");
	contains(r.out, "bob");
	ctl_ok(&r, "session revoke 1");
	cr_assert_str_eq(r.out, "revoked right 1 (bob on lab from 10.0.0.9)\n");
	ctl_ok(&r, "right list --json");
	cr_assert_str_eq(r.out, "{\"rights\":[]}\n");
	ctl_run(&r, "session revoke 1");
	cr_assert_eq(r.status, 1);
	contains(r.err, "no live right 1");
	ctl_ok(&r, "audit --json --limit 1");
	contains(r.out, "\"action\":\"right.revoke\"");
}

Test(ctl, one_audit_name_per_act_whatever_the_interface, .init = setup_populated,
     .fini = teardown)
{
	struct run r;

	ctl_ok(&r, "grant bob lab 10.0.0.9");
	ctl_ok(&r, "right revoke 1");
	ctl_ok(&r, "service edit lab --disable");
	ctl_ok(&r, "audit --json --limit 3");
	/* the names the admin pages write for the same acts (tests/web/test_admin.mjs) */
	contains(r.out, "\"action\":\"service.disable\"");
	contains(r.out, "\"action\":\"right.revoke\"");
	contains(r.out, "\"action\":\"admit\"");
	cr_assert_null(strstr(r.out, "service.edit"), "a state change alone is not an edit");
}

/* The same commands on a fresh PostgreSQL database (db.url) instead of the file. */
static void
setup_pg(void)
{
	char url[512], text[768], err[256];

	setup();
	cr_assert_eq(pgc_createdb(getenv(PGC_ENV), url, sizeof url, err, sizeof err), 0, "%s", err);
	snprintf(text, sizeof text, "[db]\nurl = %s\n\n[ipfd]\nenabled = off\n", url);
	put(conf_file, text);
}

Test(ctl, init_migrate_grant_and_revoke_work_on_postgresql, .init = setup_pg, .fini = teardown)
{
	struct run r;
	char current[64];

	snprintf(current, sizeof current, "schema is up to date (version %d)",
	         pg_migrations[n_pg_migrations - 1].version);
	ctl_run(&r, "migrate");
	cr_assert_eq(r.status, 1, "an empty database is initialised, not migrated");
	contains(r.err, "sekishoctl init");
	populate();
	ctl_ok(&r, "migrate");
	contains(r.out, current);
	ctl_run(&r, "init --root-password-file @PW");
	cr_assert_eq(r.status, 1);
	contains(r.err, "is already initialised (3 users)");
	ctl_ok(&r, "grant bob lab 10.0.0.9");
	contains(r.out, "bob on lab from 10.0.0.9");
	contains(r.out, "(1/1 in use)");
	ctl_run(&r, "grant alice lab 10.0.0.8");
	cr_assert_eq(r.status, CTL_DENIED, "the cap holds on PostgreSQL");
	cr_assert_str_eq(r.err, "sekishoctl: cap reached: lab 1/1\n");
	ctl_ok(&r, "right revoke 1");
	contains(r.out, "revoked right 1 (bob on lab from 10.0.0.9)");
	ctl_ok(&r, "status --json");
	contains(r.out, "\"cap\":1,\"active\":0");
}

Test(ctl, grant_refuses_past_the_cap_with_one_line, .init = setup_populated, .fini = teardown)
{
	struct run r;

	ctl_ok(&r, "grant bob lab 10.0.0.9");
	ctl_run(&r, "grant alice lab 10.0.0.8");
	cr_assert_eq(r.status, CTL_DENIED);
	cr_assert_str_eq(r.err, "sekishoctl: cap reached: lab 1/1\n");
	cr_assert_str_empty(r.out);
	ctl_ok(&r, "right list --json");
	cr_assert_null(strstr(r.out, "alice"), "nothing written for a denied grant");
}

Test(ctl, access_lists_refuse_a_grant_before_the_cap_and_are_audited, .init = setup_populated,
     .fini = teardown)
{
	struct run r;

	ctl_ok(&r, "group add physics");
	ctl_ok(&r, "group join physics bob");
	ctl_ok(&r, "service restrict lab");
	ctl_run(&r, "grant bob lab 10.0.0.9");
	cr_assert_eq(r.status, CTL_DENIED);
	cr_assert_str_eq(r.err, "sekishoctl: grant: bob is not on the access list of lab\n");
	ctl_ok(&r, "right list --json");
	cr_assert_str_eq(r.out, "{\"rights\":[]}\n");
	ctl_ok(&r, "service allow lab --group physics");
	ctl_ok(&r, "service access lab --json");
	cr_assert_str_eq(r.out, "{\"list\":[{\"kind\":\"group\",\"name\":\"physics\"}],"
	                        "\"restricted\":true}\n");
	ctl_ok(&r, "grant bob lab 10.0.0.9");
	ctl_ok(&r, "group show physics");
	cr_assert_str_eq(r.out, "bob\n");
	ctl_ok(&r, "group leave physics bob");
	ctl_run(&r, "grant bob lab 10.0.0.9");
	cr_assert_eq(r.status, CTL_DENIED);
	ctl_run(&r, "service allow lab --user bob --group physics");
	cr_assert_eq(r.status, CTL_USAGE);
	ctl_run(&r, "service deny lab --user alice");
	cr_assert_eq(r.status, CTL_FAIL);
	cr_assert_str_eq(r.err, "sekishoctl: user alice is not on the access list of lab\n");
	ctl_run(&r, "group add physics");
	cr_assert_str_eq(r.err, "sekishoctl: group physics already exists\n");
	ctl_ok(&r, "service open lab");
	ctl_ok(&r, "group del physics");
	ctl_ok(&r, "group list --json");
	cr_assert_str_eq(r.out, "{\"groups\":[]}\n");
	ctl_ok(&r, "audit --json --limit 20");
	contains(r.out, "\"action\":\"deny\"");
	contains(r.out, "reason=forbidden");
	contains(r.out, "\"action\":\"acl.restrict\"");
	contains(r.out, "\"action\":\"acl.add\"");
	contains(r.out, "\"action\":\"group.join\"");
	contains(r.out, "\"action\":\"group.del\"");
}

Test(ctl, granting_again_replaces_the_users_right, .init = setup_populated, .fini = teardown)
{
	struct run r;

	ctl_ok(&r, "grant bob lab 10.0.0.9");
	ctl_ok(&r, "grant bob lab 10.0.0.10");
	contains(r.out, "granted right 2");
	contains(r.out, "replaced right 1");
	ctl_ok(&r, "right list --json");
	cr_assert_null(strstr(r.out, "10.0.0.9\""));
	contains(r.out, "\"ip\":\"10.0.0.10\"");
}

Test(ctl, disabling_a_user_or_service_ends_its_rights, .init = setup_populated, .fini = teardown)
{
	struct run r;

	ctl_ok(&r, "grant bob lab 10.0.0.9");
	ctl_ok(&r, "user disable bob");
	cr_assert_str_eq(r.out, "disabled user bob (1 rights ended)\n");
	ctl_run(&r, "grant bob lab 10.0.0.9");
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "sekishoctl: user bob is disabled\n");
	ctl_ok(&r, "user enable bob");
	ctl_ok(&r, "grant bob lab 10.0.0.9");
	ctl_ok(&r, "service edit lab --disable --cap 2");
	contains(r.out, "disabled: its rights ended");
	ctl_ok(&r, "service show lab --json");
	contains(r.out, "\"cap\":2,\"active\":0");
	contains(r.out, "\"enabled\":false");
	ctl_ok(&r, "service del lab");
	ctl_run(&r, "service show lab");
	cr_assert_str_eq(r.err, "sekishoctl: no such service: lab\n");
}

/* The fixture's config with db.guard_forbid and authd listening on 127.0.0.1:8080. */
static void
guard_forbid_set(const char *forbid)
{
	char text[512];

	snprintf(text, sizeof text, "[db]\npath = %s\nguard_forbid = %s\n\n[ipfd]\nenabled = off\n"
	         "\n[authd]\nlisten = 127.0.0.1:8080\n", db_file, forbid);
	put(conf_file, text);
}

Test(ctl, service_guards_follow_the_stores_rules, .init = setup_populated, .fini = teardown)
{
	struct run r;

	guard_forbid_set("10.0.1.0/24, 10.0.9.1");
	ctl_run(&r, "service add copy --url http://copy.example/ --max-usage 5 --max-interval 5 "
	            "--cap 1 --admin alice --guard 192.0.2.10");
	cr_assert_eq(r.status, 1, "%s", r.err);
	contains(r.err, "guard 192.0.2.10 overlaps 192.0.2.10:80, which service lab guards");
	ctl_run(&r, "service add copy --url http://copy.example/ --max-usage 5 --max-interval 5 "
	            "--cap 1 --admin alice --guard 10.0.1.7:80");
	cr_assert_eq(r.status, 1, "%s", r.err);
	contains(r.err, "guard 10.0.1.7:80 touches 10.0.1.0/24, which no service may guard");
	ctl_run(&r, "service add copy --url http://copy.example/ --max-usage 5 --max-interval 5 "
	            "--cap 1 --admin alice --guard 10.0.9.1:443");
	cr_assert_eq(r.status, 1, "the gateway itself: %s", r.err);
	ctl_run(&r, "service add copy --url http://copy.example/ --max-usage 5 --max-interval 5 "
	            "--cap 1 --admin alice --guard 127.0.0.1:8080");
	cr_assert_eq(r.status, 1, "authd's own endpoint: %s", r.err);
	contains(r.err, "touches 127.0.0.1:8080");
	ctl_run(&r, "service show copy");
	cr_assert_eq(r.status, 1, "nothing was added");
	ctl_ok(&r, "service add copy --url http://copy.example/ --max-usage 5 --max-interval 5 "
	           "--cap 1 --admin alice --guard 192.0.2.10:443");
	ctl_run(&r, "service edit copy --guard 192.0.2.10:80");
	cr_assert_eq(r.status, 1, "an edit onto lab's endpoint: %s", r.err);
	contains(r.err, "which service lab guards");
	ctl_ok(&r, "service show copy --json");
	contains(r.out, "\"guards\":[\"192.0.2.10:443\"]");
}

/* Switches the fixture's config to ipfd enabled, at a socket where nobody listens. */
static void
ipfd_on_but_absent(void)
{
	char text[512];

	snprintf(text, sizeof text, "[db]\npath = %s\n\n[ipfd]\nenabled = on\nsocket = %s/ipfd.sock\n"
	         "\n[authd]\nipfd_timeout_ms = 200\n", db_file, dir);
	put(conf_file, text);
}

Test(ctl, grant_fails_closed_when_ipfd_does_not_confirm, .init = setup_populated, .fini = teardown)
{
	struct run r;
	char want[256];

	ipfd_on_but_absent();
	ctl_run(&r, "grant bob lab 10.0.0.9");
	cr_assert_eq(r.status, 1);
	snprintf(want, sizeof want, "sekishoctl: ipfd did not confirm the admission (connect %s/ipfd.sock: "
	         "No such file or directory); right 1 rolled back in the store; ipfd drops its "
	         "address at its next sync\n", dir);
	cr_assert_str_eq(r.err, want);
	ctl_ok(&r, "right list --json");
	cr_assert_str_eq(r.out, "{\"rights\":[]}\n", "nobody is admitted without the firewall");
	ctl_ok(&r, "audit --limit 1 --json");
	contains(r.out, "\"action\":\"deny\"");
	contains(r.out, "reason=ipfd_unavailable");
}

/*
 * A stand-in for ipfd at dir/ipfd.sock that never answers an admission (its
 * reply is lost) and answers everything else; it writes what it was asked to
 * log, one "TYPE RIGHT" line per request, until two connections have ended.
 */
static pid_t
ipfd_losing_replies(const char *log)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ipc_req req;
	struct ipc_rep rep;
	int l, a;
	pid_t pid;

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/ipfd.sock", dir);
	cr_assert_geq(l = socket(AF_UNIX, SOCK_SEQPACKET, 0), 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(l, 4), 0);
	if ((pid = fork()) == 0) {
		FILE *f = fopen(log, "w");

		for (int conn = 0; f != NULL && conn < 2 && (a = accept(l, NULL, NULL)) >= 0; conn++) {
			while (recv(a, &req, sizeof req, 0) == (ssize_t)sizeof req) {
				fprintf(f, "%s %lld\n", req.type == IPC_ADMIT ? "admit" :
				        req.type == IPC_REVOKE ? "revoke" : "other", (long long)req.right_id);
				fflush(f);
				if (req.type == IPC_ADMIT)
					continue;
				ipc_rep_init(&rep, &req, IPC_OK, NULL);
				send(a, &rep, sizeof rep, 0);
			}
			close(a);
		}
		_exit(0);
	}
	close(l);
	return pid;
}

Test(ctl, grant_removes_the_address_when_ipfds_reply_is_lost, .init = setup_populated,
     .fini = teardown)
{
	struct run r;
	char log[128], seen[256];
	pid_t pid;

	ipfd_on_but_absent();
	snprintf(log, sizeof log, "%s/ipfd.log", dir);
	pid = ipfd_losing_replies(log);
	ctl_run(&r, "grant bob lab 10.0.0.9");
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	cr_assert_eq(r.status, 1, "%s", r.err);
	contains(r.err, "ipfd did not confirm the admission");
	contains(r.err, "right 1 rolled back\n");
	slurp(log, seen, sizeof seen);
	cr_assert_str_eq(seen, "admit 1\nrevoke 1\n", "the address ipfd may hold is asked away");
	ctl_ok(&r, "right list --json");
	cr_assert_str_eq(r.out, "{\"rights\":[]}\n");
}

Test(ctl, changes_stand_with_a_warning_when_ipfd_is_unreachable, .init = setup_populated,
     .fini = teardown)
{
	struct run r;

	ctl_ok(&r, "grant bob lab 10.0.0.9");
	ipfd_on_but_absent();
	ctl_run(&r, "right revoke 1");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "revoked right 1 (bob on lab from 10.0.0.9)\n");
	cr_assert_eq(strncmp(r.err, "sekishoctl: warning: ", 21), 0, "%s", r.err);
	contains(r.err, "ipfd catches up at its next sync\n");
	cr_assert_eq(strchr(r.err, '\n')[1], '\0', "one line: %s", r.err);
	ctl_run(&r, "status --json");
	cr_assert_eq(r.status, 0);
	contains(r.out, "\"ipfd\":{\"state\":\"unreachable\",\"error\":\"connect ");
	contains(r.out, "\"live_rights\":0");
}

Test(ctl, listings_have_text_and_json, .init = setup_populated, .fini = teardown)
{
	struct run r;

	ctl_ok(&r, "user list");
	contains(r.out, "NAME");
	contains(r.out, "alice");
	ctl_ok(&r, "user list --json");
	contains(r.out, "{\"name\":\"alice\",\"role\":\"admin\",\"disabled\":false,");
	ctl_ok(&r, "service list --json");
	contains(r.out, "\"guards\":[\"192.0.2.10:80\"]");
	ctl_ok(&r, "service list");
	contains(r.out, "0/1");
	ctl_ok(&r, "key list --json");
	contains(r.out, "\"state\":\"current\"");
	contains(r.out, "\"state\":\"next\"");
	cr_assert_null(strstr(r.out, "secret"), "secrets are never printed");
	ctl_ok(&r, "audit --user alice --limit 1 --json");
	contains(r.out, "\"action\":\"service.add\"");
	cr_assert_null(strstr(r.out, "user.add"), "limit 1");
}

Test(ctl, passwords_stay_out_of_argv_output_and_the_database, .init = setup_populated,
     .fini = teardown)
{
	struct run r;
	static char db[1 << 20];
	FILE *f;
	size_t n;

	ctl_run(&r, "user add carol --role user --password Tr0ub4dor&3-unique");
	cr_assert_eq(r.status, CTL_USAGE);
	contains(r.err, "unknown option --password");
	ctl_ok(&r, "user passwd bob --password-file @PW");
	cr_assert_null(strstr(r.out, "Tr0ub4dor"));
	cr_assert_not_null(f = fopen(db_file, "rb"));
	n = fread(db, 1, sizeof db, f);
	fclose(f);
	cr_assert_null(memmem(db, n, "Tr0ub4dor", 9), "the plain password is not stored");
}

Test(ctl, init_twice_is_refused, .init = setup_populated, .fini = teardown)
{
	struct run r;

	ctl_run(&r, "init --root-password-file @PW");
	cr_assert_eq(r.status, 1);
	contains(r.err, "is already initialised (3 users)");
}

Test(ctl, init_without_a_password_file_prints_a_working_one, .init = setup_conf, .fini = teardown)
{
	struct run r;
	struct store *s;
	struct store_user u;
	struct conf_db db;
	char pw[64], err[256];
	const char *p;

	ctl_ok(&r, "init --root-name admin0");
	cr_assert_not_null(p = strstr(r.out, "password of admin0: "));
	cr_assert_eq(sscanf(p, "password of admin0: %63s", pw), 1);
	cr_assert_eq(strlen(pw), 20);
	memset(&db, 0, sizeof db);
	snprintf(db.path, sizeof db.path, "%s", db_file);
	db.busy_timeout_ms = 5000;
	cr_assert_not_null(s = store_open(&db, 0, err, sizeof err), "%s", err);
	cr_assert_eq(store_user_get(s, "admin0", &u), STORE_OK);
	cr_assert_eq(u.role, ROLE_ROOT);
	cr_assert_eq(passwd_verify(pw, u.pwhash, err, sizeof err), 1);
	store_close(s);
}

/* The fixture's database, opened directly. */
static struct store *
store_of_fixture(void)
{
	struct conf_db db;
	struct store *s;
	char err[256];

	memset(&db, 0, sizeof db);
	snprintf(db.path, sizeof db.path, "%s", db_file);
	db.busy_timeout_ms = 5000;
	cr_assert_not_null(s = store_open(&db, 0, err, sizeof err), "%s", err);
	return s;
}

/* A rule broken through the store directly and through the CLI: the same words. */
static void
same_words(struct store *s, const struct store_service *svc, const char *args)
{
	char err[256] = "";
	int64_t id;
	struct run r;

	cr_assert_eq(store_service_add(s, svc, ROLE_ROOT, 1, &id, err, sizeof err), STORE_INVALID);
	cr_assert_str_not_empty(err);
	ctl_run(&r, args);
	cr_assert_neq(r.status, 0);
	contains(r.err, err);
}

Test(ctl, service_rules_speak_with_the_stores_words, .init = setup_populated, .fini = teardown)
{
	struct store_service svc;
	struct store_user bob, alice;
	struct store *s = store_of_fixture();

	cr_assert_eq(store_user_get(s, "bob", &bob), STORE_OK);
	cr_assert_eq(store_user_get(s, "alice", &alice), STORE_OK);
	memset(&svc, 0, sizeof svc);
	snprintf(svc.name, sizeof svc.name, "x");
	snprintf(svc.url, sizeof svc.url, "http://x/");
	svc.max_usage_min = svc.max_interval_min = 1;
	svc.admin_id = alice.id;
	svc.cap = 0;
	same_words(s, &svc, "service add x --url http://x/ --max-usage 1 --max-interval 1 --cap 0 "
	                    "--admin alice");
	svc.cap = 1;
	svc.max_usage_min = 366 * 24 * 60 + 1;
	same_words(s, &svc, "service add x --url http://x/ --max-usage 527041 --max-interval 1 "
	                    "--cap 1 --admin alice");
	svc.max_usage_min = 1;
	svc.max_interval_min = 0;
	same_words(s, &svc, "service add x --url http://x/ --max-usage 1 --max-interval 0 "
	                    "--cap 1 --admin alice");
	svc.max_interval_min = 1;
	svc.admin_id = bob.id;
	same_words(s, &svc, "service add x --url http://x/ --max-usage 1 --max-interval 1 "
	                    "--cap 1 --admin bob");
	store_close(s);
}

Test(ctl, a_missing_config_file_is_one_line, .init = setup, .fini = teardown)
{
	struct run r;
	char want[256];

	ctl_run(&r, "status");
	cr_assert_eq(r.status, 1);
	snprintf(want, sizeof want, "sekishoctl: %s: No such file or directory\n", conf_file);
	cr_assert_str_eq(r.err, want);
}

Test(ctl, a_bad_config_names_file_and_line, .init = setup, .fini = teardown)
{
	struct run r;
	char want[256];

	put(conf_file, "[db]\npath = /tmp/x.db\ncolour = blue\n");
	ctl_run(&r, "status");
	cr_assert_eq(r.status, 1);
	snprintf(want, sizeof want, "sekishoctl: %s:3: unknown key \"colour\" in [db]\n", conf_file);
	cr_assert_str_eq(r.err, want);
}

struct bad_cmd {
	char args[200];
	int status;
	char err[160];
};

ParameterizedTestParameters(ctl, mistakes_exit_non_zero_with_one_clear_line)
{
	static struct bad_cmd cases[] = {
		{ "user add carol --role user --password-file /nonexistent/pw", 1,
		  "user add: password file /nonexistent/pw: No such file or directory" },
		{ "user add carol --role user --password-file @EMPTY", 1, "empty first line" },
		{ "user add carol --role king --password-file @PW", 2,
		  "--role: \"king\" is not one of user, admin, root" },
		{ "user add carol --password-file @PW", 2, "user add: --role is required" },
		{ "user add carol --role user", 2, "user add: --password-file is required" },
		{ "user add alice --role user --password-file @PW", 1, "user alice already exists" },
		{ "user add bad/name --role user --password-file @PW", 1, "invalid user name \"bad/name\"" },
		{ "user passwd nobody --password-file @PW", 1, "no such user: nobody" },
		{ "user del root", 1, "user del: " },
		{ "user disable nobody", 1, "no such user: nobody" },
		{ "grant nobody lab 10.0.0.1", 1, "no such user: nobody" },
		{ "grant bob nolab 10.0.0.1", 1, "no such service: nolab" },
		{ "grant bob lab 10.0.0", 2, "grant: \"10.0.0\" is not an IP address" },
		{ "grant bob lab", 2, "missing argument (usage: grant USER SERVICE IP)" },
		{ "grant bob lab 10.0.0.1 extra", 2, "unexpected argument \"extra\"" },
		{ "service add x --url ftp://x --max-usage 1 --max-interval 1 --cap 1 --admin alice", 2,
		  "--url: URL must start with http:// or https://: \"ftp://x\"" },
		{ "service add x --url http://x --max-usage 1 --max-interval 1 --cap 0 --admin alice", 2,
		  "--cap: cap must be a whole number from 1 to 1000000" },
		{ "service add x --url http://x --max-usage 1 --max-interval 1 --cap 2.5 --admin alice", 2,
		  "--cap: \"2.5\" is not an integer" },
		{ "service add x --url http://x --max-usage 1 --max-interval 1 --cap 99999999999999999999 "
		  "--admin alice", 2, "--cap: \"99999999999999999999\" is not an integer" },
		{ "service add x --url http://x --max-usage soon --max-interval 1 --cap 1 --admin alice", 2,
		  "--max-usage: \"soon\" is not an integer" },
		{ "service add x --url http://x --max-usage 1 --max-interval 1 --admin alice", 2,
		  "service add: --cap is required" },
		{ "service add x --url http://x --max-usage 1 --max-interval 1 --cap 1 --admin bob", 1,
		  "user bob may not administer a service: role user, needs admin or root" },
		{ "service add x --url http://x --max-usage 1 --max-interval 1 --cap 1 --admin nobody", 1,
		  "no such user: nobody" },
		{ "service add lab --url http://x --max-usage 1 --max-interval 1 --cap 1 --admin alice", 1,
		  "service lab already exists" },
		{ "service add x --url http://x --max-usage 1 --max-interval 1 --cap 1 --admin alice "
		  "--guard 10.0.0.1:0", 2, "--guard: bad port \"0\"" },
		{ "service add x --url http://x --max-usage 1 --max-interval 1 --cap 1 --admin alice --frob", 2,
		  "service add: unknown option --frob" },
		{ "service add x --url", 2, "option --url needs a value" },
		{ "service add x --url http://a --url http://b", 2, "option --url given twice" },
		{ "service edit lab", 2, "service edit: nothing to change" },
		{ "service edit lab --enable --disable", 2, "--enable and --disable contradict each other" },
		{ "service edit lab --cap -1", 2, "--cap: cap must be a whole number from 1 to 1000000" },
		{ "service edit lab --max-usage 527041", 2,
		  "--max-usage: max usage time must be whole minutes from 1 to 527040 (366 days)" },
		{ "right revoke 999", 1, "no live right 999" },
		{ "right revoke abc", 2, "right revoke: \"abc\" is not a right id" },
		{ "right list --service nolab", 1, "no such service: nolab" },
		{ "user list --json=yes", 2, "option --json takes no value" },
		{ "audit --limit 0", 2, "--limit: \"0\" is not an integer in 1..1000" },
		{ "frob", 2, "unknown command \"frob\"" },
		{ "user", 2, "user: missing subcommand" },
		{ "user frob", 2, "unknown command \"user frob\"" },
	};
	return cr_make_param_array(struct bad_cmd, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_cmd *c, ctl, mistakes_exit_non_zero_with_one_clear_line,
                  .init = setup_populated, .fini = teardown)
{
	struct run r;
	char *nl;

	ctl_run(&r, c->args);
	cr_assert_eq(r.status, c->status, "sekishoctl %s: exit %d (%s)", c->args, r.status, r.err);
	cr_assert_eq(strncmp(r.err, "sekishoctl: ", 12), 0, "%s", r.err);
	contains(r.err, c->err);
	cr_assert_not_null(nl = strchr(r.err, '\n'));
	cr_assert_eq(nl[1], '\0', "exactly one line: %s", r.err);
	cr_assert_str_empty(r.out);
}

Test(ctl, global_options_come_before_the_command, .init = setup_conf, .fini = teardown)
{
	static struct run r;
	char bin[PATH_MAX];

	ctl_path(bin, sizeof bin);
	ctl_exec(&r, (char *[]){ bin, NULL });
	cr_assert_eq(r.status, CTL_USAGE);
	cr_assert_str_eq(r.err, "sekishoctl: no command (try sekishoctl -h)\n");
	ctl_exec(&r, (char *[]){ bin, "-x", "status", NULL });
	cr_assert_eq(r.status, CTL_USAGE);
	cr_assert_str_eq(r.err, "sekishoctl: unknown option -x (try sekishoctl -h)\n");
	ctl_exec(&r, (char *[]){ bin, "-f", NULL });
	cr_assert_eq(r.status, CTL_USAGE);
	cr_assert_str_eq(r.err, "sekishoctl: option -f needs a file\n");
	ctl_exec(&r, (char *[]){ bin, "-h", NULL });
	cr_assert_eq(r.status, 0);
	contains(r.out, "grant USER SERVICE IP");
	contains(r.out, "service add NAME --url URL");
}

Test(ctl_json, nests_separates_and_escapes)
{
	struct out o;

	ctl_out_init(&o, 1);
	ctl_json_obj(&o, NULL);
	ctl_json_str(&o, "s", "q\"b\\n\nt\x01");
	ctl_json_int(&o, "n", -42);
	ctl_json_bool(&o, "t", 1);
	ctl_json_arr(&o, "a");
	ctl_json_int(&o, NULL, 1);
	ctl_json_obj(&o, NULL);
	ctl_json_end(&o, '}');
	ctl_json_str(&o, NULL, "");
	ctl_json_end(&o, ']');
	ctl_json_arr(&o, "e");
	ctl_json_end(&o, ']');
	ctl_json_end(&o, '}');
	cr_assert_str_eq(o.b.p, "{\"s\":\"q\\\"b\\\\n\\nt\\u0001\",\"n\":-42,\"t\":true,"
	                        "\"a\":[1,{},\"\"],\"e\":[]}");
	buf_free(&o.b);
}

static const struct ctl_cmd test_cmd = {
	"service", "edit", NULL, 1, 1, "url= guard* enable json", 1, "service edit NAME ..."
};

Test(ctl_args, values_flags_and_repeats, .init = cr_redirect_stderr)
{
	static struct ctl c;
	char *argv[] = { "lab", "--url=http://x", "--guard", "10.0.0.1", "--json", "--guard",
	                 "10.0.0.2:80", NULL };
	const char *g[4];

	cr_assert_eq(ctl_parse_args(&c, &test_cmd, 7, argv), CTL_OK);
	cr_assert_eq(c.npos, 1);
	cr_assert_str_eq(c.pos[0], "lab");
	cr_assert_str_eq(ctl_opt(&c, "url"), "http://x");
	cr_assert(ctl_flag(&c, "json"));
	cr_assert_not(ctl_flag(&c, "enable"));
	cr_assert_null(ctl_opt(&c, "enable"));
	cr_assert_eq(ctl_opt_all(&c, "guard", g, 4), 2);
	cr_assert_str_eq(g[0], "10.0.0.1");
	cr_assert_str_eq(g[1], "10.0.0.2:80");
}

struct args_case {
	char words[4][24];
	int n;
	char err[80];
};

ParameterizedTestParameters(ctl_args, mistakes_are_usage_errors)
{
	static struct args_case cases[] = {
		{ { "lab", "--nope" }, 2, "service edit: unknown option --nope" },
		{ { "lab", "-n" }, 2, "service edit: unknown option -n" },
		{ { "lab", "--url" }, 2, "option --url needs a value" },
		{ { "lab", "--url", "--json" }, 3, "option --url needs a value" },
		{ { "lab", "--json=1" }, 2, "option --json takes no value" },
		{ { "lab", "--json", "--json" }, 3, "option --json given twice" },
		{ { "lab", "other" }, 2, "unexpected argument \"other\"" },
		{ { "--json" }, 1, "missing argument" },
		{ { "lab", "--" }, 2, "unknown option --" },
	};
	return cr_make_param_array(struct args_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct args_case *a, ctl_args, mistakes_are_usage_errors, .init = cr_redirect_stderr)
{
	static struct ctl c;
	char *argv[5] = { NULL };
	char line[256] = "";

	for (int i = 0; i < a->n; i++)
		argv[i] = a->words[i];
	cr_assert_eq(ctl_parse_args(&c, &test_cmd, a->n, argv), CTL_USAGE);
	fflush(stderr);
	cr_assert_not_null(fgets(line, sizeof line, cr_get_redirected_stderr()));
	contains(line, a->err);
}

Test(ctl_args, integers_are_checked, .init = cr_redirect_stderr)
{
	static struct ctl c;
	long long v = 7;

	c.nopt = 1;
	strcpy(c.opt[0].name, "cap");
	c.opt[0].val = "12";
	cr_assert_eq(ctl_opt_int(&c, "cap", 1, 100, &v), 0);
	cr_assert_eq(v, 12);
	cr_assert_eq(ctl_opt_int(&c, "limit", 1, 100, &v), 1, "absent");
	cr_assert_eq(v, 12);
	c.opt[0].val = "1e2";
	cr_assert_eq(ctl_opt_int(&c, "cap", 1, 100, &v), -1);
}

Test(ctl, service_queue_settings_are_bounded_stored_shown_and_audited, .init = setup_populated,
     .fini = teardown)
{
	static const char *const bad[] = {
		"service edit lab --queue maybe", "service edit lab --queue-max -1",
		"service edit lab --queue-max 1000001", "service edit lab --queue-lapse 9",
		"service edit lab --queue-lapse 86401", "service edit lab --rate 100001",
		"service edit lab --rate 5x",
	};
	struct run r;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ctl_run(&r, bad[i]);
		cr_assert_eq(r.status, 2, "%s: exit %d", bad[i], r.status);
		cr_assert_neq(r.err[0], '\0', "%s: says why", bad[i]);
	}
	ctl_ok(&r, "service show lab --json");
	contains(r.out, "\"queue\":\"default\"");
	contains(r.out, "\"rate_per_min\":0");
	ctl_ok(&r, "service edit lab --queue on --queue-max 40 --queue-lapse 90 --rate 12");
	ctl_ok(&r, "service show lab");
	contains(r.out, "waiting room:  on (40 places, lapse 90 s");
	contains(r.out, "rate:          12 new users a minute");
	ctl_ok(&r, "status --json");
	contains(r.out, "\"queue\":\"on\",\"queue_max\":40,\"queue_lapse_s\":90,\"rate_per_min\":12");
	ctl_ok(&r, "audit --service lab");
	contains(r.out, "service.queue");
	contains(r.out, "queue=on queue_max=40 queue_lapse_s=90 rate_per_min=12");
	ctl_ok(&r, "service add gpu --url http://gpu.example/ --max-usage 60 --max-interval 10 "
	           "--cap 2 --admin alice --queue off --rate 3");
	ctl_ok(&r, "service show gpu --json");
	contains(r.out, "\"queue\":\"off\",\"queue_max\":0,\"queue_lapse_s\":0,\"rate_per_min\":3");
	ctl_run(&r, "service add gpu2 --url http://gpu.example/ --max-usage 60 --max-interval 10 "
	            "--cap 2 --admin alice --rate -1");
	cr_assert_eq(r.status, 2);
	ctl_run(&r, "service show gpu2");
	cr_assert_neq(r.status, 0, "a refused add writes nothing");
}
