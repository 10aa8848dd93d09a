"""docker.daemon_flags and docker.host from responses recorded in lab hosts (fixtures/*.json).

mid_flags_dropin: docker.io 26.1.5 started by a drop-in that replaces ExecStart= (adds --api-cors-header=* and
--log-opt max-size=10m), iptables switched to the legacy backend. Every lab host reports what the machine's
kernel and the lab container show: systemd-detect-virt says docker / kvm, `iptables -V` 1.8.9, and the kernel's
module lists are not readable there (the lab kernel loads no modules), so the module states are null. The
variants below replace single recorded answers to cover what the lab cannot show (a host with loadable modules,
no systemd-detect-virt); each replaced answer is named.
"""
from __future__ import annotations

import pytest
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _gather as G
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from recording import ReplayHost, call_key
from test_facts_gather import gather, load, raw, variant

DROPIN = "/etc/systemd/system/docker.service.d/flags.conf"


def test_flags_of_the_running_dockerd_and_of_the_dropin_in_effect():
    facts, _ctx, data = gather("mid_flags_dropin")
    flags = facts["docker"]["daemon_flags"]
    pid = facts["docker"]["pid"]
    cmdline = raw(data, "read", f"/proc/{pid}/cmdline", binary=True)["result"]["__bytes__"]
    assert "--api-cors-header=*" in cmdline.split("\0")            # what the kernel says dockerd runs with
    expected = [("--host", "fd://"), ("--containerd", "/run/containerd/containerd.sock"),
                ("--api-cors-header", "*"), ("--log-opt", "max-size=10m")]
    assert [(f["flag"], f["value"]) for f in flags if f["source"] == "cmdline"] == expected
    assert {f["where"] for f in flags if f["source"] == "cmdline"} == {f"/proc/{pid}/cmdline"}
    # the drop-in's `ExecStart=` reset the unit's, so only its line counts
    assert [(f["flag"], f["value"], f["where"]) for f in flags if f["source"] != "cmdline"] == \
        [(flag, value, DROPIN) for flag, value in expected]
    assert {f["source"] for f in flags if f["source"] != "cmdline"} == {"systemd_dropin"}


def test_a_plain_unit_gives_its_own_execstart():
    facts, _ctx, data = gather("mid")
    unit = [f for f in facts["docker"]["daemon_flags"] if f["source"] != "cmdline"]
    text = raw(data, "read", "/lib/systemd/system/docker.service", binary=False)["result"]
    assert "ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock" in text
    assert [(f["flag"], f["value"], f["source"]) for f in unit] == [
        ("--host", "fd://", "systemd_unit"), ("--containerd", "/run/containerd/containerd.sock", "systemd_unit")]


def test_no_dockerd_no_unit_no_flags():
    facts, _ctx, _data = gather("nodocker")
    assert facts["docker"]["daemon_flags"] == []


@pytest.mark.parametrize("name", ["mid", "mid_flags_dropin", "old_unprivileged"])
def test_host_as_the_lab_host_shows_it(name):
    facts, _ctx, data = gather(name)
    host = facts["docker"]["host"]
    detect = raw(data, "run", ["/usr/bin/systemd-detect-virt", "--container"])["result"]
    assert detect[0] == 0 and host["container"] == detect[1].strip() == "docker"
    assert host["virtualization"] == raw(data, "run", ["/usr/bin/systemd-detect-virt", "--vm"])["result"][1].strip()
    version = raw(data, "run", ["/usr/sbin/iptables", "-V"])["result"][1]
    backend = "legacy" if name == "mid_flags_dropin" else "nf_tables"
    assert version.strip() == f"iptables v1.8.9 ({backend})"
    assert (host["iptables_version"], host["iptables_backend"]) == ("1.8.9", backend)
    assert host["firewalld_active"] is False
    release = host["kernel_release"]
    assert release and raw(data, "read", "/proc/sys/kernel/osrelease", binary=False)["result"].strip() == release
    # the lab kernel's module lists are not in the lab host: nothing is guessed
    assert raw(data, "read", f"/lib/modules/{release}/modules.dep", binary=False)["result"] is None
    assert set(host["kernel_modules"]) == set(G.KERNEL_MODULES)
    assert set(host["kernel_modules"].values()) == {None}


def _with_modules(name, proc_modules, builtin, dep):
    data = load(name)
    release = data["facts"]["docker"]["host"]["kernel_release"]
    return variant(name, {
        ("read", ("/proc/modules",), (("binary", False),)): {"result": proc_modules},
        ("read", (f"/lib/modules/{release}/modules.builtin",), (("binary", False),)): {"result": builtin},
        ("read", (f"/lib/modules/{release}/modules.dep",), (("binary", False),)): {"result": dep},
    })


# a Debian 12 kernel's lists, cut down (the format of /proc/modules, modules.builtin and modules.dep)
PROC_MODULES = ("overlay 163840 0 - Live 0x0000000000000000\n"
                "br_netfilter 32768 0 - Live 0x0000000000000000\n"
                "bridge 311296 1 br_netfilter, Live 0x0000000000000000\n"
                "xt_MASQUERADE 16384 1 - Live 0x0000000000000000\n")
BUILTIN = "kernel/net/ipv4/netfilter/ip_tables.ko\nkernel/drivers/net/veth.ko\n"
DEP = ("kernel/net/netfilter/ipset/ip_set.ko.xz: kernel/net/netfilter/nfnetlink.ko.xz\n"
       "kernel/net/netfilter/ipset/ip_set_hash_net.ko.xz: kernel/net/netfilter/ipset/ip_set.ko.xz\n"
       "kernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz\n")


def test_module_states_loaded_builtin_available_missing():
    calls = _with_modules("mid", PROC_MODULES, BUILTIN, DEP)
    host = G.gather_docker(G.Context(ReplayHost(calls)))["host"]
    modules = host["kernel_modules"]
    assert modules["overlay"] == modules["br_netfilter"] == modules["xt_MASQUERADE"] == "loaded"
    assert modules["ip_tables"] == modules["veth"] == "builtin"
    assert modules["ip_set"] == modules["ip_set_hash_net"] == "available"
    assert modules["xt_set"] == modules["nf_tables"] == "missing"


def test_module_lists_unreadable_leave_unloaded_modules_unknown():
    calls = _with_modules("mid", PROC_MODULES, None, DEP)      # modules.builtin absent: missing cannot be told
    modules = G.gather_docker(G.Context(ReplayHost(calls)))["host"]["kernel_modules"]
    assert modules["overlay"] == "loaded" and modules["ip_set"] == "available" and modules["xt_set"] is None


def test_without_systemd_detect_virt_the_container_comes_from_pid_1():
    calls = variant("mid", {("which", ("systemd-detect-virt",), ()): {"result": None}})
    calls[call_key("read", ("/run/systemd/container",), {"binary": False})] = {"result": None}
    calls[call_key("read", ("/proc/1/environ",), {"binary": True})] = {
        "result": {"__bytes__": "PATH=/usr/bin\0container=lxc\0"}}
    host = G.gather_docker(G.Context(ReplayHost(calls)))["host"]
    assert (host["container"], host["virtualization"]) == ("lxc", None)
    calls[call_key("read", ("/proc/1/environ",), {"binary": True})] = {"permission_error": "denied"}
    ctx = G.Context(ReplayHost(calls))
    assert G.gather_docker(ctx)["host"]["container"] is None
    assert any("/proc/1/environ" in note and "become: true" in note for note in ctx.notes)


@pytest.mark.parametrize("argv,expected", [
    (["/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"],
     [("--host", "fd://"), ("--containerd", "/run/containerd/containerd.sock")]),
    (["dockerd", "-g", "/srv/docker", "--debug", "--iptables=false", "-D", "--log-opt", "max-size=10m"],
     [("--graph", "/srv/docker"), ("--debug", None), ("--iptables", "false"), ("--debug", None),
      ("--log-opt", "max-size=10m")]),
    (["dockerd", "-Hunix:///run/d.sock", "--tlsverify", "$DOCKER_OPTS"],
     [("--host", "unix:///run/d.sock"), ("--tlsverify", None)]),
    (["dockerd"], []),
])
def test_dockerd_flags(argv, expected):
    assert P.dockerd_flags(argv) == expected


def test_execstart_resets_and_prefixes():
    unit = "[Unit]\nDescription=x\n[Service]\nExecStart=/usr/bin/dockerd -H fd://\n"
    dropin = "[Service]\nExecStart=\nExecStart=-/usr/bin/dockerd --graph /srv\n"
    reset_only = "[Service]\nExecStart=\n"
    assert P.effective_exec_start([("u", unit)]) == ("u", ["/usr/bin/dockerd", "-H", "fd://"])
    assert P.effective_exec_start([("u", unit), ("d", dropin)]) == ("d", ["/usr/bin/dockerd", "--graph", "/srv"])
    assert P.effective_exec_start([("u", unit), ("d", reset_only)]) == (None, [])
    assert P.effective_exec_start([]) == (None, [])


@pytest.mark.parametrize("text,expected", [
    ("iptables v1.8.9 (nf_tables)\n", ("1.8.9", "nf_tables")),
    ("iptables v1.8.7 (legacy)\n", ("1.8.7", "legacy")),
    ("iptables v1.6.1\n", ("1.6.1", None)),
    ("", (None, None)),
])
def test_iptables_version(text, expected):
    assert P.parse_iptables_version(text) == expected


def test_flags_in_an_environment_variable_of_the_unit_name_the_file_that_sets_them():
    """The old Debian way: ExecStart=... $DOCKER_OPTS with DOCKER_OPTS in /etc/default/docker."""
    dropin = "/etc/systemd/system/docker.service.d/opts.conf"
    calls = variant("mid", {
        ("listdir", ("/etc/systemd/system/docker.service.d",), ()): {"result": ["min-api.conf", "opts.conf"]},
        ("read", (dropin,), (("binary", False),)): {"result": (
            "[Service]\nEnvironmentFile=-/etc/default/docker\nExecStart=\n"
            "ExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS ${MORE}\n")},
        ("read", ("/etc/default/docker",), (("binary", False),)): {"result": (
            "# Docker Upstart and SysVinit configuration file\n"
            'DOCKER_OPTS="--graph /srv/docker --api-cors-header *"\n')},
    })
    docker = G.gather_docker(G.Context(ReplayHost(calls)))
    unit = [(f["flag"], f["value"], f["where"]) for f in docker["daemon_flags"] if f["source"] != "cmdline"]
    assert unit == [("--host", "fd://", dropin), ("--graph", "/srv/docker", "/etc/default/docker"),
                    ("--api-cors-header", "*", "/etc/default/docker")]     # MORE is set nowhere: nothing
