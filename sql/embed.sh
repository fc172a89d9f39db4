#!/bin/sh
# Turns sql/NNN_name.sql files into a C table of migrations (version, name, text).
# Usage: sh sql/embed.sh sql/001_init.sql ... > migrations.c
set -eu
echo '/* Generated from the sql/NNN_name.sql files by sql/embed.sh. */'
echo '#include "migrate.h"'
echo 'const struct migration migrations[] = {'
for f in "$@"; do
	base=$(basename "$f" .sql)
	ver=$(echo "$base" | sed 's/^0*\([0-9][0-9]*\)_.*/\1/')
	printf '\t{ %s, "%s",\n' "$ver" "$base"
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t  "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo '};'
echo 'const int n_migrations = sizeof migrations / sizeof migrations[0];'
