# CloudSonar-C build.  `make` builds everything with warnings as errors,
# `make test` runs unit tests (plain and under ASan+UBSan) and integration
# tests, `make bench` prints the benchmark figures, `make deps` installs the
# Debian packages the build and tests need.

CC      ?= cc
CSTD    := -std=c11
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# Every include names its path from the top of the tree: "pano/node/store.h".
CPPFLAGS += -D_GNU_SOURCE -MMD -MP -I.
CFLAGS  ?= -O2 -g
CFLAGS  += $(CSTD) $(WARN) -fno-strict-aliasing
SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

DEB_PACKAGES := build-essential pkg-config liboping-dev libgsl-dev libzmq3-dev \
	libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev libsqlite3-dev \
	libjansson-dev libcmocka-dev libmicrohttpd-dev libedit-dev scdoc iproute2 valgrind procps \
	libjs-dygraphs libcurl4-openssl-dev
# Only the tests need these: gnuplot draws sonar-plot's charts (which says
# how to install it when it is missing), promtool (in prometheus) checks the
# agent's metrics file, faketime makes the wall clock jump, tcpdump shows
# that CURVE traffic on loopback carries no plaintext, clang's libFuzzer
# runs every fuzz target for FUZZ_SMOKE_SECONDS as part of the tests, and
# a headless chromium drives the node's console page, tmux a terminal for
# hview-client.
# (systemd-analyze, for the unit files, is used when present.)
TEST_PACKAGES := gnuplot-nox prometheus faketime tcpdump clang libclang-rt-14-dev chromium tmux
# Only the benchmarks need these: fping is what the agent's response times
# are compared with, socat answers the TCP prober behind the delay line,
# sqlite3 (dbstat) measures what the node's history takes on disk.
BENCH_PACKAGES := fping socat sqlite3

DETECTOR_SRC := $(wildcard detector/*.c)
HTM_SRC      := $(wildcard htm/*.c)
SONAR_SRC    := $(filter-out agent/main.c,$(wildcard agent/*.c))
# Panorama in three floors, each using only those below it: common (the
# protocol, names, keys, files) < client (talking to a node) < node.
PANO_COMMON_SRC := $(wildcard pano/common/*.c)
PANO_CLIENT_SRC := $(wildcard pano/client/*.c)
PANO_NODE_SRC   := $(wildcard pano/node/*.c)
PANO_SRC        := $(PANO_COMMON_SRC) $(PANO_CLIENT_SRC) $(PANO_NODE_SRC)
GEN_SRC      := build/gen/panorama.pb-c.c build/gen/google/protobuf/timestamp.pb-c.c
UNIT_SRC     := $(wildcard tests/unit/test_*.c)

LIBS_DETECTOR := -lgsl -lgslcblas -lm
LIBS_AGENT    := -loping -lpthread $(LIBS_DETECTOR)
LIBS_CLIENT   := -lzmq -lprotobuf-c -ljansson -lmicrohttpd -lm -lpthread
LIBS_PANO     := -lsqlite3 -lcurl $(LIBS_CLIENT)

BIN := bin/sonar-agent bin/sonar-replay bin/hview-server bin/hview-client bin/hview-mkrc bin/hview-logtail \
	bin/sonar-plot bin/nab-score bin/htm-detect bin/sonar-keygen

.PHONY: all clean deps deps-build check-deps test test-run unit-tests bench bench-run scenario fuzz install uninstall man
# Keep the objects of pattern-rule chains (make would delete them as
# intermediates, after the test summary line).  Not .SECONDARY: with no
# prerequisites, which would stop make rebuilding a missing archive.
.PRECIOUS: build/%.o build-san/%.o build-fuzz/%.o
all: check-deps $(BIN)

# --- protobuf: proto/panorama.proto -> build/gen (protoc-c) -----------------
build/gen/panorama.pb-c.c build/gen/panorama.pb-c.h build/gen/google/protobuf/timestamp.pb-c.c: proto/panorama.proto
	@mkdir -p build/gen
	protoc-c --proto_path=proto --proto_path=/usr/include --c_out=build/gen \
		proto/panorama.proto google/protobuf/timestamp.proto

# The console page, compiled into the node (it must work offline, from the
# binary alone): one C string literal a line.
build/gen/console_html.h: pano/node/console.html
	@mkdir -p build/gen
	awk 'BEGIN { print "#define CONSOLE_HTML \\" } { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); print "\"" $$0 "\\n\" \\" } END { print "\"\"" }' $< >$@
build/pano/node/console.o build-san/pano/node/console.o build-fuzz/pano/node/console.o: build/gen/console_html.h

# Generated code is protoc-c's: compiled without our extra prototype warnings.
GEN_CFLAGS := $(CSTD) -Wall -Werror -Ibuild/gen
GEN_OBJ := build/gen/panorama.pb-c.o build/gen/google/protobuf/timestamp.pb-c.o

# --- the three build trees, from one template ------------------------------
# build/ (plain), build-san/ (ASan+UBSan, for the unit tests) and
# build-fuzz/ (libFuzzer): $(1) the tree, $(2) the compiler, $(3) its flags
# for our code, $(4) for protoc-c's.  Each tree has the same objects and
# the archives that follow the floors.
define BUILD_TREE
$(1)/gen/%.o: build/gen/%.c
	@mkdir -p $$(dir $$@)
	$(2) $$(CPPFLAGS) $(4) -c $$< -o $$@
$(1)/%.o: %.c | build/gen/panorama.pb-c.h
	@mkdir -p $$(dir $$@)
	$(2) $$(CPPFLAGS) -Ibuild/gen $(3) -c $$< -o $$@
$(1)/libdetector.a: $$(DETECTOR_SRC:%.c=$(1)/%.o) $$(HTM_SRC:%.c=$(1)/%.o)
	rm -f $$@; ar rcs $$@ $$^
$(1)/libsonar.a: $$(SONAR_SRC:%.c=$(1)/%.o)
	rm -f $$@; ar rcs $$@ $$^
$(1)/libpano_common.a: $$(PANO_COMMON_SRC:%.c=$(1)/%.o) $$(GEN_OBJ:build/%=$(1)/%)
	rm -f $$@; ar rcs $$@ $$^
$(1)/libpano_client.a: $$(PANO_CLIENT_SRC:%.c=$(1)/%.o)
	rm -f $$@; ar rcs $$@ $$^
$(1)/libpano_node.a: $$(PANO_NODE_SRC:%.c=$(1)/%.o)
	rm -f $$@; ar rcs $$@ $$^
endef
FUZZ_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
$(eval $(call BUILD_TREE,build,$(CC),$(CFLAGS),-O2 -g $(GEN_CFLAGS)))
$(eval $(call BUILD_TREE,build-san,$(CC),$(CSTD) $(WARN) $(SANFLAGS),$(GEN_CFLAGS) $(SANFLAGS)))
$(eval $(call BUILD_TREE,build-fuzz,clang,$(CSTD) $(WARN) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,$(GEN_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link))

# The client library other programs report with (pano/client/panorama.h):
# the objects it needs linked into one, of which only the
# header's functions stay global (the names that are in the header); the
# rest (strmap_*, arena_*, publisher_*, the protobuf descriptors) cannot
# collide with a program's own.  tests/integration/install.sh checks it
# with nm.
LIBCLOUDSONAR_API := panorama_reporter_new panorama_reporter_free panorama_report panorama_inferred
# what the API reaches (a program that links it needs only libzmq and
# protobuf-c): install.sh builds a program against it
LIBCLOUDSONAR_OBJ := $(addprefix build/pano/,client/panorama.o client/client.o common/cert.o common/clock.o \
	common/curve.o common/endpoint.o common/model.o common/regfile.o common/text.o) $(GEN_OBJ)
build/libcloudsonar.a: $(LIBCLOUDSONAR_OBJ)
	rm -f $@ build/cloudsonar.o
	ld -r -o build/cloudsonar.o $^
	objcopy $(LIBCLOUDSONAR_API:%=--keep-global-symbol=%) build/cloudsonar.o
	ar rcs $@ build/cloudsonar.o
LIBS_CLOUDSONAR := -lzmq -lprotobuf-c -lm -lpthread

# Man pages: one scdoc source a page, docs/man/NAME.SECTION.scd.
MAN_SRC := $(wildcard docs/man/*.scd)
MAN     := $(MAN_SRC:docs/man/%.scd=build/man/%)
build/man/%: docs/man/%.scd
	@mkdir -p build/man
	scdoc <$< >$@
man: $(MAN)

# In link order: a floor before the ones it uses.
CLIENT_LIBS := build/libpano_client.a build/libpano_common.a
NODE_LIBS   := build/libpano_node.a $(CLIENT_LIBS)
SAN_NODE_LIBS := build-san/libpano_node.a build-san/libpano_client.a build-san/libpano_common.a

bin/htm-detect: build/tools/htm_detect.o build/libdetector.a build/libpano_common.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_DETECTOR)

bin/nab-score: build/tools/nab_score.o
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ -ljansson -lm

bin/hview-server: build/pano/hview_server.o $(NODE_LIBS)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_PANO)

bin/hview-client: build/pano/hview_client.o $(CLIENT_LIBS)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_CLIENT) -ledit

bin/hview-mkrc: build/pano/hview_mkrc.o $(CLIENT_LIBS)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_CLIENT)

bin/sonar-plot: build/tools/sonar_plot.o build/libsonar.a build/libpano_common.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^

bin/sonar-keygen: build/tools/sonar_keygen.o build/libpano_common.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_CLIENT)

LOGTAIL_OBJ := $(addprefix build/tools/,hview_logtail.o logfollow.o logrules.o logtail_zookeeper.o)
bin/hview-logtail: $(LOGTAIL_OBJ) $(CLIENT_LIBS)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_CLIENT)

bin/sonar-agent: build/agent/main.o build/libsonar.a $(CLIENT_LIBS) build/libdetector.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_AGENT) $(LIBS_CLIENT)

bin/sonar-replay: build/tools/sonar_replay.o build/tools/csv_reader.o build/libsonar.a $(CLIENT_LIBS) build/libdetector.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_AGENT) $(LIBS_CLIENT)

# --- unit tests ------------------------------------------------------------
UNIT_BIN     := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
UNIT_SAN_BIN := $(UNIT_SRC:tests/unit/%.c=build-san/tests/%)
TOOL_OBJ     := tools/csv_reader.o tools/logrules.o tools/logfollow.o

build/tests/%: build/tests/unit/%.o $(addprefix build/,$(TOOL_OBJ)) build/libsonar.a $(NODE_LIBS) build/libdetector.a
	$(CC) $(CFLAGS) $(TEST_LDFLAGS) -o $@ $^ -lcmocka $(LIBS_AGENT) $(LIBS_PANO)
build-san/tests/%: build-san/tests/unit/%.o $(addprefix build-san/,$(TOOL_OBJ)) build-san/libsonar.a $(SAN_NODE_LIBS) build-san/libdetector.a
	$(CC) $(SANFLAGS) $(TEST_LDFLAGS) -o $@ $^ -lcmocka $(LIBS_AGENT) $(LIBS_PANO)
# test_oom fails allocations on purpose: our code's allocations go through it
build/tests/test_oom build-san/tests/test_oom: TEST_LDFLAGS := \
	-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup

unit-tests: $(UNIT_BIN) $(UNIT_SAN_BIN)

# Helpers the integration tests run (panorama.sh loads a node with the bench's client).
HELPERS := build/tests/pano-poke build/tests/pano-learn build/tests/pano-hostile build/tests/pano-bench \
	build/tests/pano-library build/tests/pano-history build/tests/delayline
# A wire of a fixed delay between two namespaces (no netem in some kernels).
build/tests/delayline: build/tests/helpers/delayline.o
	$(CC) $(CFLAGS) -o $@ $^

# The library's hostile calls, linked as a user's program is: the archive alone.
build/tests/pano-library: build/tests/helpers/pano_library.o build/libcloudsonar.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_CLOUDSONAR)
build/tests/pano-%: build/tests/helpers/pano_%.o $(NODE_LIBS)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_PANO)

FUZZ_SMOKE_SECONDS ?= 10
# make test installs what the build and the tests need (as root; else it
# says what to install), then runs them.
test:
	@tools/deps.sh install $(DEB_PACKAGES) $(TEST_PACKAGES)
	@$(MAKE) --no-print-directory test-run
test-run: all unit-tests $(HELPERS)
	@if command -v clang >/dev/null; then $(MAKE) --no-print-directory $(FUZZ_BIN); fi
	@FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)" tests/run-all.sh $(UNIT_BIN) $(UNIT_SAN_BIN)

build/tests/pano-bench: build/tests/bench/pano_bench.o $(NODE_LIBS)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_PANO) -lpthread

# The detection scorecard: labelled gray-failure traces through the agent's
# pipeline and through the trivial rule (make bench; tests/bench/scenarios.h).
build/tests/detection-scorecard: build/tests/bench/detection_scorecard.o build/tests/bench/scenarios.o \
		build/tests/bench/realdata.o build/tools/csv_reader.o build/libsonar.a $(CLIENT_LIBS) build/libdetector.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_AGENT) $(LIBS_CLIENT)

# The blame engine on synthetic meshes (make bench).
build/tests/blame-scorecard: build/tests/bench/blame_scorecard.o build/pano/node/blame.o
	$(CC) $(CFLAGS) -o $@ $^ -lm

# The gray-failure scenario alone (root; about a minute; part of make test).
scenario: check-deps all
	@bash tests/integration/gray_failure.sh

bench:
	@tools/deps.sh install $(DEB_PACKAGES) $(BENCH_PACKAGES)
	@$(MAKE) --no-print-directory bench-run
bench-run: all build/tests/pano-history build/tests/pano-bench build/tests/detection-scorecard build/tests/blame-scorecard build/tests/delayline
	@tests/bench/detection-bench.sh
	@tests/bench/accuracy-bench.sh
	@tests/bench/scrape-bench.sh
	@tests/bench/agent-bench.sh
	@tests/bench/pano-bench.sh
	@tests/bench/http-bench.sh
	@tests/bench/curve-bench.sh
	@tests/bench/htm-bench.sh
	@tests/bench/gray-bench.sh
	@tests/bench/console-bench.sh
	@build/tests/blame-scorecard
	@tests/bench/blame-bench.sh

# --- fuzzing (clang's libFuzzer; `make fuzz`, FUZZ_SECONDS per target) ---------
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_TARGETS  := request csv config rules state command cert queue watch targets mesh http
FUZZ_LIB_OBJ  := $(patsubst %.c,build-fuzz/%.o,$(DETECTOR_SRC) $(HTM_SRC) $(SONAR_SRC) $(PANO_SRC) \
	tools/csv_reader.c tools/logrules.c) $(GEN_OBJ:build/%=build-fuzz/%)
FUZZ_BIN      := $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)
FUZZ_SECONDS  ?= 60

build-fuzz/fuzz_%: build-fuzz/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS_AGENT) $(LIBS_PANO)

fuzz: check-deps
	@tools/deps.sh check $(FUZZ_PACKAGES)
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# --- dependencies ------------------------------------------------------------
# check-deps (before every build) only says what is missing and stops;
# installing is explicit: make deps, or make test, make bench, ./run.sh.
check-deps:
	@tools/deps.sh check $(DEB_PACKAGES)
deps-build:
	@tools/deps.sh install $(DEB_PACKAGES)
deps:
	@tools/deps.sh install $(DEB_PACKAGES) $(TEST_PACKAGES) $(BENCH_PACKAGES)

clean:
	rm -rf build build-san build-fuzz bin

-include $(shell find build build-san build-fuzz -name '*.d' 2>/dev/null)

# --- install: make install [PREFIX=/usr/local] [DESTDIR=staging] ---------------
# Programs to PREFIX/bin, their man pages, the client library (header,
# archive, pkg-config file); systemd units (pointing at PREFIX/bin), the
# node's config (unless one is there), the logrotate file and the cron file
# (its job commented out); the docs, laid out as in the repository, and the
# Prometheus examples to PREFIX/share.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/cloudsonar
MANDIR ?= $(PREFIX)/share/man
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
install: all man build/libcloudsonar.a
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/logrotate.d \
		$(DESTDIR)$(SYSCONFDIR)/cron.d $(DESTDIR)$(SYSCONFDIR)/cloudsonar \
		$(DESTDIR)$(DOCDIR)/prometheus $(DESTDIR)$(DOCDIR)/grafana $(DESTDIR)$(DOCDIR)/docs \
		$(DESTDIR)$(DOCDIR)/tools/examples \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/cloudsonar
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(filter %.1,$(MAN)) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(filter %.3,$(MAN)) $(DESTDIR)$(MANDIR)/man3/
	install -m 644 build/libcloudsonar.a $(DESTDIR)$(LIBDIR)/
	install -m 644 pano/client/panorama.h $(DESTDIR)$(INCLUDEDIR)/cloudsonar/panorama.h
	printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: cloudsonar\nDescription: %s\nVersion: 2\nCflags: -I$${includedir}\nLibs: -L$${libdir} -lcloudsonar %s\n' \
		'$(PREFIX)' '$(patsubst $(PREFIX)%,$${prefix}%,$(LIBDIR))' '$(patsubst $(PREFIX)%,$${prefix}%,$(INCLUDEDIR))' \
		'report to Panorama nodes (CloudSonar-C client library)' \
		'$(LIBS_CLOUDSONAR)' >$(DESTDIR)$(LIBDIR)/pkgconfig/cloudsonar.pc
	for u in tools/systemd/*.service; do \
		sed 's|/usr/local/bin/|$(PREFIX)/bin/|g; s|/usr/local/share/doc/cloudsonar|$(DOCDIR)|g' $$u \
			>$(DESTDIR)$(UNITDIR)/$$(basename $$u) && chmod 644 $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	done
	install -m 644 tools/logrotate/cloudsonar $(DESTDIR)$(SYSCONFDIR)/logrotate.d/cloudsonar
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' tools/cron/sonar-agent >$(DESTDIR)$(SYSCONFDIR)/cron.d/sonar-agent
	chmod 644 $(DESTDIR)$(SYSCONFDIR)/cron.d/sonar-agent
	# the node's config, never over one that is there
	[ -e $(DESTDIR)$(SYSCONFDIR)/cloudsonar/hview-server.cfg ] || \
		install -m 644 tools/systemd/hview-server.cfg $(DESTDIR)$(SYSCONFDIR)/cloudsonar/hview-server.cfg
	# the docs as the repository lays them out, so that their links hold
	install -m 644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	install -m 644 tools/examples/*.png $(DESTDIR)$(DOCDIR)/tools/examples/
	install -m 644 tools/prometheus/* $(DESTDIR)$(DOCDIR)/prometheus/
	install -m 644 tools/grafana/* $(DESTDIR)$(DOCDIR)/grafana/
	install -m 644 tools/systemd/hview-server.cfg $(DESTDIR)$(DOCDIR)/examples/hview-server.cfg
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(BIN)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(filter %.1,$(MAN))))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(filter %.3,$(MAN))))
	rm -f $(DESTDIR)$(LIBDIR)/libcloudsonar.a $(DESTDIR)$(LIBDIR)/pkgconfig/cloudsonar.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/cloudsonar
	rm -f $(DESTDIR)$(UNITDIR)/hview-server.service $(DESTDIR)$(UNITDIR)/sonar-agent.service
	rm -f $(DESTDIR)$(SYSCONFDIR)/logrotate.d/cloudsonar $(DESTDIR)$(SYSCONFDIR)/cron.d/sonar-agent
	@[ ! -e $(DESTDIR)$(SYSCONFDIR)/cloudsonar/hview-server.cfg ] || \
		echo "uninstall: $(DESTDIR)$(SYSCONFDIR)/cloudsonar/hview-server.cfg is kept (your config)"
	rm -rf $(DESTDIR)$(DOCDIR)
