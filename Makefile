# warden: the Meson build behind familiar targets.
#   make            build build/warden (release)
#   make test       install test deps, build with ASan+UBSan, run every test
#   make demo       install deps, build, run a governed agent on the default policy
#   make bench      start-up (vs bwrap, srt), egress proxy (vs tinyproxy), audit, L7
#                   inspection (TLS termination), privacy router and classifier benchmarks
#                   -> docs/benchmarks.md
#   make fuzz       build the libFuzzer targets with clang and run each (policy, http,
#                   socks5, http_l7, audit, restore, guard_proto, jsonwalk) for FUZZ_SECONDS
#   make install PREFIX=/usr/local

PREFIX ?= /usr/local
BUILD := build
TESTBUILD := build-test
FUZZBUILD := build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all build deps test demo bench fuzz install clean

all: build

deps:
	@sh scripts/deps.sh build

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=release --prefix=$(PREFIX)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(TESTBUILD)/build.ninja:
	meson setup $(TESTBUILD) --buildtype=debug -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false

test:
	@sh scripts/deps.sh test
	$(MAKE) --no-print-directory $(TESTBUILD)/build.ninja
	ninja -C $(TESTBUILD)
	bash tests/run.sh $(TESTBUILD)

demo:
	@sh scripts/deps.sh demo
	$(MAKE) --no-print-directory build
	bash scripts/demo.sh $(BUILD)/warden

bench:
	@sh scripts/deps.sh bench
	$(MAKE) --no-print-directory build
	bash scripts/bench-deps.sh
	bash bench/startup.sh
	bash bench/proxy.sh
	bash bench/tls.sh
	bash bench/router.sh
	bash bench/audit.sh
	bash bench/classify.sh

$(FUZZBUILD)/build.ninja:
	CC=clang meson setup $(FUZZBUILD) --buildtype=debugoptimized -Dfuzzing=true -Db_lundef=false

fuzz:
	@sh scripts/deps.sh fuzz
	$(MAKE) --no-print-directory $(FUZZBUILD)/build.ninja
	ninja -C $(FUZZBUILD)
	mkdir -p $(FUZZBUILD)/corpus-policy
	$(FUZZBUILD)/fuzz_policy -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		$(FUZZBUILD)/corpus-policy fuzz/corpus/policy tests/policies
	@# Every other parser of untrusted input, each with its seed corpus.
	for f in http socks5 http_l7 audit restore guard_proto infer_body proposal jsonwalk; do \
		mkdir -p $(FUZZBUILD)/corpus-$$f && \
		$(FUZZBUILD)/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) \
			$(FUZZBUILD)/corpus-$$f fuzz/corpus/$$f || exit 1; \
	done

install: build
	meson configure $(BUILD) --prefix=$(abspath $(PREFIX)) >/dev/null
	ninja -C $(BUILD) >/dev/null
	meson install -C $(BUILD) --destdir "$(DESTDIR)"
	@echo "installed into $(DESTDIR)$(PREFIX)"

clean:
	rm -rf $(BUILD) $(TESTBUILD) $(FUZZBUILD)
