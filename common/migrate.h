#ifndef SEKISHO_MIGRATE_H
#define SEKISHO_MIGRATE_H

/* Schema migrations embedded from sql/NNN_name.sql (build/gen/migrations.c). */

struct migration {
	int version;          /* NNN: applying it brings the schema to this version */
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const int n_migrations;

#endif
