# Two commands set everything up on a fresh machine: `make run-local` and `make test`.
# Each creates .venv and installs only what is missing (a stamp file remembers the
# installed pyproject.toml), so a second call starts in seconds.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The default model (the tutor: `models pull` with no name) and the small model the tests
# use where only mechanics are tested.
TEST_MODEL ?= smollm2-135m-instruct
# An installed local-assistants keeps models, data and the kernels' folders in one home
# (~/.local/share/local-assistants by default). make uses the repository as that home, so
# models/, data/, sandbox/ and .venv-kernel/ stay here for developers and CI.
# `make serve LOCAL_ASSISTANTS_HOME=...` points it elsewhere.
export LOCAL_ASSISTANTS_HOME := $(CURDIR)
# The code interpreter's kernels run from their own environment, made by
# `local-assistants setup` from a Python the sandbox's unprivileged uid can read
# (the system's /usr/bin/python3 when the running one is private). KERNEL_BASE_PYTHON
# chooses another.
KERNEL_BASE_PYTHON ?=

# llama-cpp-python has no wheel on PyPI and builds from source. Its native build
# enables Intel AMX on these Xeons and then segfaults on the first decode
# (llama.cpp #20824): build an AMX-free set. pip caches the built wheel.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install sandbox-tools browser-tools node-sdk build-tools llama-server kernel-env run-local test screenshots fuzz bench serve models test-models doctor clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --upgrade "pip>=24"
	$(PY) -m pip install -c constraints.txt -e ".[test]"
	touch $(STAMP)

# Idempotent: an environment made from the same Python and requirements is kept as it is.
kernel-env: $(STAMP)
	$(VENV)/bin/local-assistants setup --no-model $(if $(KERNEL_BASE_PYTHON),--python $(KERNEL_BASE_PYTHON))

# bubblewrap (Debian package) is the kernel sandbox; setpriv and prlimit come with util-linux.
sandbox-tools:
	@command -v bwrap >/dev/null || { echo "installing bubblewrap (the code interpreter's sandbox)"; \
	  apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; }

# The playground's browser tests drive Debian's chromium through its chromedriver (Selenium
# never downloads a browser of its own).
browser-tools:
	@{ command -v chromium >/dev/null && command -v chromedriver >/dev/null; } || { \
	  echo "installing chromium and chromium-driver (the playground's browser tests)"; \
	  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }

install: $(STAMP) sandbox-tools kernel-env

# The official `openai` Node SDK for tests/api/test_node_sdk.py, installed by npm from the
# committed lockfile into tests/node/node_modules (git-ignored; nothing global). Idempotent:
# npm ci runs again only when package.json or package-lock.json is newer than the install.
NODE_SDK_DIR := tests/node
NODE_SDK_STAMP := $(NODE_SDK_DIR)/node_modules/.installed
node-sdk: $(NODE_SDK_STAMP)

$(NODE_SDK_STAMP): $(NODE_SDK_DIR)/package.json $(NODE_SDK_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20 or newer) is needed for the Node SDK tests"; exit 1; }
	cd $(NODE_SDK_DIR) && npm ci --no-audit --no-fund
	touch $@

# The concurrency benchmark's peer: llama.cpp's own server, built from the llama.cpp that
# the pinned llama-cpp-python's source package vendors (the engine the runtime links),
# with the same AMX-free flags, once into the home's .cache/ (about 6 min on 2 cores).
# A new pin builds again (the stamp names the version). Static, so the build tree goes.
# No UI assets (their download) and no HTTPS: the bench talks to it on loopback.
LLAMA_CPP_PYTHON := $(shell sed -n 's/.*"llama-cpp-python==\([^"]*\)".*/\1/p' pyproject.toml)
LLAMA_SERVER_DIR := $(LOCAL_ASSISTANTS_HOME)/.cache/llama-server
LLAMA_SERVER_STAMP := $(LLAMA_SERVER_DIR)/.built-$(LLAMA_CPP_PYTHON)
LLAMA_SERVER_CMAKE_ARGS := $(CMAKE_ARGS) -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF

build-tools:
	@{ command -v cmake >/dev/null && command -v g++ >/dev/null; } || { \
	  echo "installing cmake and g++ (llama-server's build)"; \
	  apt-get update -qq && apt-get install -y -qq cmake g++ >/dev/null; }

llama-server: $(LLAMA_SERVER_STAMP)

$(LLAMA_SERVER_STAMP): | $(PY) build-tools
	rm -rf "$(LLAMA_SERVER_DIR)" && mkdir -p "$(LLAMA_SERVER_DIR)/build"
	$(PY) -m pip download -q --no-deps --no-binary :all: -d "$(LLAMA_SERVER_DIR)/build" \
	  llama-cpp-python==$(LLAMA_CPP_PYTHON)
	tar -xzf "$(LLAMA_SERVER_DIR)/build/llama_cpp_python-$(LLAMA_CPP_PYTHON).tar.gz" -C "$(LLAMA_SERVER_DIR)/build"
	cmake -S "$(LLAMA_SERVER_DIR)/build/llama_cpp_python-$(LLAMA_CPP_PYTHON)/vendor/llama.cpp" \
	  -B "$(LLAMA_SERVER_DIR)/build/out" $(LLAMA_SERVER_CMAKE_ARGS) >"$(LLAMA_SERVER_DIR)/build/configure.log"
	cmake --build "$(LLAMA_SERVER_DIR)/build/out" --target llama-server -j $(CMAKE_BUILD_PARALLEL_LEVEL)
	cp "$(LLAMA_SERVER_DIR)/build/out/bin/llama-server" "$(LLAMA_SERVER_DIR)/llama-server"
	rm -rf "$(LLAMA_SERVER_DIR)/build"
	touch "$@"

# Idempotent: an already present file with the right sha256 is kept as it is.
models: install
	$(VENV)/bin/local-assistants models pull

test-models: models
	$(VENV)/bin/local-assistants models pull $(TEST_MODEL)

run-local: install models
	$(PY) -m local_assistants.demo

test: install test-models browser-tools node-sdk
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The playground's screenshots in docs/ (README, "Playground"), taken again by its browser tests.
screenshots: install test-models browser-tools
	PLAYGROUND_SCREENSHOTS=docs/playground $(PY) -m pytest -q -p no:cacheprovider tests/playground/test_browser.py

# The API fuzzer alone, longer than in `make test` (100 cases an operation there, about
# 75 s): FUZZ_EXAMPLES cases an operation, valid and invalid, from the served OpenAPI
# document; FUZZ_SEED varies them.  Fails on any 5xx, schema-breaking answer or server error log.
FUZZ_EXAMPLES ?= 500
FUZZ_SEED ?= 0
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) $(PY) -m pytest -q -p no:cacheprovider tests/api/test_fuzz.py $(PYTEST_ARGS)

bench: install test-models llama-server
	$(PY) -m local_assistants.bench

# The tutor benchmark (README, "Tutor benchmark"): e.g.
#   make bench-tutor TUTOR_ARGS="--models smollm2-135m-instruct,gemma-3-270m --tasks arith:30,algebra:30,gsm8k:30"
TUTOR_ARGS ?=
.PHONY: bench-tutor
bench-tutor: install models
	$(VENV)/bin/local-assistants bench tutor $(TUTOR_ARGS)

# The API under /v1 and the playground at / (the address is printed).
serve: install models
	$(VENV)/bin/local-assistants serve

# Where everything lives and whether it works here (exit status 1 when something needed is broken).
doctor: install
	$(VENV)/bin/local-assistants doctor

clean:
	rm -rf $(VENV) .venv-kernel data sandbox/* models/*.gguf .cache/llama-server
