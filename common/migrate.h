#ifndef SEKISHO_MIGRATE_H
#define SEKISHO_MIGRATE_H

/*
 * Schema migrations embedded by sql/embed.sh: SQLite's from sql/NNN_name.sql
 * (build/gen/migrations.c), PostgreSQL's from sql/pg/NNN_name.sql
 * (build/gen/pg_migrations.c). Each list is numbered 1..N on its own.
 */

struct migration {
	int version;          /* NNN: applying it brings the schema to this version */
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const int n_migrations;
extern const struct migration pg_migrations[];
extern const int n_pg_migrations;

#endif
