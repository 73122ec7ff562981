# groot-parity: two locked environments and the commands that run in each.
# Every variable below can be set on the command line (make produce CKPT=... DEVICE=cuda) or in the
# environment; the GROOT_PARITY_* tolerance knobs are read from the environment by the consumer.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION      ?= 0.13.9
UV              ?= $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
PRODUCER_PYTHON ?= $(shell envs/find-python 3.10)
CONSUMER_PYTHON ?= $(shell envs/find-python 3.12)
PRODUCER_VENV   := envs/producer/.venv
CONSUMER_VENV   := envs/consumer/.venv
PRODUCER_PY     := $(PRODUCER_VENV)/bin/python
PRODUCER_RUN    ?= $(PRODUCER_PY)# what runs producer.cli (make coverage: the same python under coverage.py)
CONSUMER_PY     := $(CONSUMER_VENV)/bin/python

# The original implementation: a local checkout (GR00T_SRC) or the upstream git URL at the pinned commit.
GR00T_COMMIT    ?= 626af89d3e914ec92eab5323e23b9ed44a7b26c8
GR00T_GIT       ?= https://github.com/NVIDIA/Isaac-GR00T
GR00T_SRC       ?=

# make produce
CKPT            ?=
REVISION        ?=
SUBFOLDER       ?=
OUT             ?= artifacts
TAGS            ?=
DEVICE          ?=
SEED            ?= 42
BATCH_SIZE      ?= 2
IMAGE_SIZES     ?= 256x256 240x320
PLAN            ?=
COMPRESSION     ?= fast
# inputs real callers send (producer/input_variations.py): frames per camera, stored camera order, folder label
VIDEO_STEPS     ?=
CAMERA_ORDER    ?=
LABEL           ?=
# EPISODE=1: write one episode artifact per tag (producer/episode.py) instead of the per-tag artifacts
EPISODE         ?=
# make publish / fetch (a Hub dataset repo; REVISION and TAGS as above)
REPO            ?=
ARTIFACTS       ?= $(OUT)
SUBDIR          ?=
PROBES          ?=
TRAINING        ?=
# make consume / demo
JOBS            ?= 1
PARITY_DIR      ?= $(or $(GROOT_N1_7_PARITY_DIR),$(OUT))
GOLDEN_DIR      := fixtures/golden
TINY_CKPT       := fixtures/tiny-groot-n1.7
# second fixture checkpoint (builder --variant alt): other image geometry, state/video history, mixed cameras
GOLDEN_ALT_DIR  := fixtures/golden-alt
TINY_ALT_CKPT   := fixtures/tiny-groot-n1.7-alt
# builder --variant sized / minimal: own image geometry / no optional processor key; one golden dir for both
GOLDEN_VARIANTS_DIR := fixtures/golden-variants
TINY_SIZED_CKPT := fixtures/tiny-groot-n1.7-sized
TINY_MINIMAL_CKPT := fixtures/tiny-groot-n1.7-minimal
# one recorded training step per tag of the tiny checkpoint (issue 23; docs/training.md)
GOLDEN_TRAINING_DIR := fixtures/golden-training
PYTEST_ARGS     ?=
# make bisect: ARTIFACT is an artifact (captured first, with the original) or a *.bisect.npz (consumer only)
ARTIFACT        ?=
BISECT_OUT      ?= $(if $(filter %.bisect.npz,$(ARTIFACT)),$(ARTIFACT),$(patsubst %.npz,%.bisect.npz,$(ARTIFACT)))
FIGURE          ?= reports/bisect-$(notdir $(basename $(BISECT_OUT))).png
# the committed bisect golden: one tiny-fixture artifact captured block by block by the real original
GOLDEN_BISECT_DIR := fixtures/golden-bisect
GOLDEN_BISECT_SRC := $(GOLDEN_DIR)/256x256/original_n1_7_new_embodiment.npz
# the DeepStack case (docs/bisect.md): a merger after the last kept text layer; its golden and its bisect
TINY_DEEPSTACK_CKPT := fixtures/tiny-groot-n1.7-deepstack
GOLDEN_DEEPSTACK    := $(GOLDEN_BISECT_DIR)/deepstack/256x256/original_n1_7_libero_sim.npz

export NO_ALBUMENTATIONS_UPDATE := 1
export UV_PYTHON_DOWNLOADS ?= automatic

.PHONY: fixtures-produce fixtures-training-produce
.PHONY: help envs producer-env consumer-env gr00t test test-shared test-producer test-consumer \
        consume demo produce publish fetch fixtures fixtures-training fixtures-bisect bisect tiny-checkpoint report lock \
        lint bench bench-full-size clean coverage

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv==$(UV_VERSION)

envs: producer-env consumer-env ## create both environments from their lock files

$(PRODUCER_VENV)/.synced: envs/producer/uv.lock envs/producer/pyproject.toml pyproject.toml | $(UV)
	$(UV) sync --frozen --inexact --project envs/producer --python "$(PRODUCER_PYTHON)"
	touch $@
producer-env: $(PRODUCER_VENV)/.synced ## producer env: Python 3.10, transformers 4.57.3 (gr00t: make gr00t)
	@if [ -n "$(GR00T_SRC)" ]; then $(MAKE) --no-print-directory gr00t; fi

$(CONSUMER_VENV)/.synced: envs/consumer/uv.lock envs/consumer/pyproject.toml pyproject.toml | $(UV)
	$(UV) sync --frozen --project envs/consumer --python "$(CONSUMER_PYTHON)"
	touch $@
consumer-env: $(CONSUMER_VENV)/.synced ## consumer env: Python 3.12, lerobot[groot]==0.6.1

gr00t: $(PRODUCER_VENV)/.synced ## install the original gr00t --no-deps (GR00T_SRC=checkout, else git URL)
	@src="$(GR00T_SRC)"; origin="$(GR00T_GIT)"; \
	if [ -n "$$src" ]; then \
	  [ -f "$$src/pyproject.toml" ] || { echo "GR00T_SRC=$$src is not an Isaac-GR00T checkout"; exit 2; }; \
	  commit=$$(git -C "$$src" rev-parse HEAD 2>/dev/null || echo unknown); \
	  origin=$$(git -C "$$src" remote get-url origin 2>/dev/null || true); \
	  copy=$$(mktemp -d); trap 'rm -rf "$$copy"' EXIT; \
	  if [ "$$commit" != unknown ]; then \
	    [ -z "$$(git -C "$$src" status --porcelain --untracked-files=no)" ] || \
	      echo "warning: $$src has uncommitted changes; installing its commit $$commit without them"; \
	    git -C "$$src" archive --format=tar HEAD | tar -x -C "$$copy"; \
	  else cp -R "$$src/." "$$copy"; fi; \
	  spec="$$copy"; \
	else commit="$(GR00T_COMMIT)"; spec="git+$(GR00T_GIT)@$(GR00T_COMMIT)"; fi; \
	if [ "$$commit" != "$(GR00T_COMMIT)" ]; then \
	  echo "warning: gr00t source is at $$commit, the harness pins $(GR00T_COMMIT)"; fi; \
	$(UV) pip install --quiet --python $(PRODUCER_PY) --no-deps --reinstall-package gr00t "$$spec"; \
	printf '{"source": "%s", "commit": "%s", "origin": "%s"}\n' "$${src:-$$spec}" "$$commit" "$$origin" \
	  > $(PRODUCER_VENV)/gr00t-source.json; \
	echo "gr00t installed from $${src:-$$spec} ($$commit), built in a temporary copy: the checkout is left as is"

# Tests mirror the packages. Shared packages are tested in both environments (Python 3.10 and 3.12).
SHARED_TESTS    := tests/architecture tests/parity_format tests/comparison tests/torch_hooks tests/sources \
                   tests/artifact_tools tests/benchmarks

# The tests never reach the hub: a test of a missing backbone would otherwise wait on huggingface.co (47 s)
test test-shared test-producer test-consumer: export HF_HUB_OFFLINE := 1

test: producer-env consumer-env ## every suite, both environments (CI runs exactly this)
	$(MAKE) --no-print-directory test-shared test-producer test-consumer
	$(MAKE) --no-print-directory consume PARITY_DIR=$(GOLDEN_DIR)
	$(MAKE) --no-print-directory consume PARITY_DIR=$(GOLDEN_ALT_DIR)
	$(MAKE) --no-print-directory consume PARITY_DIR=$(GOLDEN_VARIANTS_DIR)
	$(MAKE) --no-print-directory consume PARITY_DIR=$(GOLDEN_TRAINING_DIR) PYTEST_ARGS="-k training"

test-shared: ## the shared packages' tests (format, comparison, hooks, sources, tools), on Python 3.10 and 3.12
	$(PRODUCER_PY) -m pytest -q $(SHARED_TESTS) $(PYTEST_ARGS)
	$(CONSUMER_PY) -m pytest -q $(SHARED_TESTS) $(PYTEST_ARGS)

test-producer: ## producer logic (+ end to end where gr00t is installed)
	$(PRODUCER_PY) -m pytest -q tests/producer $(PYTEST_ARGS)

test-consumer: ## consumer logic, failure detection on edited copies of the goldens, the fixture builders, make coverage's report
	$(CONSUMER_PY) -m pytest -q tests/consumer tests/fixtures tests/path_coverage $(PYTEST_ARGS)

consume: consumer-env ## parity suite on PARITY_DIR (dir or hf://datasets/...); JOBS=N: N workers
	GROOT_N1_7_PARITY_DIR="$(PARITY_DIR)" $(CONSUMER_PY) -m pytest -q -rsx consumer/test_parity.py \
	  $(if $(filter-out 0 1,$(JOBS)),-n $(JOBS) --dist loadgroup) $(PYTEST_ARGS)

demo: consumer-env ## parity table for the committed golden fixtures (no GPU, no gr00t needed)
	$(CONSUMER_PY) -m consumer.cli --dir $(GOLDEN_DIR)
	$(CONSUMER_PY) -m consumer.cli --dir $(GOLDEN_ALT_DIR)
	$(CONSUMER_PY) -m consumer.cli --dir $(GOLDEN_VARIANTS_DIR)
	$(CONSUMER_PY) -m consumer.cli --dir $(GOLDEN_TRAINING_DIR) --check training

produce: producer-env ## run the original on CKPT (or every checkpoint of PLAN), write artifacts to OUT (EPISODE=1: episodes)
	@[ -n "$(CKPT)$(PLAN)" ] || { echo "set CKPT=<checkpoint dir or hub repo id> (e.g. CKPT=nvidia/GR00T-N1.7-LIBERO SUBFOLDER=libero_10) or PLAN=plans/example.toml"; exit 2; }
	@$(PRODUCER_PY) -c 'import importlib.util as u, sys; sys.exit(u.find_spec("gr00t") is None)' || $(MAKE) --no-print-directory gr00t
	$(PRODUCER_RUN) -m producer.cli $(if $(PLAN),--plan "$(PLAN)",--ckpt "$(CKPT)") --out-dir "$(OUT)" --seed $(SEED) --batch-size $(BATCH_SIZE) \
	  --image-size $(IMAGE_SIZES) $(if $(TAGS),--tags "$(TAGS)") $(if $(DEVICE),--device $(DEVICE)) $(if $(PROBES),--probes) \
	  $(if $(EPISODE),--episode) $(if $(TRAINING),--training) \
	  --compression $(COMPRESSION) $(if $(VIDEO_STEPS),--video-steps $(VIDEO_STEPS)) \
	  $(if $(CAMERA_ORDER),--camera-order $(CAMERA_ORDER)) $(if $(LABEL),--label $(LABEL)) $(if $(REVISION),--revision "$(REVISION)") $(if $(SUBFOLDER),--subfolder "$(SUBFOLDER)")

publish: consumer-env ## upload ARTIFACTS (default OUT) to the Hub dataset REPO [REVISION=branch], one commit
	@[ -n "$(REPO)" ] || { echo "set REPO=<org>/<dataset repo> (and log in: hf auth login, or HF_TOKEN)"; exit 2; }
	$(CONSUMER_PY) -m sources.hub publish "$(ARTIFACTS)" --repo "$(REPO)" $(if $(REVISION),--revision "$(REVISION)")

fetch: consumer-env ## download REPO@REVISION [TAGS=a,b SUBDIR=...] into the HF cache, verify every checksum
	@[ -n "$(REPO)" ] && [ -n "$(REVISION)" ] || { echo "set REPO=<org>/<dataset repo> REVISION=<commit>"; exit 2; }
	$(CONSUMER_PY) -m sources.hub fetch --repo "$(REPO)" --revision "$(REVISION)" \
	  $(if $(TAGS),--tags "$(TAGS)") $(if $(SUBDIR),--subdir "$(SUBDIR)")

fixtures: producer-env ## regenerate the golden fixtures of every fixture checkpoint with the real original (needs GR00T_SRC)
	@[ -n "$(GR00T_SRC)" ] || { echo "make fixtures needs GR00T_SRC=<Isaac-GR00T checkout at $(GR00T_COMMIT)>"; exit 2; }
	$(MAKE) --no-print-directory fixtures-produce
	$(MAKE) --no-print-directory fixtures-bisect

fixtures-produce: # the produce runs of make fixtures, with the original already installed (make coverage reuses them)
	$(MAKE) --no-print-directory produce CKPT=$(TINY_CKPT) OUT=$(GOLDEN_DIR) DEVICE=cpu COMPRESSION=small
	$(MAKE) --no-print-directory produce CKPT=$(TINY_CKPT) OUT=$(GOLDEN_DIR) DEVICE=cpu COMPRESSION=small \
	  PROBES=1 IMAGE_SIZES=256x256 TAGS=libero_sim
	$(MAKE) --no-print-directory produce CKPT=$(TINY_ALT_CKPT) OUT=$(GOLDEN_ALT_DIR) DEVICE=cpu COMPRESSION=small \
	  IMAGE_SIZES=256x256
	$(MAKE) --no-print-directory produce CKPT=$(TINY_ALT_CKPT) OUT=$(GOLDEN_ALT_DIR) DEVICE=cpu COMPRESSION=small \
	  IMAGE_SIZES=480x640+256x256 TAGS=new_embodiment
	@# issue 27: paths real callers and checkpoints take (docs/coverage.md): B=1, cameras stored in another
	@# order, video history shorter and longer than the horizon, own image geometry, no optional processor key
	$(MAKE) --no-print-directory produce CKPT=$(TINY_CKPT) OUT=$(GOLDEN_DIR) DEVICE=cpu COMPRESSION=small \
	  IMAGE_SIZES=256x256 TAGS=libero_sim BATCH_SIZE=1 LABEL=b1
	$(MAKE) --no-print-directory produce CKPT=$(TINY_CKPT) OUT=$(GOLDEN_DIR) DEVICE=cpu COMPRESSION=small \
	  IMAGE_SIZES=256x256 TAGS=libero_sim CAMERA_ORDER=reversed LABEL=cameras-reversed
	$(MAKE) --no-print-directory produce CKPT=$(TINY_ALT_CKPT) OUT=$(GOLDEN_ALT_DIR) DEVICE=cpu COMPRESSION=small \
	  IMAGE_SIZES=256x256 TAGS=simpler_env_widowx BATCH_SIZE=1 LABEL=b1
	$(MAKE) --no-print-directory produce CKPT=$(TINY_ALT_CKPT) OUT=$(GOLDEN_ALT_DIR) DEVICE=cpu COMPRESSION=small \
	  IMAGE_SIZES=256x256 TAGS=simpler_env_widowx VIDEO_STEPS=1 LABEL=history1
	$(MAKE) --no-print-directory produce CKPT=$(TINY_ALT_CKPT) OUT=$(GOLDEN_ALT_DIR) DEVICE=cpu COMPRESSION=small \
	  IMAGE_SIZES=256x256 TAGS=simpler_env_widowx VIDEO_STEPS=3 LABEL=history3
	$(MAKE) --no-print-directory produce CKPT=$(TINY_SIZED_CKPT) OUT=$(GOLDEN_VARIANTS_DIR) DEVICE=cpu \
	  COMPRESSION=small IMAGE_SIZES=256x256 LABEL=sized
	$(MAKE) --no-print-directory produce CKPT=$(TINY_MINIMAL_CKPT) OUT=$(GOLDEN_VARIANTS_DIR) DEVICE=cpu \
	  COMPRESSION=small IMAGE_SIZES=256x256 LABEL=minimal
	$(MAKE) --no-print-directory produce CKPT=$(TINY_CKPT) OUT=$(GOLDEN_DIR) DEVICE=cpu EPISODE=1 TAGS=unitree_g1_sonic,libero_sim
	$(MAKE) --no-print-directory produce CKPT=$(TINY_ALT_CKPT) OUT=$(GOLDEN_ALT_DIR) DEVICE=cpu EPISODE=1 TAGS=new_embodiment
	$(MAKE) --no-print-directory fixtures-training-produce

fixtures-training: producer-env ## regenerate fixtures/golden-training only: one recorded training step per tag (needs GR00T_SRC)
	@[ -n "$(GR00T_SRC)" ] || { echo "make fixtures-training needs GR00T_SRC=<Isaac-GR00T checkout at $(GR00T_COMMIT)>"; exit 2; }
	$(MAKE) --no-print-directory fixtures-training-produce

fixtures-training-produce: # issue 23 (docs/training.md): make fixtures runs it too
	$(MAKE) --no-print-directory produce CKPT=$(TINY_CKPT) OUT=$(GOLDEN_TRAINING_DIR) DEVICE=cpu COMPRESSION=small \
	  IMAGE_SIZES=256x256 TRAINING=1

fixtures-bisect: producer-env consumer-env ## regenerate fixtures/golden-bisect (bisect goldens, block paths) with the real original
	$(PRODUCER_PY) -m producer.bisect --ckpt $(TINY_CKPT) --artifact $(GOLDEN_BISECT_SRC) \
	  --out $(GOLDEN_BISECT_DIR)/256x256/original_n1_7_new_embodiment.bisect.npz --compression small
	$(PRODUCER_PY) -m producer.cli --ckpt $(TINY_DEEPSTACK_CKPT) --out-dir $(GOLDEN_BISECT_DIR)/deepstack --seed $(SEED) \
	  --batch-size $(BATCH_SIZE) --image-size 256x256 --tags libero_sim --device cpu --compression small
	$(PRODUCER_PY) -m producer.bisect --ckpt $(TINY_DEEPSTACK_CKPT) --artifact $(GOLDEN_DEEPSTACK) \
	  --out $(GOLDEN_DEEPSTACK:.npz=.bisect.npz) --compression small
	$(PRODUCER_PY) -m fixtures.block_paths --side original
	$(CONSUMER_PY) -m fixtures.block_paths --side lerobot

bisect: consumer-env ## per-block table and the first block that differs: CKPT=dir ARTIFACT=x.npz (or x.bisect.npz)
	@[ -n "$(CKPT)" ] && [ -n "$(ARTIFACT)" ] || { echo "set CKPT=<checkpoint dir> ARTIFACT=<artifact.npz, or a .bisect.npz to skip the capture>"; exit 2; }
	@if [ "$(BISECT_OUT)" != "$(ARTIFACT)" ]; then \
	  $(PRODUCER_PY) -m producer.bisect --ckpt "$(CKPT)" --artifact "$(ARTIFACT)" --out "$(BISECT_OUT)" $(if $(DEVICE),--device $(DEVICE)); fi
	$(CONSUMER_PY) -m consumer.bisect --ckpt "$(CKPT)" --artifact "$(BISECT_OUT)" --figure "$(FIGURE)"

tiny-checkpoint: consumer-env ## rebuild every tiny random-weight checkpoint fixture (deterministic)
	HF_HUB_OFFLINE=1 $(CONSUMER_PY) fixtures/build_tiny_checkpoint.py --out $(TINY_CKPT)
	HF_HUB_OFFLINE=1 $(CONSUMER_PY) fixtures/build_tiny_checkpoint.py --variant alt --out $(TINY_ALT_CKPT)
	HF_HUB_OFFLINE=1 $(CONSUMER_PY) fixtures/build_tiny_checkpoint.py --variant sized --out $(TINY_SIZED_CKPT)
	HF_HUB_OFFLINE=1 $(CONSUMER_PY) fixtures/build_tiny_checkpoint.py --variant minimal --out $(TINY_MINIMAL_CKPT)
	HF_HUB_OFFLINE=1 $(CONSUMER_PY) fixtures/build_tiny_checkpoint.py --variant deepstack --out $(TINY_DEEPSTACK_CKPT)

report: consumer-env ## Markdown + PNG report from the newest consumer JSON (reports/parity-*.json)
	@latest=$$(ls -t $(or $(GROOT_PARITY_REPORT_DIR),reports)/parity-*.json 2>/dev/null | head -n 1); \
	[ -n "$$latest" ] || { echo "no reports/parity-*.json yet: run make consume or make demo first"; exit 2; }; \
	$(CONSUMER_PY) -m consumer.reports.markdown "$$latest" || [ $$? -eq 1 ]

lock: | $(UV) ## re-resolve both lock files
	$(UV) lock --project envs/producer --python "$(PRODUCER_PYTHON)"
	$(UV) lock --project envs/consumer --python "$(CONSUMER_PYTHON)"

lint: consumer-env ## ruff check + format check
	$(CONSUMER_VENV)/bin/ruff check .
	$(CONSUMER_VENV)/bin/ruff format --check .

bench: producer-env consumer-env ## artifact sizes (synthetic + golden) and end-to-end timings
	$(PRODUCER_PY) benchmarks/artifact_size.py
	$(PRODUCER_PY) benchmarks/artifact_size.py --artifact $$(find $(GOLDEN_DIR) -name '*.npz' | sort)
	python3 benchmarks/end_to_end.py $(if $(GR00T_SRC),--produce)

bench-full-size: producer-env consumer-env ## full-size random N1.7 (~7.4 GB, cached): produce + consume on CPU, one table
	@$(PRODUCER_PY) -c 'import importlib.util as u, sys; sys.exit(u.find_spec("gr00t") is None)' || $(MAKE) --no-print-directory gr00t
	python3 benchmarks/full_size.py

clean: ## remove environments and produced artifacts (not the committed fixtures)
	rm -rf $(PRODUCER_VENV) $(CONSUMER_VENV) .tools
	find $(OUT) -name '*.npz' -delete 2>/dev/null || true

COVERAGE_DIR    ?= reports/coverage
coverage: consumer-env ## executed share of LeRobot's GR00T code (and the original's) while the goldens replay (docs/coverage.md)
	rm -rf $(COVERAGE_DIR) && mkdir -p $(COVERAGE_DIR)/port $(COVERAGE_DIR)/original
	for dir in $(GOLDEN_DIR) $(GOLDEN_ALT_DIR) $(GOLDEN_VARIANTS_DIR); do \
	  GROOT_N1_7_PARITY_DIR=$$dir GROOT_PARITY_REPORT_DIR=$(COVERAGE_DIR)/parity COVERAGE_CORE=sysmon \
	  $(CONSUMER_PY) -m coverage run -p --data-file=$(COVERAGE_DIR)/port/data \
	    --include="$$($(CONSUMER_PY) -m path_coverage.scope port)" -m pytest -q -p no:cacheprovider consumer/test_parity.py; \
	done
	$(CONSUMER_PY) -m coverage combine -q --data-file=$(COVERAGE_DIR)/port/data $(COVERAGE_DIR)/port
	$(CONSUMER_PY) -m coverage json -q --data-file=$(COVERAGE_DIR)/port/data -o $(COVERAGE_DIR)/port.json
	@if $(PRODUCER_PY) -c 'import importlib.util as u, sys; sys.exit(u.find_spec("gr00t") is None)'; then \
	  $(MAKE) --no-print-directory fixtures-produce GOLDEN_DIR=$(COVERAGE_DIR)/produced/golden \
	    GOLDEN_ALT_DIR=$(COVERAGE_DIR)/produced/golden-alt GOLDEN_VARIANTS_DIR=$(COVERAGE_DIR)/produced/golden-variants \
	    PRODUCER_RUN="$(PRODUCER_PY) -m coverage run -p --data-file=$(COVERAGE_DIR)/original/data \
	      '--include=$$($(PRODUCER_PY) -m path_coverage.scope original)'" && \
	  $(PRODUCER_PY) -m coverage combine -q --data-file=$(COVERAGE_DIR)/original/data $(COVERAGE_DIR)/original && \
	  $(PRODUCER_PY) -m coverage json -q --data-file=$(COVERAGE_DIR)/original/data -o $(COVERAGE_DIR)/original.json; \
	else echo "gr00t is not installed in the producer env: the original's side is not measured (make gr00t)"; fi
	$(CONSUMER_PY) -m path_coverage.report --port $(COVERAGE_DIR)/port.json --out $(COVERAGE_DIR)/coverage.md \
	  $$([ -f $(COVERAGE_DIR)/original.json ] && echo --original $(COVERAGE_DIR)/original.json)
