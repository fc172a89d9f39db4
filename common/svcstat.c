#include <string.h>

#include "svcstat.h"

void
svcstat_init(struct svcstat *t, int cols)
{
	memset(t, 0, sizeof *t);
	t->cols = cols > SVCSTAT_COLS ? SVCSTAT_COLS : cols;
}

/* FNV-1a: where a name's probe starts. */
static unsigned
name_hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* The row of name: found, or claimed when free; the _other row when the table is full. */
static struct svcstat_row *
row_of(struct svcstat *t, const char *name)
{
	unsigned h = name_hash(name);
	int free_state;

	if (strlen(name) > NAME_MAX_LEN)
		return &t->other;
	for (unsigned i = 0; i < SVCSTAT_ROWS; i++) {
		struct svcstat_row *r = &t->rows[(h + i) % SVCSTAT_ROWS];

		free_state = 0;
		if (atomic_compare_exchange_strong(&r->state, &free_state, 1)) {
			memcpy(r->name, name, strlen(name) + 1);
			atomic_store(&r->state, 2);
			return r;
		}
		/* Another thread is naming this row: wait for the name (a few stores). */
		while (atomic_load(&r->state) == 1)
			;
		if (strcmp(r->name, name) == 0)
			return r;
	}
	return &t->other;
}

void
svcstat_add(struct svcstat *t, const char *service, int col)
{
	if (col < 0 || col >= t->cols || service == NULL || service[0] == '\0')
		return;
	atomic_fetch_add_explicit(&row_of(t, service)->n[col], 1, memory_order_relaxed);
}

static void
render_row(struct svcstat *t, struct svcstat_row *r, const char *svc, struct buf *b,
           const char *name, const char *label, const char *const *col_names)
{
	for (int c = 0; c < t->cols; c++)
		buf_printf(b, "%s{service=\"%s\",%s=\"%s\"} %llu\n", name, svc, label, col_names[c],
		           atomic_load_explicit(&r->n[c], memory_order_relaxed));
}

void
svcstat_render(struct svcstat *t, struct buf *b, const char *name, const char *help,
               const char *label, const char *const *col_names)
{
	unsigned long long other = 0;

	buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (int i = 0; i < SVCSTAT_ROWS; i++)
		if (atomic_load(&t->rows[i].state) == 2)
			render_row(t, &t->rows[i], t->rows[i].name, b, name, label, col_names);
	for (int c = 0; c < t->cols; c++)
		other += atomic_load(&t->other.n[c]);
	if (other > 0)
		render_row(t, &t->other, SVCSTAT_OTHER, b, name, label, col_names);
}
