"""Findings from docker.daemon_flags and docker.host: dockerd flags a target refuses, and known-bad releases that
need a host condition (a kernel module missing, a container environment).

The flag cases start from facts recorded in a lab host (tests/unit/modules/fixtures/mid_flags_dropin.json:
26.1.5 started by a drop-in with --api-cors-header=*); what a real 28.5.2 does with that drop-in is checked in
tests/integration/test_truth_daemon_flags.py.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import lab_facts as L
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule as CF
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import FilterModule as UP

FIXTURES = Path(__file__).resolve().parent / "modules" / "fixtures"
DROPIN = "/etc/systemd/system/docker.service.d/flags.conf"
compat_findings = CF().filters()["compat_findings"]
upgrade_plan = UP().filters()["upgrade_plan"]


def recorded(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())["facts"]


def by_id(found, fid):
    return [f for f in found if f["id"] == fid]


def test_recorded_dropin_flag_is_a_blocker_naming_the_dropin():
    facts = recorded("mid_flags_dropin")
    assert by_id(compat_findings(facts, {"engine": "26.1.5"}), "daemon_option_refused") == []
    refused = by_id(compat_findings(facts, {"engine": "28.5.2"}), "daemon_option_refused")
    assert len(refused) == 1, refused
    finding = refused[0]
    assert finding["severity"] == "blocker"
    assert f"--api-cors-header * in {DROPIN}" in finding["message"]
    assert "api-cors-header" in finding["message"] and "--validate` reports it too" in finding["message"]
    assert DROPIN in finding["remedy"] and "systemctl daemon-reload" in finding["remedy"]
    # 29.0 no longer knows the flag at all
    unknown = by_id(compat_findings(facts, {"engine": "29.0.0"}), "daemon_option_refused")
    assert len(unknown) == 1 and '"unknown flag: --api-cors-header"' in unknown[0]["message"]


def test_recorded_dropin_flag_is_ignored_warning_on_27():
    ignored = by_id(compat_findings(recorded("mid_flags_dropin"), {"engine": "27.5.1"}), "daemon_option_ignored")
    assert len(ignored) == 1 and DROPIN in ignored[0]["message"]


def test_plan_does_not_claim_to_edit_a_flag():
    facts = recorded("mid_flags_dropin")
    actions = [step["action"] for step in upgrade_plan(facts, {"engine": "28.5.2"})]
    assert "upgrade_engine" in actions and "edit_daemon_config" not in actions
    # the same setting in daemon.json is something the plan edits
    facts = copy.deepcopy(facts)
    facts["docker"]["daemon_json"] = {"api-cors-header": "*"}
    plan = upgrade_plan(facts, {"engine": "28.5.2"})
    edits = [step for step in plan if step["action"] == "edit_daemon_config"]
    assert [step["from"] for step in edits] == ['"api-cors-header"']


def flags(*pairs, source="systemd_dropin", where="/etc/systemd/system/docker.service.d/x.conf"):
    return [{"flag": flag, "value": value, "source": source, "where": where} for flag, value in pairs]


def findings_for(engine, target, daemon_flags, **changes):
    return compat_findings(L.host(L.docker(engine, daemon_flags=daemon_flags, **changes)), {"engine": target})


@pytest.mark.parametrize("pairs,target,words", [
    ([("--graph", "/srv/docker")], "23.0.6", 'the "graph" config file option is deprecated'),
    ([("--graph", "/srv/docker")], "26.1.5", "unknown flag: --graph"),
    ([("--storage-opt", "overlay2.override_kernel_check=true")], "26.1.5", "overlay2.override_kernel_check"),
    ([("--log-driver", "logentries")], "26.1.5", 'plugin "logentries" not found'),
    ([("--log-driver", "fluentd"), ("--log-opt", "fluentd-async-connect=true")], "28.5.2",
     "unknown log opt 'fluentd-async-connect'"),
    ([("--oom-score-adjust", "100")], "26.1.5", "unknown flag: --oom-score-adjust"),
])
def test_flag_rows_and_their_options_are_judged(pairs, target, words):
    refused = by_id(findings_for("20.10.24", target, flags(*pairs)), "daemon_option_refused")
    assert len(refused) == 1 and words in refused[0]["message"], refused
    assert "/etc/systemd/system/docker.service.d/x.conf" in refused[0]["remedy"]


def test_tcp_listener_without_tlsverify_from_a_flag():
    found = findings_for("26.1.5", "28.5.2", flags(("--host", "tcp://0.0.0.0:2375")))
    assert len(by_id(found, "daemon_option_deprecated")) == 1
    assert by_id(findings_for("26.1.5", "28.5.2", flags(("--host", "tcp://0.0.0.0:2376"), ("--tlsverify", None))),
                 "daemon_option_deprecated") == []


def test_unit_flags_outrank_the_running_command_line():
    """The restart runs what the unit says: a flag already removed from the unit is no longer a problem."""
    running = flags(("--api-cors-header", "*"), source="cmdline", where="/proc/42/cmdline")
    unit = flags(("--host", "fd://"), source="systemd_unit", where="/lib/systemd/system/docker.service")
    assert by_id(findings_for("26.1.5", "28.5.2", running + unit), "daemon_option_refused") == []
    refused = by_id(findings_for("26.1.5", "28.5.2", running), "daemon_option_refused")
    assert len(refused) == 1 and "/proc/42/cmdline" in refused[0]["message"]
    assert "started by hand" in refused[0]["remedy"]


def test_bad_daemon_flags_is_one_clear_error():
    with pytest.raises(AnsibleFilterError) as info:
        findings_for("26.1.5", "28.5.2", flags(("--graph", "/x"), source="somewhere"))
    assert "docker.daemon_flags[0].source" in str(info.value) and "somewhere" in str(info.value)


def variables(*pairs, source="systemd_dropin", where="/etc/systemd/system/docker.service.d/env.conf"):
    return [{"name": name, "value": value, "source": source, "where": where} for name, value in pairs]


def test_variables_of_dockerds_environment_are_judged():
    """docker.daemon_environment: a variable a target no longer reads is a warning naming the file it is in."""
    env = variables(("DOCKER_ENABLE_DEPRECATED_PULL_SCHEMA_1_IMAGE", "1"), ("DOCKER_MIN_API_VERSION", "1.24"))
    found = findings_for("26.1.5", "28.5.2", [], daemon_environment=env)
    ignored = by_id(found, "daemon_option_ignored")
    assert len(ignored) == 1, ignored
    assert "DOCKER_ENABLE_DEPRECATED_PULL_SCHEMA_1_IMAGE=1 in /etc/systemd/system/docker.service.d/env.conf" \
        in ignored[0]["message"]
    assert "The variable is in /etc/systemd/system/docker.service.d/env.conf" in ignored[0]["remedy"]
    assert "Pushing and pulling with image manifest v2 schema 1" in ignored[0]["source"]
    assert by_id(found, "daemon_option_refused") == []
    # the same host against 28.1: still read, deprecated
    assert len(by_id(findings_for("26.1.5", "28.1.1", [], daemon_environment=env), "daemon_option_deprecated")) == 1


def test_unit_variables_outrank_the_running_environment():
    running = variables(("DOCKERD_DEPRECATED_CORS_HEADER", "1"), source="environment", where="/proc/42/environ")
    unit = variables(("DOCKER_MIN_API_VERSION", "1.24"))
    assert by_id(findings_for("26.1.5", "28.5.2", [], daemon_environment=running + unit), "daemon_option_ignored") == []
    ignored = by_id(findings_for("26.1.5", "28.5.2", [], daemon_environment=running), "daemon_option_ignored")
    assert len(ignored) == 1 and "/proc/42/environ" in ignored[0]["message"]
    assert "with this variable: /proc/42/environ" in ignored[0]["remedy"]


def test_bad_daemon_environment_is_one_clear_error():
    with pytest.raises(AnsibleFilterError) as info:
        findings_for("26.1.5", "28.5.2", [], daemon_environment=variables(("DOCKER_X", "1"), source="somewhere"))
    assert "docker.daemon_environment[0].source" in str(info.value) and "somewhere" in str(info.value)


def host_env(container=None, **modules):
    states = {name: None for name in ("ip_set", "ip_set_hash_net", "xt_set")}
    states["iptable_raw"] = "available"
    states.update(modules)
    return {"container": container, "virtualization": None, "kernel_release": None, "kernel_modules": states,
            "iptables_version": None, "iptables_backend": None, "firewalld_active": None}


def known_bad(engine, target, host, runc=None):
    components = {"runc": {"version": runc, "details": {}}} if runc else {}
    facts = L.host(L.docker(engine, host=host, components=components), rootless_daemons=[])
    return [f for f in compat_findings(facts, target) if f["id"].startswith("known_bad")]


def test_engine_28_0_0_without_ipset_modules_is_a_blocker():
    found = known_bad("26.1.5", {"engine": "28.0.0"},
                      host_env(ip_set="loaded", ip_set_hash_net="available", xt_set="missing"))
    assert [(f["id"], f["severity"]) for f in found] == [("known_bad_release", "blocker")]
    assert "engine-28.0.0-ipset-kernel-modules" in found[0]["message"] and "fixed in 28.0.1" in found[0]["message"]
    assert "28.0.1" in found[0]["remedy"] and "moby/moby#49530" in found[0]["source"]


@pytest.mark.parametrize("target,modules,expected", [
    ("28.0.0", {"ip_set": "available", "ip_set_hash_net": "builtin", "xt_set": "loaded"}, []),
    ("28.0.1", {"xt_set": "missing"}, []),
    ("28.0.0", {}, [("known_bad_unverified", "info")]),              # the lists could not be read
])
def test_engine_28_0_0_ipset_other_cases(target, modules, expected):
    found = known_bad("26.1.5", {"engine": target}, host_env(**modules))
    assert [(f["id"], f["severity"]) for f in found] == expected
    if expected:
        assert "cannot tell" in found[0]["message"] and "lsmod" in found[0]["remedy"]


@pytest.mark.parametrize("runc,container,expected", [
    ("1.3.3", "lxc", "runc-1.3.3-lxc-apparmor-sysctl"),
    ("1.3.4", "lxc", "runc-1.3.3-lxc-apparmor-sysctl"),
    ("1.2.8", "lxc", "runc-1.2.8-lxc-apparmor-sysctl"),
    ("1.2.8", "lxc-libvirt", "runc-1.2.8-lxc-apparmor-sysctl"),
    ("1.3.2", "lxc", None),
    ("1.1.5+ds1", "lxc", None),
    ("1.3.3", "docker", None),
    ("1.3.3", "none", None),
])
def test_runc_with_the_cve_fixes_inside_lxc(runc, container, expected):
    found = known_bad("28.5.2", {}, host_env(container), runc=runc)
    if expected is None:
        assert found == []
        return
    assert [(f["id"], f["severity"], f["component"]) for f in found] == [("known_bad_release", "warning", "runc")]
    assert expected in found[0]["message"] and "reopen fd 8: permission denied" in found[0]["message"]
    assert "lxc-pve 6.0.5-2" in found[0]["remedy"] and "opencontainers/runc#4968" in found[0]["source"]


def test_runc_in_unknown_container_environment_is_unverified():
    found = known_bad("28.5.2", {}, host_env(None), runc="1.3.3")
    assert [(f["id"], f["component"]) for f in found] == [("known_bad_unverified", "runc")]


def test_facts_without_host_or_flags_still_judged():
    """Facts gathered before docker.daemon_flags and docker.host existed: no flag or host finding, no error."""
    docker = L.docker("26.1.5")
    assert "daemon_flags" not in docker and "host" not in docker
    assert by_id(compat_findings(L.host(docker), {"engine": "28.5.2"}), "daemon_option_refused") == []


def test_engine_28_without_the_raw_table_warns():
    found = known_bad("26.1.5", {"engine": "28.5.2"}, host_env(iptable_raw="missing"))
    assert [(f["id"], f["severity"]) for f in found] == [("known_bad_release", "warning")]
    assert "DIRECT ACCESS FILTERING" in found[0]["message"] and "DOCKER_INSECURE_NO_IPTABLES_RAW" in found[0]["remedy"]
    assert known_bad("26.1.5", {"engine": "28.5.2"}, host_env(iptable_raw="available")) == []
    assert known_bad("26.1.5", {"engine": "27.5.1"}, host_env(iptable_raw="missing")) == []


def test_unknown_modules_are_news_only_when_the_target_enters_the_range():
    """A host already on 28.x with unreadable module lists gets no info every time it is judged."""
    unknown = host_env(iptable_raw=None)
    assert [f["id"] for f in known_bad("26.1.5", {"engine": "28.5.2"}, unknown)] == ["known_bad_unverified"]
    assert known_bad("28.5.2", {"engine": "28.5.2"}, unknown) == []
    assert known_bad("28.5.2", {}, unknown) == []


def test_facts_without_host_say_it_was_not_gathered():
    facts = L.host(L.docker("26.1.5"), rootless_daemons=[])
    found = [f for f in compat_findings(facts, {"engine": "28.5.2"}) if f["id"] == "known_bad_unverified"]
    assert len(found) == 1 and "engine-28-iptables-raw-table" in found[0]["message"]
    assert "docker.host was not gathered" in found[0]["message"]
