#ifndef SEKISHO_FUZZ_H
#define SEKISHO_FUZZ_H

/*
 * Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c). Each target feeds
 * the input to one parser of untrusted bytes and checks the parser's
 * contract; a broken contract aborts, which libFuzzer records as a crash.
 */

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points (each target defines the first, some the second). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * data up to its first NUL (as a C string from a header would be) in a
 * heap block of exactly its length + 1, so a parser that reads past the
 * string's end is caught by ASan. Aborts when out of memory; free() it.
 */
char *fuzz_str(const uint8_t *data, size_t size);

/*
 * Splits s in place at each sep into at most max fields (the last keeps the
 * rest); an empty field becomes NULL ("absent"). Returns the fields found;
 * those past it are set to NULL.
 */
int fuzz_fields(char *s, char sep, const char **f, int max);

/* Prints where the contract broke and aborts. */
void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));
#define fuzz_assert(c) ((c) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #c))

#endif
