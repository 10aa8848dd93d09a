"""The upgrade role and dockerd's configuration on a real host: daemon.json holds "graph", which Engine 20.10.24
starts with and 26.1.5 refuses ("the following directives don't match any configuration option: graph"; the
knowledge base's replacement is "data-root"). Preflight does not block (the plan's edit_daemon_config step fixes
it); check mode shows the edit and changes nothing; a failure after the edit (a package that drops a
DOCKER_MIN_API_VERSION drop-in next to the engine, which dockerd 26.1.5 refuses to start with) rolls back with
daemon.json byte for byte, the drop-in it added gone and the operator's own drop-in untouched; then the upgrade
proper renames the key, dockerd 26.1.5 starts on the same data root, and the container and its volume are intact.
One host for the whole sequence (each role run on a lab host costs tens of seconds)."""
from __future__ import annotations

import json

import lab
from _upgrade import checksum, drop_host_sources, packages, play, running, seed, start, versions

DAEMON_JSON = "/etc/docker/daemon.json"
# odd layout on purpose: a rollback must give these bytes back, not a re-rendering of the same JSON
ORIGINAL = '{\n    "log-level": "info",\n    "graph": "/var/lib/docker",\n    "max-concurrent-downloads": 4\n}\n'
KEEP_DROPIN = "/etc/systemd/system/containerd.service.d/fs8c-keep.conf"
FAULT_PKG = "fs8c-min-api-dropin"
FAULT_DROPIN = "/etc/systemd/system/docker.service.d/fs8c-min-api.conf"
FAULT_REPO = "/opt/fs8c-fault"
# an operator's proxy drop-in with a password, readable by root only: the backup must not leak it
PROXY_DROPIN = "/etc/systemd/system/docker.service.d/http-proxy.conf"
PROXY_TEXT = '[Service]\nEnvironment="HTTPS_PROXY=http://fleet:s3cret-pw@proxy.invalid:3128"\n'
BACKUPS = "/var/backups/fleetsafe-container-engine"

# A package that ships a docker.service drop-in setting DOCKER_MIN_API_VERSION=1.17 (dockerd 26.1.5 refuses to
# start with it) and reloads systemd, served from a flat repository beside the lab's: the role installs it with
# the engine (upgrade_extra_packages), so the drop-in appears after the backup. The drop-in is a conffile, as
# every /etc file of a Debian package: removing the package (the rollback does) leaves it behind, and only the
# rollback's restore of the configuration takes it away.
BUILD_FAULT = f"""
mkdir -p /tmp/fault/DEBIAN /tmp/fault/etc/systemd/system/docker.service.d {FAULT_REPO}
printf '[Service]\\nEnvironment=DOCKER_MIN_API_VERSION=1.17\\n' > /tmp/fault{FAULT_DROPIN}
printf 'Package: {FAULT_PKG}\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: fleetsafe tests <t@example.invalid>\\n\
Description: test fault: a drop-in dockerd 26 refuses\\n' > /tmp/fault/DEBIAN/control
printf '#!/bin/sh\\nsystemctl daemon-reload || true\\n' > /tmp/fault/DEBIAN/postinst
chmod 755 /tmp/fault/DEBIAN/postinst
echo {FAULT_DROPIN} > /tmp/fault/DEBIAN/conffiles
dpkg-deb --build /tmp/fault {FAULT_REPO}/{FAULT_PKG}_1.0_all.deb >/dev/null
cd {FAULT_REPO} && python3 - <<'EOF'
import hashlib, os, subprocess
deb = '{FAULT_PKG}_1.0_all.deb'
data = open(deb, 'rb').read()
control = subprocess.run(['dpkg-deb', '-f', deb], capture_output=True, text=True, check=True).stdout.strip()
packages = control + '\\nFilename: ./%s\\nSize: %d\\nSHA256: %s\\n' % (deb, len(data), hashlib.sha256(data).hexdigest())
open('Packages', 'w').write(packages)
p = packages.encode()
open('Release', 'w').write('Date: Mon, 23 Nov 2026 00:00:00 UTC\\nSHA256:\\n %s %d Packages\\n'
                           % (hashlib.sha256(p).hexdigest(), len(p)))
EOF
"""


def stat(host, path: str) -> str:
    return host.exec(["stat", "-c", "%a %U:%G %s", path]).stdout.strip()


def daemon_json(host) -> str:
    return host.exec(["cat", DAEMON_JSON]).stdout


def docker_pid(host) -> str:
    return host.exec(["systemctl", "show", "-p", "MainPID", "--value", "docker"]).stdout.strip()


def assert_backup_private(host, backup_dir: str) -> None:
    """The backup folder is root's alone and every kept copy has its original's mode and owner: a non-root user
    (nobody) can list or read nothing, the password-holding drop-in's copy is 0600 root."""
    assert stat(host, BACKUPS).split()[:2] == ["700", "root:root"]
    copy = f"{backup_dir}/config/{PROXY_DROPIN.lstrip('/').replace('/', '__')}"
    assert host.exec(["cat", copy]).stdout == PROXY_TEXT
    assert stat(host, copy).split()[:2] == stat(host, PROXY_DROPIN).split()[:2] == ["600", "root:root"]
    assert stat(host, f"{backup_dir}/state.json").split()[0] == "600"
    for argv in (["find", BACKUPS], ["cat", copy], ["cat", f"{backup_dir}/state.json"], ["ls", backup_dir]):
        res = host.exec(["runuser", "-u", "nobody", "--", *argv], check=False)
        assert "s3cret" not in res.stdout and "Permission denied" in res.stderr, (argv, res)
        assert res.returncode != 0 and res.stdout.strip() in ("", BACKUPS), (argv, res)
    # inside the closed folder no folder is open to others either (a kept 0644 file stays 0644, as its original)
    assert host.exec(["find", backup_dir, "-type", "d", "-perm", "/o+rwx"]).stdout == ""


def test_refused_daemon_json_key_is_renamed_shown_in_check_mode_and_restored_by_a_rollback(
        lab_host_factory, ansible_env):
    host = start(lab_host_factory, "old")
    drop_host_sources(host)
    host.exec(["bash", "-c", f"cat > {DAEMON_JSON}"], input=ORIGINAL)
    host.sh(f"chmod 640 {DAEMON_JSON}\n"
            f"mkdir -p {KEEP_DROPIN.rsplit('/', 1)[0]}\n"
            f"printf '[Service]\\nLimitNOFILE=1048576\\n' > {KEEP_DROPIN} && chmod 600 {KEEP_DROPIN}\n"
            f"mkdir -p {PROXY_DROPIN.rsplit('/', 1)[0]} && install -m 600 /dev/null {PROXY_DROPIN}\n"
            f"printf '{PROXY_TEXT}' > {PROXY_DROPIN}\n"
            "systemctl daemon-reload && systemctl restart docker")
    assert versions(host)[0] == "20.10.24+dfsg1"     # 20.10 starts with "graph"
    data = seed(host, stops_on_term=True)
    json_stat, keep_stat = stat(host, DAEMON_JSON), stat(host, KEEP_DROPIN)
    keep_text = host.exec(["cat", KEEP_DROPIN]).stdout
    before, pid = packages(host), docker_pid(host)

    # a refused key without a replacement (oom-score-adjust: the daemon would lose what it does) still blocks;
    # "graph" beside it does not
    with_oom = ORIGINAL.replace('"log-level"', '"oom-score-adjust": 100,\n    "log-level"')
    host.exec(["bash", "-c", f"cat > {DAEMON_JSON}"], input=with_oom)
    blocked = play(host, ansible_env, "mid", check=True)
    assert blocked.rc != 0 and blocked.result.get("status") == "blocked", blocked
    assert [b["id"] for b in blocked.result["blockers"]] == ["daemon_option_refused"]
    assert '"oom-score-adjust"' in blocked.result["blockers"][0]["message"]
    host.exec(["bash", "-c", f"cat > {DAEMON_JSON}"], input=ORIGINAL)
    assert stat(host, DAEMON_JSON) == json_stat

    # check mode: the plan with the edit, its diff, no blocker, nothing changed
    run = play(host, ansible_env, "mid", check=True)
    assert run.rc == 0 and run.result["status"] == "planned", run
    assert run.result["blockers"] == []
    assert "edit_daemon_config engine" in run.out and "graph" in run.out and "-> data-root (rename)" in run.out
    assert '-    "graph": "/var/lib/docker",' in run.out and '+    "data-root": "/var/lib/docker",' in run.out
    assert daemon_json(host) == ORIGINAL and stat(host, DAEMON_JSON) == json_stat
    assert packages(host) == before and docker_pid(host) == pid

    # a failure after the edit: the rollback puts daemon.json and the drop-ins back as they were
    host.sh(BUILD_FAULT)
    source = f"{lab.REPO_LINE}\ndeb [trusted=yes] file:{FAULT_REPO} ./"
    run = play(host, ansible_env, "mid", upgrade_apt_source=source,
               upgrade_extra_packages={"runc": "", FAULT_PKG: ""})
    assert run.rc != 0 and run.result.get("status") == "rolled_back", run
    r = run.result
    assert [s["action"] for s in r["steps"]][0] == "edit_daemon_config"
    assert r["steps"][0]["result"]["edits"][0]["result"] == "renamed"
    assert r["failed_step"]["step"] == "restart_engine" and "DOCKER_MIN_API_VERSION" in r["failed_step"]["message"]
    assert daemon_json(host) == ORIGINAL and stat(host, DAEMON_JSON) == json_stat
    assert host.exec(["test", "-e", FAULT_DROPIN], check=False).returncode != 0
    assert host.exec(["cat", KEEP_DROPIN]).stdout == keep_text and stat(host, KEEP_DROPIN) == keep_stat
    assert r["rollback"]["config"] == {"restored": [DAEMON_JSON], "removed": [FAULT_DROPIN]}
    assert host.exec(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", FAULT_PKG]).stdout.strip() == "rc"  # removed
    assert versions(host) == ("20.10.24+dfsg1", "1.6.20~ds1") and packages(host) == before
    assert running(host)["keeper"] == "running" and checksum(host) == data
    assert r["rollback"]["smoke"] == "ok"
    assert_backup_private(host, r["backup_dir"])
    assert stat(host, PROXY_DROPIN).split()[:2] == ["600", "root:root"]

    # the upgrade proper: "graph" renamed "data-root" (same value, other keys and the mode kept), dockerd 26 up
    first_backup = r["backup_dir"]
    run = play(host, ansible_env, "mid", upgrade_backup_keep=1)
    assert run.rc == 0 and run.result["status"] == "upgraded", run
    # one run kept: the rollback's backup folder went, and the outcome says so
    assert run.result["backup_pruned"] == [first_backup]
    assert host.exec(["ls", BACKUPS]).stdout.split() == [run.result["backup_dir"].rsplit("/", 1)[1]]
    assert [s["action"] for s in run.result["steps"]] == [
        "edit_daemon_config", "upgrade_containerd", "upgrade_engine", "restart_engine"]
    edited = json.loads(daemon_json(host))
    assert list(edited.items()) == [("log-level", "info"), ("data-root", "/var/lib/docker"),
                                    ("max-concurrent-downloads", 4)]
    assert stat(host, DAEMON_JSON).split()[:2] == json_stat.split()[:2]
    assert versions(host) == ("26.1.5+dfsg1", "1.7.24~ds1")
    assert host.exec(["docker", "info", "--format", "{{.DockerRootDir}}"]).stdout.strip() == "/var/lib/docker"
    assert running(host)["keeper"] == "running" and checksum(host) == data
    assert host.exec(["cat", KEEP_DROPIN]).stdout == keep_text
    again = play(host, ansible_env, "mid")
    assert again.rc == 0 and again.result["status"] == "unchanged" and "changed=0" in again.out, again
