# sekisho — plain Makefile. User CFLAGS/LDFLAGS add to the required flags.
#   make            build/authd build/ipfd build/cid build/sekishoctl
#   make check      deps, build, every test (unit, network, browser, fuzz seeds)
#   make asan       the same tests under ASan+UBSan (alias: make check SANITIZE=1)
#   make bench      benchmarks, results under bench/results/
#   make demo       the whole system on the embedded default
#   make fuzz       libFuzzer targets (tests/fuzz/), FUZZ_SECONDS (60) each
#   make fuzz-regress  each fuzz seed once (part of make check)

CC      ?= cc
CFLAGS  ?= -O2 -g
PKGS     = sqlite3 libcrypto inih libpq
HTTPPKGS = libmicrohttpd gnutls
NFTPKGS  = libnftnl libmnl

ifeq ($(SANITIZE),1)
B        = build/asan
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# ASan intercepts crypt_r and finds the real one at start only: libcrypt
# loaded later by a PAM module (pam_unix) would leave it NULL. Load it at start.
SANLIBS  = -Wl,--no-as-needed -lcrypt -Wl,--as-needed
else
B        = build
SANFLAGS =
SANLIBS  =
endif
O        = $(B)/obj

REQCFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
            -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -fstack-protector-strong -D_FORTIFY_SOURCE=2 -MMD -MP \
            -Icommon -I$(B)/gen $(SANFLAGS)
PKGCFLAGS = $(shell pkg-config --cflags $(PKGS) $(HTTPPKGS) $(NFTPKGS) 2>/dev/null)
ALLCFLAGS = $(REQCFLAGS) $(PKGCFLAGS) $(CFLAGS)
REQLDFLAGS = -Wl,--as-needed -Wl,-z,relro,-z,now -pthread $(SANFLAGS) $(LDFLAGS)
LIBS      = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpam -lldap -llber $(SANLIBS)
HTTPLIBS  = $(shell pkg-config --libs $(HTTPPKGS) 2>/dev/null)
NFTLIBS   = $(shell pkg-config --libs $(NFTPKGS) 2>/dev/null)

COMMON_SRC = $(wildcard common/*.c)
COMMON_OBJ = $(patsubst %.c,$(O)/%.o,$(COMMON_SRC)) $(O)/gen/migrations.o $(O)/gen/pg_migrations.o
PG_SQL     = $(sort $(wildcard sql/pg/[0-9]*.sql))
AUTHD_OBJ  = $(patsubst %.c,$(O)/%.o,$(wildcard authd/*.c))
IPFD_OBJ   = $(patsubst %.c,$(O)/%.o,$(wildcard ipfd/*.c))
CID_OBJ    = $(patsubst %.c,$(O)/%.o,$(wildcard cid/*.c))
CTL_OBJ    = $(patsubst %.c,$(O)/%.o,$(wildcard ctl/*.c))
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BIN   = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
TLIB_OBJ   = $(patsubst %.c,$(O)/%.o,$(wildcard tests/lib/*.c))
BENCH_BIN  = $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))
TOOL_BIN   = $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(wildcard tests/tools/*.c))
BINS       = $(B)/authd $(B)/ipfd $(B)/cid $(B)/sekishoctl

# Each program but its main.c, as an archive that unit tests and benchmarks link.
PROG_LIBS  = $(B)/libauthd.a $(B)/libipfd.a $(B)/libcid.a $(B)/libctl.a

all: $(BINS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(B)/gen/migrations.c: sql/embed.sh $(sort $(wildcard sql/[0-9]*.sql))
	@mkdir -p $(dir $@)
	sh sql/embed.sh $(sort $(wildcard sql/[0-9]*.sql)) > $@.tmp && mv $@.tmp $@

$(B)/gen/pg_migrations.c: sql/embed.sh $(PG_SQL)
	@mkdir -p $(dir $@)
	sh sql/embed.sh -n pg_migrations $(PG_SQL) > $@.tmp && mv $@.tmp $@

$(O)/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(B)/libcommon.a: $(COMMON_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/libauthd.a: $(filter-out %/main.o,$(AUTHD_OBJ))
$(B)/libipfd.a:  $(filter-out %/main.o,$(IPFD_OBJ))
$(B)/libcid.a:   $(filter-out %/main.o,$(CID_OBJ))
$(B)/libctl.a:   $(filter-out %/main.o,$(CTL_OBJ))
$(PROG_LIBS):
	rm -f $@ && ar rcs $@ $^

$(B)/authd: $(AUTHD_OBJ) $(B)/libcommon.a
	$(CC) -o $@ $^ $(REQLDFLAGS) $(HTTPLIBS) $(LIBS)

$(B)/cid: $(CID_OBJ) $(B)/libcommon.a
	$(CC) -o $@ $^ $(REQLDFLAGS) $(HTTPLIBS) $(LIBS)

$(B)/ipfd: $(IPFD_OBJ) $(B)/libcommon.a
	$(CC) -o $@ $^ $(REQLDFLAGS) $(NFTLIBS) $(LIBS)

$(B)/sekishoctl: $(CTL_OBJ) $(B)/libcommon.a
	$(CC) -o $@ $^ $(REQLDFLAGS) $(LIBS)

# Each unit test links the test helpers, the archive of the program it tests
# (the table below; tests of common/ code link none) and libcommon.a, so two
# programs may each have a global of the same name.
T_ = $(B)/tests/test_
$(T_)admin_form $(T_)admit $(T_)clientip $(T_)entry $(T_)formcache $(T_)portal $(T_)sweeper $(T_)throttle: $(B)/libauthd.a
$(T_)mirror $(T_)nft:                                                $(B)/libipfd.a
$(T_)cache $(T_)check $(T_)spoe:                                     $(B)/libcid.a
$(T_)ctl:                                                            $(B)/libctl.a

$(B)/tests/%: tests/unit/%.c $(TLIB_OBJ) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Itests/lib -o $@ $(filter %.c %.o,$^) $(filter-out %/libcommon.a,$(filter %.a,$^)) \
	    $(B)/libcommon.a $(REQLDFLAGS) $(HTTPLIBS) $(NFTLIBS) $(LIBS) -lcriterion

# The store contract suite runs once per backend: each test_store_contract_X
# names its backend and links the one suite.
CONTRACT_BIN = $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_store_contract_*.c))
$(CONTRACT_BIN): tests/unit/store_contract.c tests/unit/store_contract_acl.c \
                  tests/unit/store_contract_queue.c tests/unit/store_contract_rate.c \
                  tests/unit/store_contract_turn.c \
                  tests/unit/store_contract.h

# Helper programs for the system tests and benchmarks (e.g. mkcode).
$(B)/tests/tools/pgcluster: $(O)/tests/lib/pgcluster.o
$(B)/tests/tools/%: tests/tools/%.c $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $(filter %.c %.o %.a,$^) $(REQLDFLAGS) $(LIBS)

$(B)/bench/bench_store: $(O)/tests/lib/pgcluster.o
# The load driver speaks HTTP through libcurl's multi interface.
$(B)/bench/flood: bench/flood.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $< $(shell pkg-config --libs libcurl) -lm
$(B)/bench/%: bench/%.c $(B)/libauthd.a $(B)/libcid.a $(B)/libipfd.a $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $(filter %.c %.o %.a,$^) $(REQLDFLAGS) $(HTTPLIBS) $(NFTLIBS) $(LIBS)

deps:
	@sh .ci/deps.sh

unit: $(BINS) $(UNIT_BIN)
	@sh tests/run-unit.sh $(B)

# Benchmark programs the system tests also run: the load driver (test_queue)
# and the service of known capacity (test_probe).
TEST_BENCH = $(B)/bench/flood $(B)/bench/capsvc

check: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(TOOL_BIN) $(TEST_BENCH)
	@sh tests/run-all.sh $(B)
	@$(MAKE) --no-print-directory fuzz-regress

asan:
	@$(MAKE) --no-print-directory check SANITIZE=1

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN) $(TOOL_BIN)
	@sh bench/run.sh $(B)

demo: deps
	@$(MAKE) --no-print-directory all
	@sh dist/demo.sh $(B)

# Installs what docs/deploy.md describes; DESTDIR stages it elsewhere.
# UNITDIR: /etc/systemd/system for a hand install, /lib/systemd/system in the package.
UNITDIR ?= /etc/systemd/system
MAN8     = authd.8 ipfd.8 cid.8 sekishoctl.8
PROXIES  = $(notdir $(wildcard dist/nginx dist/caddy dist/haproxy))
install: all
	install -d $(DESTDIR)/usr/sbin $(DESTDIR)/usr/bin $(DESTDIR)/usr/share/sekisho/web/static \
	        $(DESTDIR)/usr/lib/sysusers.d $(DESTDIR)/usr/lib/tmpfiles.d \
	        $(DESTDIR)$(UNITDIR) $(DESTDIR)/etc/sekisho $(DESTDIR)/usr/share/doc/sekisho \
	        $(DESTDIR)/usr/share/man/man8 $(DESTDIR)/usr/share/man/man5 \
	        $(DESTDIR)/usr/share/sekisho/grafana
	install -m 0755 $(B)/authd $(B)/ipfd $(B)/cid $(DESTDIR)/usr/sbin/
	install -m 0755 $(B)/sekishoctl $(DESTDIR)/usr/bin/
	install -m 0644 web/*.html $(DESTDIR)/usr/share/sekisho/web/
	install -m 0644 web/static/* $(DESTDIR)/usr/share/sekisho/web/static/
	install -m 0644 dist/sekisho.sysusers $(DESTDIR)/usr/lib/sysusers.d/sekisho.conf
	install -m 0644 dist/sekisho.tmpfiles $(DESTDIR)/usr/lib/tmpfiles.d/sekisho.conf
	install -m 0644 dist/sekisho-*.service dist/sekisho-*.timer $(DESTDIR)$(UNITDIR)/
	install -m 0644 sekisho.conf.example docs/*.md $(DESTDIR)/usr/share/doc/sekisho/
	install -m 0644 $(addprefix docs/man/,$(MAN8)) $(DESTDIR)/usr/share/man/man8/
	install -m 0644 docs/man/sekisho.conf.5 $(DESTDIR)/usr/share/man/man5/
	install -m 0644 dist/grafana/*.json $(DESTDIR)/usr/share/sekisho/grafana/
	for p in $(PROXIES); do \
		install -d $(DESTDIR)/usr/share/sekisho/$$p && \
		install -m 0644 dist/$$p/* $(DESTDIR)/usr/share/sekisho/$$p/ || exit 1; \
	done

# Removes what install put there; the configuration and the store stay.
uninstall:
	rm -f $(DESTDIR)/usr/sbin/authd $(DESTDIR)/usr/sbin/ipfd $(DESTDIR)/usr/sbin/cid \
	      $(DESTDIR)/usr/bin/sekishoctl \
	      $(DESTDIR)/usr/lib/sysusers.d/sekisho.conf $(DESTDIR)/usr/lib/tmpfiles.d/sekisho.conf \
	      $(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(wildcard dist/sekisho-*.service dist/sekisho-*.timer))) \
	      $(addprefix $(DESTDIR)/usr/share/man/man8/,$(MAN8)) \
	      $(DESTDIR)/usr/share/man/man5/sekisho.conf.5
	rm -rf $(DESTDIR)/usr/share/sekisho $(DESTDIR)/usr/share/doc/sekisho

# The Debian package (debian/), built by dpkg-buildpackage from a copy of the
# tree under build/deb/src so the working tree's build/ stays; the .deb and
# its .changes/.buildinfo end up in build/deb/. Needs root once for its
# build dependencies (.ci/deps-deb.sh).
DEB = build/deb
deb:
	@sh .ci/deps-deb.sh
	rm -rf $(DEB) && mkdir -p $(DEB)/src
	tar -c --exclude=./build --exclude=./.git --exclude=node_modules -f - . | tar -x -C $(DEB)/src
	cd $(DEB)/src && DEB_BUILD_OPTIONS="parallel=$$(nproc) $$DEB_BUILD_OPTIONS" \
		dpkg-buildpackage -b -us -uc
	lintian --fail-on error $(DEB)/*.changes
	@ls $(DEB)/*.deb

# libFuzzer targets, built by clang into their own tree (build/fuzz) so they
# never rebuild the programs. A target links its own objects and takes only
# the members of the fuzz libcommon.a that it needs. Two warnings only clang
# has are off: vprintf-style wrappers and SQL split over string literals.
FUZZ_CC      ?= clang
FUZZ_FLAGS   ?= -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1
FUZZ_SECONDS ?= 60
F            = build/fuzz
FUZZCFLAGS   = $(filter-out -D_FORTIFY_SOURCE=2,$(REQCFLAGS)) -Wno-format-nonliteral \
               -Wno-string-concatenation -Itests/fuzz $(PKGCFLAGS) $(FUZZ_FLAGS)
FUZZ_NAMES   = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     = $(patsubst %,$(F)/fuzz_%,$(FUZZ_NAMES))
FUZZ_COMMON  = $(patsubst %.c,$(F)/obj/%.o,$(wildcard common/*.c)) $(F)/obj/gen/migrations.o \
               $(F)/obj/gen/pg_migrations.o

$(F)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZCFLAGS) -c -o $@ $<

$(F)/gen/migrations.c: sql/embed.sh $(sort $(wildcard sql/[0-9]*.sql))
	@mkdir -p $(dir $@)
	sh sql/embed.sh $(sort $(wildcard sql/[0-9]*.sql)) > $@.tmp && mv $@.tmp $@

$(F)/gen/pg_migrations.c: sql/embed.sh $(PG_SQL)
	@mkdir -p $(dir $@)
	sh sql/embed.sh -n pg_migrations $(PG_SQL) > $@.tmp && mv $@.tmp $@

$(F)/obj/gen/%.o: $(F)/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZCFLAGS) -c -o $@ $<

$(F)/libcommon.a: $(FUZZ_COMMON)
	rm -f $@ && ar rcs $@ $^

# The daemon objects each target needs besides libcommon.a.
$(F)/fuzz_admin_form: $(F)/obj/authd/admin_form.o
$(F)/fuzz_check:      $(F)/obj/cid/check.o $(F)/obj/cid/cache.o $(F)/obj/cid/setup.o \
                      $(F)/obj/authd/clientip.o $(F)/obj/tests/lib/keys.o
$(F)/fuzz_token:      $(F)/obj/tests/lib/keys.o
$(F)/fuzz_clientip:   $(F)/obj/authd/clientip.o
$(F)/fuzz_conf:       $(F)/obj/authd/clientip.o $(F)/obj/cid/setup.o
$(F)/fuzz_spoe:       $(F)/obj/cid/spoe.o

$(F)/fuzz_%: $(F)/obj/tests/fuzz/fuzz_%.o $(F)/obj/tests/fuzz/fuzz.o $(F)/libcommon.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(filter %.o,$^) $(F)/libcommon.a \
	    $(REQLDFLAGS) $(HTTPLIBS) $(LIBS)

fuzz: $(FUZZ_BIN)
	@sh tests/fuzz/run.sh $(F) $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-regress: $(FUZZ_BIN)
	@sh tests/fuzz/run.sh $(F) 0 $(FUZZ_NAMES)

clean:
	rm -rf build

.PHONY: all deps unit check asan bench demo install uninstall deb clean fuzz fuzz-regress
.SECONDARY:

-include $(shell find build -path build/deb -prune -o -name '*.d' -type f -print 2>/dev/null)
