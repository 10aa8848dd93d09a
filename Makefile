# fleetsafe.container_engine — the two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PY ?= python3
VENV := $(CURDIR)/.venv
# pip is pinned like every other tool: a new pip changed how build constraints reach isolated builds (26.x) and
# broke the suite unannounced; move this pin on purpose, with a make test from a fresh clone.
PIP_VERSION := 26.3
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/build/collections
SANITY_ROOT := $(CURDIR)/build/sanity/ansible_collections/fleetsafe/container_engine
LAB := $(PY) $(CURDIR)/tests/lab/lab.py
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export FLEETSAFE_LAB_CACHE ?= /var/cache/fleetsafe-lab
export PATH := $(BIN):$(PATH)
export ANSIBLE_FORCE_COLOR := 0
# pipelining on for every tool make runs (molecule writes its own ansible.cfg); see ansible.cfg
export ANSIBLE_PIPELINING := True
export PY_COLORS := 0

.PHONY: help venv collection lab lab-down lint ruff ansible-lint sanity unit integration molecule test demo \
        bench bench-fleet build clean docs

help:
	@echo "make demo   - build the lab, start 3 lab hosts at the old set, run the fleet playbook"
	@echo "make test   - everything: ruff, ansible-lint, build, ansible-test sanity, unit, integration, molecule"
	@echo "make lab | lab-down | lint | sanity | unit | integration | molecule | bench | bench-fleet | build | docs | clean"

$(BIN)/.stamp: requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check pip==$(PIP_VERSION)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The checkout, visible to Ansible as ansible_collections/fleetsafe/container_engine (no Galaxy).
collection: $(BIN)/.stamp
	@mkdir -p $(COLLECTIONS)/ansible_collections/fleetsafe
	@ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/fleetsafe/container_engine

venv: collection

lab:
	$(LAB) build

lab-down:
	$(LAB) down

ruff: venv
	$(BIN)/ruff check .

ansible-lint: venv
	$(BIN)/ansible-lint --offline

lint: ruff ansible-lint

# ansible-test wants the collection at .../ansible_collections/NS/NAME: test a copy of what git sees.
sanity: venv
	@rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -C $(SANITY_ROOT) -xf -
	@# ansible-test bootstraps pip in its venvs with a get-pip it downloads from a host these machines
	@# cannot reach; it takes a cached copy first, so give it one (tests/sanity/get_pip_shim.py).
	@pipv=$$($(BIN)/python -c "import re,ansible_test._internal.python_requirements as m; \
	  print(re.search(r\"pip='([0-9.]+)'\", open(m.__file__).read()).group(1))"); \
	  mkdir -p $(HOME)/.ansible/test/cache && \
	  cp tests/sanity/get_pip_shim.py $(HOME)/.ansible/test/cache/get_pip_$${pipv//./_}.py
	cd $(SANITY_ROOT) && git init -q . && git add -A && \
	  $(BIN)/ansible-test sanity --python 3.11 --color no --requirements --venv

unit: venv
	$(BIN)/pytest -q tests/unit

# Lab tests mostly wait on apt, daemons and healthchecks, so more workers than cores pay off; tests spread one by
# one (loadgroup), except files whose lab hosts are module-scoped (marked xdist_group). Each worker's lab
# hosts are its own (unique names).
LAB_WORKERS ?= 4
integration: venv lab
	$(BIN)/pytest -q -m lab -n $(LAB_WORKERS) --dist loadgroup --durations 15 tests/integration

# A test run must not change the machine's own Ansible setup: the scenarios turn molecule's prerun off (it would
# install the collection into ~/.ansible/collections, shadowing checkouts), and this target fails if a copy appears.
HOME_COPY := $(HOME)/.ansible/collections/ansible_collections/fleetsafe
molecule: venv lab
	@had=$$(test -e $(HOME_COPY) && echo yes || echo no); \
	  FLEETSAFE_LAB_IMAGE=$$($(LAB) image) FLEETSAFE_LAB_REPO=$$($(LAB) repo-path) $(BIN)/molecule test --all; \
	  if [ "$$had" = no ] && [ -e $(HOME_COPY) ]; then \
	    echo "make molecule: the run left a copy of the collection in $(HOME_COPY) (remove it; prerun must stay off)"; exit 1; fi

SUITES := ruff ansible-lint build sanity unit integration molecule
test: $(SUITES)
	@echo "make test: every suite passed ($(SUITES))"
	@echo "suites: $(words $(SUITES)) passed, 0 failed"

demo: venv lab
	$(LAB) down
	$(LAB) up 3 --inventory $(CURDIR)/build/demo/inventory.yml
	$(BIN)/ansible-playbook -i $(CURDIR)/build/demo/inventory.yml $(CURDIR)/playbooks/demo.yml
	@echo "The 3 lab hosts keep running for a look: 'docker exec -it fleetsafe-lab-1 bash'; 'make lab-down' removes them."

# Speed is measured here, never asserted in tests.
bench: venv lab
	$(BIN)/python benchmarks/bench_findings.py --plan
	$(BIN)/python benchmarks/bench_facts.py --runs 10

# A fleet on one controller: FLEET_HOSTS lab hosts (started and removed by the script), the facts playbook
# against `ansible -m ping`, paired. FLEET_PLAYBOOK takes any playbook that gathers the facts of every host.
FLEET_HOSTS ?= 50
FLEET_RUNS ?= 5
FLEET_PLAYBOOK ?= benchmarks/fleet_facts.yml
bench-fleet: venv lab
	$(BIN)/python benchmarks/bench_fleet.py --hosts $(FLEET_HOSTS) --runs $(FLEET_RUNS) --playbook $(FLEET_PLAYBOOK)

# The collection builds, and each role's argument_specs render with ansible-doc.
build: venv
	$(BIN)/ansible-galaxy collection build --force --output-path $(CURDIR)/build
	@# every role's argument_specs render (ansible-doc fails on a broken spec)
	for role in $$(ls roles); do $(BIN)/ansible-doc -t role fleetsafe.container_engine.$$role > /dev/null; done

# Generated documentation: the findings table from the registry, the facts contract from docs/facts.yml.
docs: venv
	$(BIN)/python tests/unit/findings_doc.py
	$(BIN)/python tests/unit/modules/facts_contract.py --write

clean:
	rm -rf build .pytest_cache .ruff_cache
