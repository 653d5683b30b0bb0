# reprise: record-and-replay HTTP load tester.
#
#   make deps     install the Debian packages the build, tests and demo need
#   make          build ./reprise and ./reprise-target
#   make test     build and run every test (SAN=1: under ASan and UBSan)
#   make demo     capture a bundled pcap, replay it against a local target
#   make install PREFIX=/usr/local

PREFIX  ?= /usr/local
CC      ?= cc
OPT     ?= -O2 -g
SAN     ?= 0

LLHTTP_SRC = /usr/share/llhttp
LLHTTP_INC = /usr/share/include/llhttp

DEB_PKGS = build-essential pkg-config libpcap-dev libcurl4-openssl-dev \
           libzstd-dev libuv1-dev node-llhttp libjansson-dev libxxhash-dev \
           zlib1g-dev python3 valgrind nginx-light tcpdump curl \
           chromium libhdrhistogram-java default-jre-headless python3-locust \
           wrk nghttp2-client time openssl

ifeq ($(SAN),1)
BUILD   = build/san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD   = build/opt
SANFLAGS =
endif

CPPFLAGS += -I. -I$(LLHTTP_INC) -D_GNU_SOURCE
PROJ_CFLAGS = -std=c11 $(OPT) -Wall -Wextra -Wshadow -Wno-unused-parameter $(SANFLAGS) -MMD -MP
# Debian's llhttp sources are generated code: build them with their own flags.
LLHTTP_CFLAGS = -std=c99 $(OPT) -w $(SANFLAGS)
LDLIBS  = -lpcap -lcurl -lzstd -luv -ljansson -lxxhash -lz -lm -lpthread

LIB_SRC  = $(wildcard formats/*.c capture/*.c replay/*.c)
TOOL_SRC = $(filter-out tools/target.c,$(wildcard tools/*.c))
TEST_SRC = $(wildcard tests/unit/*.c)

LIB_OBJ    = $(LIB_SRC:%.c=$(BUILD)/%.o)
LLHTTP_OBJ = $(BUILD)/llhttp/llhttp.o $(BUILD)/llhttp/api.o $(BUILD)/llhttp/http.o
TOOL_OBJ   = $(TOOL_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ   = $(TEST_SRC:%.c=$(BUILD)/%.o)

ifeq ($(SAN),1)
BINS = $(BUILD)/reprise $(BUILD)/reprise-target
else
BINS = reprise reprise-target
endif

.PHONY: all deps test test-unit demo install clean check-deps

all: check-deps $(BINS)

# Fails early, with the fix, when a build dependency is missing.
check-deps:
	@test -f $(LLHTTP_SRC)/llhttp.c || { echo "llhttp sources not found in $(LLHTTP_SRC): run 'make deps' (installs node-llhttp)" >&2; exit 1; }
	@for h in pcap/pcap.h curl/curl.h zstd.h uv.h jansson.h xxhash.h zlib.h; do \
	  echo "#include <$$h>" | $(CC) -E -x c - >/dev/null 2>&1 || { echo "header $$h not found: run 'make deps'" >&2; exit 1; }; done

deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	else echo "all Debian packages present"; fi

$(BUILD)/libreprise.a: $(LIB_OBJ) $(LLHTTP_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(PROJ_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(@D)
	$(CC) -I$(LLHTTP_INC) $(LLHTTP_CFLAGS) -c -o $@ $<

$(BUILD)/reprise: $(TOOL_OBJ) $(BUILD)/libreprise.a
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The test server needs only libuv and llhttp, so a half-built library
# module never breaks it.
$(BUILD)/reprise-target: $(BUILD)/tools/target.o $(LLHTTP_OBJ)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $^ -luv -lm

$(BUILD)/unit-tests: $(TEST_OBJ) $(BUILD)/libreprise.a
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Replaced by rename, so a copy that is running (a test target) is not
# overwritten in place.
reprise reprise-target: %: $(BUILD)/%
	cp $< $@.tmp && mv -f $@.tmp $@

# The test runner prints one line per test and ends with "N passed, N failed".
test: deps
	@$(MAKE) --no-print-directory all $(BUILD)/unit-tests
	@BUILD=$(BUILD) SAN=$(SAN) bash tests/run

demo: deps
	@$(MAKE) --no-print-directory all
	@bash tools/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 reprise reprise-target $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build reprise reprise-target

-include $(shell find build -name '*.d' 2>/dev/null)
