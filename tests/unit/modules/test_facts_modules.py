"""The five facts modules end to end (AnsibleModule, options, result shape) on recorded hosts, their
documentation against what they return, and the parsers on real outputs."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _common
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from kb_lookup import shim_protocols
from recording import ReplayHost

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROOT = Path(__file__).resolve().parents[3]
MODULES = ["docker_facts", "containerd_facts", "rootless_facts", "clients_facts", "container_engine_facts"]
PART_OF = {"docker_facts": "docker", "containerd_facts": "containerd", "rootless_facts": "rootless",
           "clients_facts": "clients"}


def module(name):
    return importlib.import_module(f"ansible_collections.fleetsafe.container_engine.plugins.modules.{name}")


def run_module(name, args, fixture, monkeypatch, capsys):
    data = json.loads((FIXTURES / f"{fixture}.json").read_text())
    calls = data["calls"]
    if name in ("clients_facts", "container_engine_facts") and not data.get("host_processes"):
        # recorded before host processes were listed: the fixture holds no answers for it
        args = {"host_processes": False, **args}
    monkeypatch.setattr(_common, "Host", lambda *a, **k: ReplayHost(calls))
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        module(name).main()
    out = json.loads(capsys.readouterr().out)
    return exit_info.value.code, out


@pytest.mark.parametrize("name", MODULES)
def test_module_returns_its_part_unchanged_in_check_mode(name, monkeypatch, capsys):
    code, out = run_module(name, {"_ansible_check_mode": True}, "mid_upgraded_no_restart", monkeypatch, capsys)
    assert code == 0 and out["changed"] is False and "failed" not in out
    facts = out["ansible_facts"]["container_engine"]
    expected = [PART_OF[name]] if name in PART_OF else ["docker", "containerd", "rootless", "clients"]
    assert sorted(facts) == sorted(expected)
    if "docker" in facts:
        assert out["can_talk_to_docker"] is True
    if "containerd" in facts:
        assert facts["containerd"]["restart_required"] is True


def test_gather_option_picks_parts(monkeypatch, capsys):
    _code, out = run_module("container_engine_facts", {"gather": ["containerd"]}, "mid", monkeypatch, capsys)
    assert list(out["ansible_facts"]["container_engine"]) == ["containerd"]
    assert "can_talk_to_docker" not in out


@pytest.mark.parametrize("docker_host", ["tcp://127.0.0.1:2375", "ssh://user@host", "npipe:////./pipe/docker_engine",
                                         "unix://relative.sock"])
def test_refuses_anything_but_a_unix_socket(docker_host, monkeypatch, capsys):
    code, out = run_module("docker_facts", {"docker_host": docker_host}, "old", monkeypatch, capsys)
    assert code == 1 and out["failed"] is True and out["can_talk_to_docker"] is False
    assert "must be a unix socket" in out["msg"]


def test_error_is_success_by_default_and_failure_on_request(monkeypatch, capsys):
    code, out = run_module("docker_facts", {}, "nodocker", monkeypatch, capsys)
    assert code == 0 and out["can_talk_to_docker"] is False
    assert "Docker is not installed" in out["ansible_facts"]["container_engine"]["docker"]["error"]
    code, out = run_module("docker_facts", {"fail_on_error": True}, "nodocker", monkeypatch, capsys)
    assert code == 1 and out["failed"] is True and out["can_talk_to_docker"] is False
    assert out["msg"].startswith("docker: Docker is not installed on this host")
    assert out["ansible_facts"]["container_engine"]["docker"]["can_talk_to_docker"] is False


def test_warnings_for_unreadable_files(monkeypatch, capsys):
    _code, out = run_module("docker_facts", {}, "old_unprivileged", monkeypatch, capsys)
    warnings = json.dumps(out.get("warnings") or out.get("_ansible_warnings") or out)
    assert "permission denied" in warnings and "become: true" in warnings


# --- documentation --------------------------------------------------------------------------------
def return_doc(name):
    return yaml.safe_load(module(name).RETURN)


def documented_paths(doc, prefix=""):
    paths = set()
    for key, spec in doc.items():
        path = f"{prefix}.{key}" if prefix else key
        paths.add(path)
        if spec.get("type") in ("dict", "list") and "contains" in spec:
            paths |= documented_paths(spec["contains"], path)
    return paths


def returned_paths(value, prefix, doc_paths):
    """Paths of value; a dict without documented children (free-form, e.g. labels) stops the walk."""
    paths = set()
    if isinstance(value, dict):
        free_form = not any(p.startswith(prefix + ".") for p in doc_paths)
        if free_form:
            return paths
        for key, item in value.items():
            path = f"{prefix}.{key}"
            paths.add(path)
            paths |= returned_paths(item, path, doc_paths)
    elif isinstance(value, list):
        for item in value:
            paths |= returned_paths(item, prefix, doc_paths)
    return paths


def part_doc_paths():
    """Every documented path under ansible_facts.container_engine: each part is documented by its own module
    (container_engine_facts refers to them)."""
    paths = set()
    for name in PART_OF:
        paths |= documented_paths(return_doc(name))
    return paths


@pytest.mark.parametrize("fixture", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_every_returned_key_is_documented(fixture):
    doc_paths = part_doc_paths()
    facts = json.loads((FIXTURES / f"{fixture}.json").read_text())["facts"]
    got = returned_paths(facts, "ansible_facts.container_engine", doc_paths)
    assert got - doc_paths == set()


def test_every_documented_key_is_returned():
    doc_paths = {p for p in part_doc_paths() if p.startswith("ansible_facts.container_engine.")}
    got = set()
    for path in FIXTURES.glob("*.json"):
        got |= returned_paths(json.loads(path.read_text())["facts"], "ansible_facts.container_engine", doc_paths)
    assert doc_paths - got == set()


@pytest.mark.parametrize("name", list(PART_OF))
def test_aggregate_documents_each_part_as_its_module_does(name):
    part = PART_OF[name]
    own = return_doc(name)["ansible_facts"]["contains"]["container_engine"]["contains"][part]
    agg = return_doc("container_engine_facts")["ansible_facts"]["contains"]["container_engine"]["contains"][part]
    # the aggregate describes the part as the part module does and points at it for the keys (no second copy)
    assert agg["type"] == own["type"] == "dict"
    own_description = own["description"] if isinstance(own["description"], list) else [own["description"]]
    assert agg["description"][:len(own_description)] == own_description
    assert f"M(fleetsafe.container_engine.{name})" in agg["description"][-1]
    assert "contains" not in agg and own["contains"]
    assert agg["returned"] == "when gathered (O(gather))"


def test_docs_match_argument_spec():
    for name in MODULES:
        doc = yaml.safe_load(module(name).DOCUMENTATION)
        assert doc["module"] == name
    spec = module("container_engine_facts").SPEC
    assert spec["gather"]["choices"] == ["all", "docker", "containerd", "rootless", "clients"]


def test_action_group_lists_every_module():
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert sorted(runtime["action_groups"]["facts"]) == sorted(MODULES)


# --- parsers on real outputs ------------------------------------------------------------------------
@pytest.mark.parametrize("raw,expected", [
    ("20.10.24+dfsg1", "20.10.24"), ("2.1.9+unknown", "2.1.9"), ("1.7.24~ds1", "1.7.24"),
    ("5:28.0.1-1~debian.12~bookworm", "28.0.1"), ("28.5.2+dfsg4-5", "28.5.2"), ("v1.2", "1.2.0"),
    ("1:4.13+dfsg1-1+deb12u2", "4.13.0"), ("", None), (None, None), ("unknown", None),
])
def test_upstream_version(raw, expected):
    assert P.upstream_version(raw) == expected


@pytest.mark.parametrize("image,expected", [
    ("caprover/caprover:1.12.0", ("caprover/caprover", "1.12.0")),
    ("localhost:5000/team/agent", ("localhost:5000/team/agent", None)),
    ("localhost:5000/team/agent:2", ("localhost:5000/team/agent", "2")),
    ("traefik@sha256:" + "a" * 64, ("traefik", None)),
    ("sha256:" + "b" * 64, (None, None)),
    ("busybox", ("busybox", None)),
])
def test_split_image(image, expected):
    assert P.split_image(image) == expected


def test_dpkg_query_keeps_installed_only():
    out = ("containerd\tii \t1.6.20~ds1-1+deb12u3\ndocker-ce\tun \t\ndocker.io\tii \t20.10.24+dfsg1-1+deb12u1+b6\n"
           "runc\trc \t1.1.5+ds1-1+deb12u1\ndocker-ce-cli\thi \t5:28.0.1-1~debian.12~bookworm\n")
    assert P.parse_dpkg_query(out) == {"containerd": "1.6.20~ds1-1+deb12u3",
                                       "docker.io": "20.10.24+dfsg1-1+deb12u1+b6",
                                       "docker-ce-cli": "5:28.0.1-1~debian.12~bookworm"}
    assert P.package_family({"docker-ce": "5:28.0.1-1~debian.12~bookworm"}) == "docker-ce"
    assert P.engine_package_version({"docker-ce": "5:28.0.1-1~debian.12~bookworm"}) == "28.0.1"


def test_unit_environment_forms():
    text = ('[Unit]\nDescription=x\n[Service]\nEnvironment="DOCKER_MIN_API_VERSION=1.17" "OTHER=1"\n'
            'Environment=DOCKER_MIN_API_VERSION=1.24\n# Environment=DOCKER_MIN_API_VERSION=1.12\n'
            'EnvironmentFile=-/etc/default/docker\n')
    assert P.parse_unit_environment(text, ("DOCKER_MIN_API_VERSION",)) == [
        ("DOCKER_MIN_API_VERSION", "1.17", "Environment"), ("DOCKER_MIN_API_VERSION", "1.24", "Environment"),
        (None, "/etc/default/docker", "EnvironmentFile")]
    assert P.parse_env_file('export DOCKER_MIN_API_VERSION="1.17"\n#DOCKER_OPTS=x\n',
                            ("DOCKER_MIN_API_VERSION",)) == [("DOCKER_MIN_API_VERSION", "1.17")]


def test_config_toml_version():
    assert P.parse_config_toml_version('version = 2\n\n[plugins]\n  version = 9\n') == 2
    assert P.parse_config_toml_version('# comment\n[plugins]\nversion = 3\n') is None
    assert P.parse_config_toml_version(None) is None


def test_containerd_version_outputs():
    assert P.parse_containerd_version("containerd github.com/containerd/containerd 1.6.20~ds1 "
                                      "1.6.20~ds1-1+deb12u3\n") == ("1.6.20~ds1", "1.6.20~ds1-1+deb12u3")
    assert P.parse_containerd_version("containerd github.com/containerd/containerd/v2 2.1.9+unknown \n") == (
        "2.1.9+unknown", None)


@pytest.mark.parametrize("version,accepted,produced", [
    ("1.6.20~ds1", [1], 1), ("1.7.24", [1, 2], 1), ("2.0.0", [1, 2, 3], 3), ("2.1.9+unknown", [1, 2, 3], 3),
    ("2.2.1", [1, 2, 3], 3), ("9.0.0", None, None), (None, None, None),
])
def test_shim_protocol_table(version, accepted, produced):
    """The protocol numbers the facts modules used to report now come from the knowledge base alone."""
    assert shim_protocols(version) == (accepted, produced)


def test_facts_modules_do_not_judge_the_shim_protocol():
    """One table only (data/knowledge_base/containerd.yml): module_utils keep none, the facts carry no verdict."""
    assert not hasattr(P, "SHIM_PROTOCOL") and not hasattr(P, "shim_protocol")
    source = "\n".join(path.read_text() for path in (ROOT / "plugins" / "module_utils").glob("*.py"))
    assert "shim_protocol" not in source
    for fixture in FIXTURES.glob("*.json"):
        containerd = json.loads(fixture.read_text())["facts"]["containerd"]
        assert not [key for key in containerd if key.startswith("shim_protocol")], fixture.name


def test_user_unit_from_cgroup():
    text = ("9:name=systemd:/docker/f0ab/user.slice/user-1000.slice/user@1000.service/app.slice/docker.service\n"
            "0::/docker/f0ab/user.slice/user-1000.slice/user@1000.service/app.slice/docker.service\n")
    assert P.user_unit_from_cgroup(text) == "docker.service"
    assert P.user_unit_from_cgroup("0::/user.slice/user-1000.slice/session-3.scope\n") is None


def test_cmdline_option():
    argv = ["rootlesskit", "--net=slirp4netns", "--port-driver", "builtin", "dockerd-rootless.sh"]
    assert P.cmdline_option(argv, "--net") == "slirp4netns"
    assert P.cmdline_option(argv, "--port-driver") == "builtin"
    assert P.cmdline_option(argv, "--mtu") is None


@pytest.mark.parametrize("value,expected", [
    ("unix:///var/run/docker.sock", "/var/run/docker.sock"),
    ("/run/user/1000/docker.sock", "/run/user/1000/docker.sock"),
    ("tcp://10.0.0.1:2376", None), ("unix://x.sock", None), ("", None),
])
def test_socket_path_of(value, expected):
    assert _common.socket_path_of(value) == expected


# --- bad options: one sentence naming the value, nothing read from the host ------------------------------
def run_refused(name, args, monkeypatch, capsys):
    """Run a module whose options must be refused before it reads anything: an empty recording fails any read."""
    monkeypatch.setattr(_common, "Host", lambda *a, **k: ReplayHost({}))
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        module(name).main()
    out = json.loads(capsys.readouterr().out)
    assert exit_info.value.code == 1 and out["failed"] is True and "ansible_facts" not in out
    return out["msg"]


@pytest.mark.parametrize("name", ["containerd_facts", "container_engine_facts"])
@pytest.mark.parametrize("value,expected", [
    ("run/containerd/containerd.sock", "containerd_socket must be an absolute path (/run/containerd/containerd.sock), "
                                       "not 'run/containerd/containerd.sock'."),
    ("tcp://10.0.0.5:1234", "containerd_socket must be the path of containerd's unix socket "
                            "(/run/containerd/containerd.sock), not 'tcp://10.0.0.5:1234': this module never opens a "
                            "network connection, so run it on the containerd host itself."),
    ("/" + "c" * 107, "containerd_socket is 108 bytes long, but a unix socket path has at most 107 bytes: '/" + "c" * 59
     + "\u2026" + "c" * 20 + "' (108 characters). Give the path the daemon really listens on."),
])
def test_containerd_socket_is_checked(name, value, expected, monkeypatch, capsys):
    assert run_refused(name, {"containerd_socket": value}, monkeypatch, capsys) == expected


def test_containerd_socket_at_the_limit_and_as_unix_url_are_accepted(monkeypatch, capsys):
    assert _common.containerd_socket_problem("/" + "c" * 106) == ("/" + "c" * 106, None)
    assert _common.containerd_socket_problem("unix:///run/containerd/containerd.sock") == (
        "/run/containerd/containerd.sock", None)
    code, out = run_module("containerd_facts", {"containerd_socket": "unix:///run/containerd/containerd.sock"}, "mid",
                           monkeypatch, capsys)
    assert code == 0 and out["ansible_facts"]["container_engine"]["containerd"]["running_version"] == "1.7.24"


def test_docker_host_longer_than_a_socket_path_is_refused(monkeypatch, capsys):
    msg = run_refused("docker_facts", {"docker_host": "unix:///" + "d" * 200}, monkeypatch, capsys)
    assert msg.startswith("docker_host is 201 bytes long, but a unix socket path has at most 107 bytes: '/ddd")
    assert msg.endswith("' (201 characters). Give the path the daemon really listens on.")


@pytest.mark.parametrize("api", ["abc", "1", "1.41.0", "1.x", ""])
def test_declared_api_version_must_be_an_api_version(api, monkeypatch, capsys):
    msg = run_refused("clients_facts", {"declared": [{"name": "captain", "image": "caprover/caprover:1.12.0"},
                                                     {"name": "ecs-agent", "api_version": api}]}, monkeypatch, capsys)
    assert msg == (f"declared[1].api_version of client 'ecs-agent' must be an Engine API version like \"1.41\", "
                   f"not '{api}'.")


def test_declared_api_versions_as_the_filters_read_them_are_accepted(monkeypatch, capsys):
    declared = [{"name": "a", "api_version": "1.21"}, {"name": "b", "api_version": "v1.44"}]
    _code, out = run_module("clients_facts", {"declared": declared}, "old", monkeypatch, capsys)
    assert [d["api_version"] for d in out["ansible_facts"]["container_engine"]["clients"]["declared"]] == [
        "1.21", "v1.44"]


def test_declared_program_and_version_are_returned_with_the_entry(monkeypatch, capsys):
    declared = [{"name": "backup-job", "program": "docker-py", "version": "4.2.2"},
                {"name": "docker-py", "version": "7.1.0"}, {"name": "ecs-agent", "api_version": "1.21"}]
    _code, out = run_module("clients_facts", {"declared": declared}, "old", monkeypatch, capsys)
    got = out["ansible_facts"]["container_engine"]["clients"]["declared"]
    expected = [("docker-py", "4.2.2"), ("docker-py", "7.1.0"), (None, None)]
    assert [(d.get("program"), d.get("version")) for d in got] == expected
    assert "program" not in got[2]   # entries without a version keep their shape


@pytest.mark.parametrize("entry,msg", [
    ({"name": "job", "program": "docker-py", "version": "four"},
     "declared[0].version of client 'job' must be the release it runs, like \"6.1.3\", not 'four'."),
    ({"name": "job", "program": "docker-py"},
     "declared[0] (client 'job') names program 'docker-py': give the version it runs too (version: \"6.1.3\")."),
])
def test_declared_program_needs_a_release(entry, msg, monkeypatch, capsys):
    assert run_refused("clients_facts", {"declared": [entry]}, monkeypatch, capsys) == msg


@pytest.mark.parametrize("args", [
    {"docker_host": "tcp://" + "a" * 5000},
    {"docker_host": "unix:///" + "a" * 5000},
    {"containerd_socket": "/" + "a" * 5000},
    {"declared": [{"name": "n" * 5000, "api_version": "v" * 5000}]},
    {"timeout": "t" * 5000},  # Ansible's own type check echoes the value: shortened too
    {"fail_on_error": "f" * 5000},
])
def test_a_5000_character_value_is_echoed_shortened(args, monkeypatch, capsys):
    name = "clients_facts" if "declared" in args else "container_engine_facts"
    msg = run_refused(name, args, monkeypatch, capsys)
    assert len(msg) < 400, msg
    assert "\u2026" in msg and "characters)" in msg
    assert "a" * 100 not in msg and "t" * 100 not in msg and "v" * 100 not in msg


@pytest.mark.parametrize("value,expected", [
    ("short", "'short'"),
    ("x" * 81, "'" + "x" * 81 + "'"),
    ("a" * 60 + "b" * 4920 + "c" * 20, "'" + "a" * 60 + "\u2026" + "c" * 20 + "' (5,000 characters)"),
    (1.4, "'1.4'"),
    ("nul\0byte", "'nul\\0byte'"),
])
def test_shown(value, expected):
    assert P.shown(value) == expected


def test_shorten_message_leaves_short_messages_and_shown_values_alone():
    assert P.shorten_message("timeout must be positive, not 0.") == "timeout must be positive, not 0."
    already = f"not {P.shown('z' * 5000)}: run it there."
    assert P.shorten_message(already) == already
    assert P.shorten_message("value " + "q" * 500 + " end") == "value " + "q" * 60 + "\u2026" + "q" * 20 + \
        " (500 characters) end"


def test_requirements_state_the_true_python_minimum():
    """The doc fragment's Python minimum is the one the module-side code really needs: every file parses with
    3.7's grammar, and `from __future__ import annotations` (3.7+) rules out 3.6."""
    import ast

    from ansible_collections.fleetsafe.container_engine.plugins.doc_fragments.facts import ModuleDocFragment
    files = sorted((ROOT / "plugins" / "module_utils").glob("*.py")) + [
        ROOT / "plugins" / "modules" / f"{name}.py" for name in MODULES]
    texts = {path.name: path.read_text() for path in files}
    for name, text in texts.items():
        ast.parse(text, filename=name, feature_version=(3, 7))
    minimum = "3.7" if any("from __future__ import annotations" in text for text in texts.values()) else "3.6"
    requirement = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["requirements"][0]
    assert requirement.startswith(f"Python {minimum} or newer on the host")


def test_unit_values_and_every_cmdline_option():
    socket_unit = ("[Unit]\nListenStream=/not/this\n[Socket]\n# ListenStream=/commented\n"
                   "ListenStream=/run/docker.sock\nListenStream=\nListenStream= 2375\nSocketMode=0660\n")
    assert P.parse_unit_values(socket_unit, "[Socket]", "ListenStream") == ["/run/docker.sock", "", "2375"]
    argv = ["dockerd", "-H", "fd://", "--host=unix:///run/alt.sock", "-H", "tcp://127.0.0.1:2375"]
    assert P.cmdline_options(argv, "--host", "-H") == ["fd://", "unix:///run/alt.sock", "tcp://127.0.0.1:2375"]
    assert P.cmdline_option(argv, "--host", "-H") == "tcp://127.0.0.1:2375"
