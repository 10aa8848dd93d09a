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

# browser: Debian's chromium, installed when absent, for the HTML report's tests (tests/browser/chromium.py)
.PHONY: browser help venv collection lab lab-down lint ruff ansible-lint sanity unit integration molecule test demo \
        bench bench-fleet bench-upgrade build clean docs

help:
	@echo "make demo   - build the lab, 5 lab hosts at the old set: the check report, then a rollout to the mid set"
	@echo "make test   - everything: ruff, ansible-lint, build, ansible-test sanity, unit, integration, molecule"
	@echo "make lab | lab-down | browser | lint | sanity | unit | integration | molecule | bench | bench-fleet | bench-upgrade | build | docs | clean"

$(BIN)/.stamp: requirements-dev.txt requirements-lock.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check pip==$(PIP_VERSION)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt -c requirements-lock.txt
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

browser:
	$(PY) $(CURDIR)/tests/browser/chromium.py ensure

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
integration: venv lab browser
	$(BIN)/pytest -q -m lab -n $(LAB_WORKERS) --dist loadgroup --durations 30 tests/integration

# A test run must not change the machine's own Ansible setup: the scenarios turn molecule's prerun off (it would
# install the collection into ~/.ansible/collections, shadowing checkouts), and this target fails if a copy appears.
# The scenarios run MOLECULE_JOBS at a time (each has its own lab host, named after it); each one's output goes to
# build/molecule/SCENARIO.log, printed in full when it fails.
HOME_COPY := $(HOME)/.ansible/collections/ansible_collections/fleetsafe
MOLECULE_JOBS ?= 3
MOLECULE_LOGS := $(CURDIR)/build/molecule
molecule: venv lab
	@had=$$(test -e $(HOME_COPY) && echo yes || echo no); \
	  rm -rf $(MOLECULE_LOGS) && mkdir -p $(MOLECULE_LOGS); \
	  export FLEETSAFE_LAB_IMAGE=$$($(LAB) image) FLEETSAFE_LAB_REPO=$$($(LAB) repo-path); \
	  ls molecule/*/molecule.yml | cut -d/ -f2 | xargs -P $(MOLECULE_JOBS) -I{} sh -c \
	    't0=$$(date +%s); if $(BIN)/molecule test -s {} > $(MOLECULE_LOGS)/{}.log 2>&1; then r=passed; else r=FAILED; fi; \
	     echo "molecule {}: $$r in $$(( $$(date +%s) - t0 )) s ($(MOLECULE_LOGS)/{}.log)"; \
	     [ $$r = passed ] || { cat $(MOLECULE_LOGS)/{}.log; exit 1; }'; rc=$$?; \
	  if [ "$$had" = no ] && [ -e $(HOME_COPY) ]; then \
	    echo "make molecule: the run left a copy of the collection in $(HOME_COPY) (remove it; prerun must stay off)"; exit 1; fi; \
	  exit $$rc

SUITES := ruff ansible-lint build sanity unit integration molecule
test: $(SUITES)
	@echo "make test: every suite passed ($(SUITES))"
	@echo "suites: $(words $(SUITES)) passed, 0 failed"

# The demo: five lab hosts at the old set (one with a real API client, one with a fault only the rollout meets, one
# blocked), the check report first, then the rollout to the mid set: a canary, then a batch of three; the blocked host
# left out. The upgrade exits 2 because the faulty host rolled back, as intended: the last step checks the report says
# exactly what the demo set up, and fails otherwise.
DEMO := $(CURDIR)/build/demo
DEMO_HOST := $(or $(FLEETSAFE_LAB_PREFIX),fleetsafe-lab)
DEMO_RUN := ANSIBLE_DISPLAY_SKIPPED_HOSTS=false ANSIBLE_DISPLAY_OK_HOSTS=false $(BIN)/ansible-playbook -i $(DEMO)/inventory.yml
DEMO_TARGET := -e '{"upgrade_target": {"engine": "26.1.5", "containerd": "1.7.24"}}' -e fleetsafe_hosts=lab
DEMO_CLOCK = echo "[demo: $$(( $$(date +%s) - $$(cat $(DEMO)/started) )) s so far]"
demo: venv lab
	$(LAB) down
	rm -rf $(DEMO) && mkdir -p $(DEMO) && date +%s > $(DEMO)/started
	$(LAB) up 5 --set old --inventory $(DEMO)/inventory.yml
	$(DEMO_RUN) $(CURDIR)/playbooks/demo.yml
	@$(DEMO_CLOCK)
	@echo "== 1. check: the preflight of every host against the mid set (changes nothing) =="
	$(DEMO_RUN) fleetsafe.container_engine.check $(DEMO_TARGET) -e fleetsafe_check_report_only=true \
	  -e fleetsafe_report_dir=$(DEMO)/report
	@$(DEMO_CLOCK)
	@echo "== 2. upgrade: preflight, then a canary and a batch of 3; the blocked host left out =="
	rc=0; $(DEMO_RUN) fleetsafe.container_engine.upgrade $(DEMO_TARGET) -e fleetsafe_report_dir=$(DEMO)/report \
	  -e fleetsafe_upgrade_leave_blocked=$(DEMO_HOST)-5 -e fleetsafe_upgrade_canary=1 -e fleetsafe_upgrade_batch_size=3 \
	  -e fleetsafe_upgrade_stop_at_first_failure=false -e fleetsafe_upgrade_max_fail_percentage=50 || rc=$$?; \
	  $(BIN)/python -c "import json, sys; r = json.load(open('$(DEMO)/report/upgrade.json')); \
	    s = {h['name']: h['state'] for h in r['hosts']}; \
	    want = {'$(DEMO_HOST)-1': 'upgraded', '$(DEMO_HOST)-2': 'upgraded', '$(DEMO_HOST)-3': 'rolled_back', \
	            '$(DEMO_HOST)-4': 'upgraded', '$(DEMO_HOST)-5': 'blocked'}; \
	    sys.exit(0 if s == want else 'make demo: the report says %s, the demo set up %s' % (s, want))"; \
	  echo "make demo: ansible-playbook exited $$rc (2: a host rolled back, as the demo intends); the report says what the demo set up"
	@# the hosts themselves, not the report: the rolled-back and the blocked host at the old engine, their container
	@# running, its volume still holding what it wrote before the upgrade
	@for n in 3 5; do h=$(DEMO_HOST)-$$n; \
	  engine=$$(docker exec $$h docker version --format '{{.Server.Version}}'); \
	  running=$$(docker exec $$h docker inspect --format '{{.State.Running}}' demo-web); \
	  lines=$$(docker exec $$h docker exec demo-web wc -l /data/log | cut -d' ' -f1); \
	  echo "$$h: engine $$engine, container demo-web running=$$running, its volume's log $$lines lines (one every 5 s since the demo started it)"; \
	  [ "$$engine" = 20.10.24+dfsg1 ] && [ "$$running" = true ] || { echo "make demo: $$h is not as the demo left it"; exit 1; }; done
	@$(DEMO_CLOCK)
	@echo "The 5 lab hosts keep running for a look: 'docker exec -it $(DEMO_HOST)-1 bash'; 'make lab-down' removes them."

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

# One host's upgrade old -> mid and mid -> new with the upgrade role: tasks and seconds per host, the role's per-step
# seconds and each container's downtime, with UPGRADE_CONTAINERS running containers (the lab host is removed after).
UPGRADE_CONTAINERS ?= 1
UPGRADE_RUNS ?= 1
bench-upgrade: venv lab
	$(BIN)/python benchmarks/bench_upgrade.py --containers $(UPGRADE_CONTAINERS) --runs $(UPGRADE_RUNS)

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
