#!/bin/sh
# Turns sql/NNN_name.sql files into a C table of migrations (version, name, text).
# Usage: sh sql/embed.sh [-n TABLE] sql/001_init.sql ... > migrations.c
# TABLE (default "migrations") names the array; n_TABLE holds its length.
set -eu
table=migrations
if [ "${1:-}" = "-n" ]; then
	table=$2
	shift 2
fi
echo '/* Generated from the sql/NNN_name.sql files by sql/embed.sh. */'
echo '#include "migrate.h"'
echo "const struct migration $table[] = {"
for f in "$@"; do
	base=$(basename "$f" .sql)
	ver=$(echo "$base" | sed 's/^0*\([0-9][0-9]*\)_.*/\1/')
	printf '\t{ %s, "%s",\n' "$ver" "$base"
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t  "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo '};'
echo "const int n_$table = sizeof $table / sizeof $table[0];"
