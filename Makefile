# The two commands that do everything on a fresh Debian 12 machine (as root):
#   make run    install, build, run the built-in demo on the simulator
#   make test   install, build, run every default test
# Re-running either is fast when nothing changed.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
STRUCTFLOW := $(BUILD_DIR)/src/cli/structflow
DEPS_STAMP := build/.deps-ok

.PHONY: all deps configure build install run test test-soak test-all asan tsan bench fuzz format clean

all: build

$(DEPS_STAMP): scripts/install-deps.sh tools/node/package.json
	bash scripts/install-deps.sh
	@mkdir -p build && touch $@

deps: $(DEPS_STAMP)

$(BUILD_DIR)/build.ninja: $(DEPS_STAMP) CMakeLists.txt CMakePresets.json
	cmake --preset $(PRESET) >/dev/null

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build --preset $(PRESET)

# The `structflow` binary into $(PREFIX)/bin and `import structflow` for Debian's python3
# ($(PREFIX)/lib/python3.11/dist-packages; DESTDIR is honoured, for packaging).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD_DIR) --prefix "$(PREFIX)"

run: build
	$(STRUCTFLOW) demo

# Default suite: unit, integration, end-to-end and interop tests (no soak runs, no benchmarks).
test: build
	ctest --preset $(PRESET)

# Long soak runs only.
test-soak: build
	ctest --test-dir $(BUILD_DIR) -L soak --output-on-failure

asan:
	$(MAKE) test PRESET=asan
tsan:
	$(MAKE) test PRESET=tsan

bench: build
	bash bench/run_all.sh $(BUILD_DIR)

# libFuzzer (clang) over each reader and parser for FUZZ_SECONDS each, one after another; a crash
# stops the run and leaves its input in build/fuzz/<target>/crash-*.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= parquet jsonl csv schema chat_completion image
fuzz: $(DEPS_STAMP)
	@for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
	  bash tools/fuzz/run_libfuzzer.sh $$t $(FUZZ_SECONDS) build/fuzz || exit 1; \
	done

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf build
