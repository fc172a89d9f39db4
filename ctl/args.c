#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "ctl.h"

static void
ctl_vline(const char *prefix, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof msg, fmt, ap);
	/* Exactly one line, whatever the message holds. */
	for (char *p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "sekishoctl: %s%s\n", prefix, msg);
}

int
ctl_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vline("", fmt, ap);
	va_end(ap);
	return CTL_FAIL;
}

int
ctl_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vline("", fmt, ap);
	va_end(ap);
	return CTL_USAGE;
}

void
ctl_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vline("warning: ", fmt, ap);
	va_end(ap);
}

/*
 * Finds --name in spec. Returns the suffix that follows the name in spec
 * ('=' value, '*' repeated value, ' ' or '\0' flag), or -1 when unknown.
 */
static int
spec_find(const char *spec, const char *name, size_t len)
{
	const char *p = spec;

	while (*p != '\0') {
		size_t tok = strcspn(p, " ");
		size_t nlen = tok;

		if (nlen > 0 && (p[nlen - 1] == '=' || p[nlen - 1] == '*'))
			nlen--;
		if (nlen == len && strncmp(p, name, len) == 0)
			return nlen < tok ? p[nlen] : ' ';
		p += tok;
		p += strspn(p, " ");
	}
	return -1;
}

static int
ctl_add_opt(struct ctl *c, const char *name, size_t len, const char *val, int kind)
{
	for (int i = 0; i < c->nopt && kind != '*'; i++)
		if (strlen(c->opt[i].name) == len && strncmp(c->opt[i].name, name, len) == 0)
			return ctl_usage("option --%.*s given twice", (int)len, name);
	if (c->nopt == CTL_OPT_MAX)
		return ctl_usage("too many options");
	snprintf(c->opt[c->nopt].name, sizeof c->opt[c->nopt].name, "%.*s", (int)len, name);
	c->opt[c->nopt].val = val;
	c->nopt++;
	return CTL_OK;
}

/* One "--name", "--name=value" or "--name value" at argv[*i]; argv is left as it is. */
static int
ctl_parse_opt(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv, int *i)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	int kind = len < sizeof c->opt[0].name ? spec_find(cmd->spec, name, len) : -1;

	if (kind == -1 || len == 0)
		return ctl_usage("%s%s%s: unknown option --%.*s (try sekishoctl -h)", cmd->group,
		                 cmd->name ? " " : "", cmd->name ? cmd->name : "", (int)len, name);
	if (kind == ' ') {
		if (eq != NULL)
			return ctl_usage("option --%.*s takes no value", (int)len, name);
		return ctl_add_opt(c, name, len, NULL, kind);
	}
	if (eq != NULL)
		return ctl_add_opt(c, name, len, eq + 1, kind);
	if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0)
		return ctl_usage("option --%.*s needs a value", (int)len, name);
	(*i)++;
	return ctl_add_opt(c, name, len, argv[*i], kind);
}

int
ctl_parse_args(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0) {
			if ((rc = ctl_parse_opt(c, cmd, argc, argv, &i)) != CTL_OK)
				return rc;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return ctl_usage("%s%s%s: unknown option %s (try sekishoctl -h)", cmd->group,
			                 cmd->name ? " " : "", cmd->name ? cmd->name : "", argv[i]);
		} else if (c->npos == cmd->pos_max) {
			return ctl_usage("unexpected argument \"%s\" (usage: %s)", argv[i], cmd->usage);
		} else {
			c->pos[c->npos++] = argv[i];
		}
	}
	if (c->npos < cmd->pos_min)
		return ctl_usage("missing argument (usage: %s)", cmd->usage);
	return CTL_OK;
}

const char *
ctl_opt(const struct ctl *c, const char *name)
{
	for (int i = c->nopt - 1; i >= 0; i--)
		if (c->opt[i].val != NULL && strcmp(c->opt[i].name, name) == 0)
			return c->opt[i].val;
	return NULL;
}

int
ctl_flag(const struct ctl *c, const char *name)
{
	for (int i = 0; i < c->nopt; i++)
		if (c->opt[i].val == NULL && strcmp(c->opt[i].name, name) == 0)
			return 1;
	return 0;
}

int
ctl_opt_all(const struct ctl *c, const char *name, const char **vals, int max)
{
	int n = 0;

	for (int i = 0; i < c->nopt; i++)
		if (c->opt[i].val != NULL && strcmp(c->opt[i].name, name) == 0) {
			if (n < max)
				vals[n] = c->opt[i].val;
			n++;
		}
	return n;
}

int
ctl_opt_int(const struct ctl *c, const char *name, long long min, long long max, long long *out)
{
	const char *v = ctl_opt(c, name);

	if (v == NULL)
		return 1;
	if (parse_int(v, min, max, out) == -1) {
		ctl_usage("--%s: \"%s\" is not an integer in %lld..%lld", name, v, min, max);
		return -1;
	}
	return 0;
}
