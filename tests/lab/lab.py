"""The real-engine lab: a Docker engine on this machine, a lab host image, an offline apt repository
with three real version sets, and lab hosts (systemd containers with their own Docker inside).

Stdlib only, so it runs before the project's virtualenv exists. Idempotent: every artefact is cached
outside the clone (``FLEETSAFE_LAB_CACHE``, default ``/var/cache/fleetsafe-lab``) under a key derived
from ``manifest.json`` and ``docker_ce/``; a missing or stale artefact is rebuilt, a present one is reused.

    python3 tests/lab/lab.py build            # engine + image + repo (cold ~4 min, warm ~1 s)
    python3 tests/lab/lab.py set-image old    # the lab host image with a version set installed (made once)
    python3 tests/lab/lab.py up 3             # start fleetsafe-lab-1..3, print the inventory path
    python3 tests/lab/lab.py down             # remove every lab host and its volume
    python3 tests/lab/lab.py status
    python3 tests/lab/lab.py engine-stop      # stop the dockerd/containerd this script started, if it did
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST_PATH = HERE / "manifest.json"
MANIFEST = json.loads(MANIFEST_PATH.read_text())
CACHE = Path(os.environ.get("FLEETSAFE_LAB_CACHE", "/var/cache/fleetsafe-lab"))
DOCKER_CE_DIR = HERE / "docker_ce"  # Docker's packaging files the docker-ce family is built from


def _content_key() -> str:
    """The manifest and Docker's packaging files: a change to either makes another key, so artefacts are rebuilt."""
    h = hashlib.sha256(MANIFEST_PATH.read_bytes())
    for path in sorted(DOCKER_CE_DIR.rglob("*")):
        if path.is_file():
            h.update(b"\0" + str(path.relative_to(HERE)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


KEY = _content_key()
IMAGE = f"fleetsafe-lab-host:{KEY}"
LABEL = "fleetsafe.lab"
PREFIX = os.environ.get("FLEETSAFE_LAB_PREFIX", "fleetsafe-lab")
# Lab hosts the tests start are named IT_PREFIX-...; with FLEETSAFE_LAB_PREFIX set, a parallel run's carry it too.
IT_PREFIX = f"{os.environ['FLEETSAFE_LAB_PREFIX']}-it" if os.environ.get("FLEETSAFE_LAB_PREFIX") else "fleetsafe-it"
DOCKER = os.environ.get("DOCKER", "docker")
LOG_DIR = CACHE / "log"
REPO_LINE = "deb [trusted=yes] file:/srv/repo ./"
SETS_FILE = "sets.json"  # the version sets as resolved when the repository was built

# Everything a systemd container with its own dockerd needs, without --privileged (which fails on
# these VMs: the bounding set lacks CAP_SYS_RESOURCE).
RUN_OPTS = [
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined",
    "--device-cgroup-rule", "a *:* rwm",
    "--stop-signal", "RTMIN+3", "--cgroupns", "host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
]


def log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], check: bool = True, capture: bool = False, **kw) -> subprocess.CompletedProcess:
    if capture:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("text", True)
    res = subprocess.run(cmd, check=False, **kw)  # noqa: S603 - argument lists only, never a shell
    if check and res.returncode != 0:
        err = (res.stderr or "").strip() if capture else ""
        raise SystemExit(f"[lab] command failed ({res.returncode}): {' '.join(cmd)}\n{err}")
    return res


def ok(cmd: list[str]) -> bool:
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode == 0


# --------------------------------------------------------------------------------------------
# The machine's Docker engine
# --------------------------------------------------------------------------------------------
def ensure_apt_packages(pkgs: list[str]) -> None:
    missing = [p for p in pkgs if "install ok installed" not in run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture=True, check=False).stdout]
    if not missing:
        return
    log(f"apt-get install {' '.join(missing)}")
    lists = Path("/var/lib/apt/lists")
    if not any(lists.glob("*_Packages*")):
        run(["apt-get", "update", "-qq"])
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # policy-rc.d keeps the packages from starting daemons: this script starts them itself.
    policy = Path("/usr/sbin/policy-rc.d")
    made_policy = not policy.exists()
    if made_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
    finally:
        if made_policy:
            policy.unlink()


def engine_up() -> bool:
    return ok([DOCKER, "info", "--format", "{{.ServerVersion}}"])


def ensure_engine() -> None:
    """Use a reachable engine; otherwise install Debian's docker.io and start it without systemd."""
    if engine_up():
        return
    if os.geteuid() != 0:
        raise SystemExit("[lab] no Docker engine is reachable and this is not root: start one, or run as root "
                         "on Debian so the lab can install docker.io")
    ensure_apt_packages(MANIFEST["engine_packages"])
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    sock = "/run/containerd/containerd.sock"
    if not _socket_alive(sock):  # a socket file left by a dead daemon does not count
        log("starting containerd")
        _daemon(["containerd"], LOG_DIR / "containerd.log")
        _wait(lambda: _socket_alive(sock), 30, "containerd socket")
    _drop_stale_pidfile(Path("/var/run/docker.pid"), "dockerd")
    log("starting dockerd")
    _daemon(["dockerd", "--containerd", "/run/containerd/containerd.sock"], LOG_DIR / "dockerd.log")
    _wait(engine_up, 60, f"dockerd (see {LOG_DIR / 'dockerd.log'})")


def _drop_stale_pidfile(pidfile: Path, comm: str) -> None:
    """A dockerd killed without a clean stop leaves its pid file; dockerd refuses to start while the
    PID it names is alive, even when that PID now belongs to another program."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        alive_as = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        alive_as = None
    if alive_as != comm:
        log(f"removing stale {pidfile} (pid {pid} is {'gone' if alive_as is None else alive_as})")
        pidfile.unlink()


def _socket_alive(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def _daemon(cmd: list[str], logfile: Path) -> None:
    with open(logfile, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=fh, stdin=subprocess.DEVNULL,  # noqa: S603
                                start_new_session=True)
    # pid and start time: `engine-stop` stops this process and never one that merely reuses its pid
    _pid_file(Path(cmd[0]).name).write_text(f"{proc.pid} {_start_time(proc.pid)}\n")


def _pid_file(name: str) -> Path:
    return LOG_DIR / f"{name}.lab-pid"


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), None when it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]


def engine_stop(names: tuple[str, ...] = ("dockerd", "containerd"), timeout: float = 90) -> list[str]:
    """Stop the daemons this script started on the machine (dockerd first, it needs containerd to stop
    its containers), identified by the pid and start time recorded when it started them. A daemon the
    lab did not start, such as an engine of the machine's own, is never touched. Returns what it stopped."""
    stopped = []
    for name in names:
        record = _pid_file(name)
        try:
            pid_text, start = record.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            log(f"{name}: no record that the lab started one ({record} is absent); left alone")
            continue
        if _start_time(pid) != start:
            log(f"{name}: pid {pid} recorded in {record} has exited; nothing to stop")
            record.unlink()
            continue
        log(f"stopping {name} (pid {pid}, started by the lab)")
        os.kill(pid, signal.SIGTERM)
        _wait(lambda pid=pid, start=start: _start_time(pid) != start, timeout, f"{name} (pid {pid}) to stop")
        record.unlink()
        stopped.append(name)
    return stopped


def _wait(pred, seconds: float, what: str) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.2)
    raise SystemExit(f"[lab] timed out waiting for {what}")


# --------------------------------------------------------------------------------------------
# A private apt state (never touches the machine's own sources)
# --------------------------------------------------------------------------------------------
APT_DIR = CACHE / "apt"


def apt_opts(status: Path | None = None) -> list[str]:
    return [
        "-o", f"Dir::Etc::SourceList={APT_DIR / 'sources.list'}",
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", f"Dir::Etc::Preferences={APT_DIR / 'preferences'}",
        "-o", "Dir::Etc::PreferencesParts=/dev/null",
        "-o", f"Dir::State::Lists={APT_DIR / 'lists'}",
        "-o", f"Dir::Cache={APT_DIR / 'cache'}",
        "-o", f"Dir::State::status={status or APT_DIR / 'empty-status'}",
        "-o", "APT::Install-Recommends=false",
        "-o", "Debug::NoLocking=true",
    ]


def ensure_apt_state() -> None:
    stamp = APT_DIR / f"updated-{KEY}"
    if stamp.exists():
        return
    for d in ("lists/partial", "cache/archives/partial"):
        (APT_DIR / d).mkdir(parents=True, exist_ok=True)
    (APT_DIR / "empty-status").touch()
    (APT_DIR / "sources.list").write_text(
        "".join(f"deb {MANIFEST['mirror']} {s} main\n" for s in MANIFEST["suites"]))
    # The image's own suite wins; other suites only where a version is asked for explicitly.
    (APT_DIR / "preferences").write_text(
        f"Package: *\nPin: release n={MANIFEST['image']['suite']}\nPin-Priority: 990\n\n"
        "Package: *\nPin: release o=Debian\nPin-Priority: 100\n")
    log("apt-get update (private state: " + ", ".join(MANIFEST["suites"]) + ")")
    run(["apt-get", *apt_opts(), "update", "-qq"])
    stamp.touch()


# --------------------------------------------------------------------------------------------
# The lab host image
# --------------------------------------------------------------------------------------------
def image_tar() -> Path:
    return CACHE / f"image-{KEY}.tar"


def image_status() -> Path:
    return CACHE / f"image-{KEY}.dpkg-status"


def ensure_image() -> None:
    if ok([DOCKER, "image", "inspect", IMAGE]):
        return
    if not image_tar().exists() or not image_status().exists():
        build_rootfs()
    log(f"docker import {image_tar().name} -> {IMAGE}")
    with open(image_tar(), "rb") as fh:
        run([DOCKER, "import", "-c", "ENV container=docker", "-c", 'CMD ["/sbin/init"]',
             "-", IMAGE], stdin=fh, stdout=subprocess.DEVNULL)


def build_rootfs() -> None:
    ensure_apt_packages(["debootstrap"])
    spec = MANIFEST["image"]
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=CACHE))
    rootfs = work / "rootfs"
    try:
        log(f"debootstrap {spec['suite']} (about 2 minutes)")
        t0 = time.monotonic()
        run(["debootstrap", "--variant=minbase", "--include=" + ",".join(spec["include"]),
             spec["suite"], str(rootfs), MANIFEST["mirror"]], capture=True)
        log(f"debootstrap done in {time.monotonic() - t0:.0f} s")
        _configure_rootfs(rootfs, spec)
        shutil.copyfile(rootfs / "var/lib/dpkg/status", image_status())
        tmp = image_tar().with_suffix(".partial")
        run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tmp), "."])
        tmp.rename(image_tar())
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _configure_rootfs(rootfs: Path, spec: dict) -> None:
    run(["chroot", str(rootfs), "apt-get", "clean"])
    for sub in ("var/lib/apt/lists",):
        for p in (rootfs / sub).glob("*"):
            if p.is_file():
                p.unlink()
    (rootfs / "etc/machine-id").write_text("")
    dbus_id = rootfs / "var/lib/dbus/machine-id"
    if dbus_id.exists() or dbus_id.is_symlink():
        dbus_id.unlink()
    for unit in spec["mask"]:
        link = rootfs / "etc/systemd/system" / unit
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to("/dev/null")
    # No apt source of its own: a lab host installs only from the read-only offline repository
    # mounted at /srv/repo, and whoever installs (a role, a test) names that source, the way fleets
    # use an internal mirror.
    (rootfs / "etc/apt/sources.list").write_text("")
    (rootfs / "etc/hostname").write_text("lab\n")
    # apt inside a container without the sandbox user's namespace tricks
    (rootfs / "etc/apt/apt.conf.d/99fleetsafe-lab").write_text(
        'APT::Sandbox::User "root";\nAcquire::Languages "none";\n')


# --------------------------------------------------------------------------------------------
# The offline repository: three version sets, rootless, firewalld and compose extras, a busybox image
# --------------------------------------------------------------------------------------------
def repo_dir() -> Path:
    return CACHE / f"repo-{KEY}"


def ensure_repo() -> None:
    repo = repo_dir()
    if (repo / "Release").exists() and (repo / "images/busybox.tar").exists():
        return
    ensure_apt_packages(["apt-utils"])  # apt-ftparchive
    ensure_apt_state()
    if not image_status().exists():
        build_rootfs()
    tmp = Path(str(repo) + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "images").mkdir(parents=True)
    t0 = time.monotonic()
    resolved = {name: {p: _resolve_version(p, v) for p, v in pins.items()}
                for name, pins in MANIFEST["sets"].items()}
    groups = [[f"{p}={v}" for p, v in s.items()] for s in resolved.values()]
    groups += [[_resolve_pin(pin) for pin in MANIFEST["extras"][extra]]
               for extra in ("rootless", "firewalld", "compose")]
    for group in groups:
        _download_closure(group, tmp)
    _build_busybox(tmp)
    ensure_docker_ce(tmp, resolved)
    with open(tmp / "Packages", "w") as fh:
        run(["apt-ftparchive", "packages", "."], cwd=tmp, stdout=fh)
    with open(tmp / "Release", "w") as fh:
        run(["apt-ftparchive", "release", "."], cwd=tmp, stdout=fh)
    (tmp / SETS_FILE).write_text(json.dumps(resolved, indent=2, sort_keys=True) + "\n")
    debs = len(list(tmp.glob("*.deb")))
    shutil.rmtree(repo, ignore_errors=True)
    tmp.rename(repo)
    _load_resolved_sets()
    log(f"offline repo: {debs} debs in {time.monotonic() - t0:.0f} s -> {repo}")


def _available_versions(pkg: str) -> list[str]:
    res = run(["apt-cache", *apt_opts(), "madison", pkg], capture=True, check=False)
    return [line.split("|")[1].strip() for line in res.stdout.splitlines() if line.count("|") >= 2]


def _resolve_version(pkg: str, version: str) -> str:
    """The manifest's version, or Debian's rebuild of it (VERSION+bN) when the mirror has replaced it.

    Debian's mirror serves only the newest build of a version: a binNMU (the same source rebuilt,
    e.g. 26.1.5+dfsg1-9+deb13u1 -> 26.1.5+dfsg1-9+deb13u1+b1) makes the exact pin unavailable.
    The rebuild has the same upstream version and source; anything else is an error.
    """
    available = _available_versions(pkg)
    if version in available:
        return version
    rebuilds = sorted((int(m.group(1)), v) for v in available
                      if (m := re.fullmatch(re.escape(version) + r"\+b(\d+)", v)))
    if not rebuilds:
        sys.exit(f"[lab] {pkg}={version} is not served by the mirror (it has: {', '.join(available) or 'nothing'}); "
                 "update tests/lab/manifest.json")
    chosen = rebuilds[-1][1]
    log(f"{pkg}={version} is no longer served; using Debian's rebuild {chosen}")
    return chosen


def _resolve_pin(pin: str) -> str:
    if "=" not in pin:
        return pin
    pkg, version = pin.split("=", 1)
    return f"{pkg}={_resolve_version(pkg, version)}"


def _load_resolved_sets() -> None:
    """Use the versions the built repository really holds (see _resolve_version) everywhere."""
    path = repo_dir() / SETS_FILE
    if path.exists():
        MANIFEST["sets"] = json.loads(path.read_text())


def _download_closure(pkgs: list[str], dest: Path) -> None:
    """Download pkgs and every dependency the lab host image does not already have."""
    archives = Path(tempfile.mkdtemp(prefix="archives-", dir=CACHE))
    try:
        (archives / "partial").mkdir()
        run(["apt-get", *apt_opts(image_status()), "-o", f"Dir::Cache::archives={archives}",
             "install", "-y", "-qq", "--download-only", "--allow-downgrades", *pkgs], capture=True)
        for deb in archives.glob("*.deb"):
            shutil.copyfile(deb, dest / deb.name)
    finally:
        shutil.rmtree(archives, ignore_errors=True)


def _build_busybox(dest: Path) -> None:
    """A tiny image for containers inside lab hosts: Debian's busybox-static, applets linked."""
    work = Path(tempfile.mkdtemp(prefix="busybox-", dir=CACHE))
    try:
        run(["apt-get", *apt_opts(), "download", MANIFEST["busybox"]], cwd=work, capture=True)
        deb = next(work.glob("*.deb"))
        run(["dpkg-deb", "-x", str(deb), str(work / "x")])
        root = work / "root"
        (root / "bin").mkdir(parents=True)
        for d in ("tmp", "proc", "sys", "dev", "etc"):
            (root / d).mkdir()
        shutil.copy2(work / "x/bin/busybox", root / "bin/busybox")
        applets = run([str(root / "bin/busybox"), "--list"], capture=True).stdout.split()
        for a in applets:
            if a != "busybox":
                (root / "bin" / a).symlink_to("busybox")
        (root / "etc/passwd").write_text("root:x:0:0:root:/:/bin/sh\n")
        run(["tar", "--numeric-owner", "--owner=0", "--group=0", "-C", str(root), "-cf",
             str(dest / "images/busybox.tar"), "."])
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Docker's own packages: docker-ce, docker-ce-cli, docker-ce-rootless-extras, containerd.io
# --------------------------------------------------------------------------------------------
# Docker's repository cannot be reached from these machines, its packaging can be read: the control data,
# units, default/init files and maintainer scripts in tests/lab/docker_ce/ are Docker's at each release
# (sources.json says where each file comes from). Around them go Debian's builds of the same upstream versions,
# taken from the Debian packages of the set named by 'binaries', so the daemons are real. dpkg-deb builds the
# packages on this machine; they are cached under a key of everything they are made of and copied into the
# offline repository, where apt sees them as it would see Docker's.
DOCKER_CE_RECIPE = 1  # bump when the way the packages are assembled changes
DOCKER_CE_PACKAGES = ("containerd.io", "docker-ce-cli", "docker-ce", "docker-ce-rootless-extras")


def docker_ce_pins(set_name: str) -> dict[str, str]:
    """The docker-ce family's packages of SET_NAME and their versions (the CLI and the rootless extras carry
    docker-ce's version, as in Docker's repository)."""
    spec = MANIFEST["docker_ce"]["sets"][set_name]
    return {"containerd.io": spec["containerd.io"], "docker-ce-cli": spec["docker-ce"],
            "docker-ce": spec["docker-ce"], "docker-ce-rootless-extras": spec["docker-ce"]}


def _deb_file_name(pkg: str, version: str) -> str:
    return f"{pkg}_{version.split(':', 1)[-1]}_amd64.deb"


def _docker_ce_sources(set_name: str, resolved: dict, repo: Path) -> dict[str, Path]:
    """The Debian packages whose binaries go into SET_NAME's docker-ce packages."""
    pins = resolved[MANIFEST["docker_ce"]["sets"][set_name]["binaries"]]
    names = {"engine": ("docker.io", pins["docker.io"]),  # before 26.x Debian's docker.io carries the CLI too
             "cli": ("docker-cli", pins["docker-cli"]) if "docker-cli" in pins else ("docker.io", pins["docker.io"]),
             "containerd": ("containerd", pins["containerd"]), "runc": ("runc", pins["runc"]),
             "tini": ("tini", resolved["old"]["tini"])}
    for pin in MANIFEST["extras"]["rootless"]:
        if pin.startswith("rootlesskit="):
            names["rootlesskit"] = ("rootlesskit", pin.split("=", 1)[1])
    found = {}
    for role, (pkg, version) in names.items():
        candidates = sorted(repo.glob(f"{pkg}_{version.split(':', 1)[-1]}*_amd64.deb"))
        if not candidates:
            raise SystemExit(f"[lab] docker-ce {set_name}: {pkg} {version} is not in the offline repository")
        found[role] = candidates[0]
    return found


def _docker_ce_key(resolved: dict, repo: Path) -> str:
    h = hashlib.sha256(json.dumps({"recipe": DOCKER_CE_RECIPE, "spec": MANIFEST["docker_ce"]["sets"]},
                                  sort_keys=True).encode())
    for path in sorted(DOCKER_CE_DIR.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(DOCKER_CE_DIR)).encode() + b"\0" + path.read_bytes())
    for set_name in sorted(MANIFEST["docker_ce"]["sets"]):
        for role, deb in sorted(_docker_ce_sources(set_name, resolved, repo).items()):
            h.update(f"{set_name}/{role}/{deb.name}".encode() + hashlib.sha256(deb.read_bytes()).digest())
    return h.hexdigest()[:12]


def ensure_docker_ce(repo: Path, resolved: dict) -> None:
    """Docker's packages of every docker-ce set, built once per key into CACHE/docker-ce-KEY, copied into REPO."""
    import fcntl
    key = _docker_ce_key(resolved, repo)
    built = CACHE / f"docker-ce-{key}"
    with open(CACHE / "docker-ce.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (built / "done").exists():
            t0 = time.monotonic()
            tmp = Path(tempfile.mkdtemp(prefix="docker-ce-build-", dir=CACHE))
            try:
                for set_name in MANIFEST["docker_ce"]["sets"]:
                    _build_docker_ce_set(set_name, _docker_ce_sources(set_name, resolved, repo), tmp)
                (tmp / "done").write_text(key + "\n")
                shutil.rmtree(built, ignore_errors=True)
                tmp.rename(built)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            log(f"docker-ce family: {len(list(built.glob('*.deb')))} packages built in "
                f"{time.monotonic() - t0:.1f} s -> {built}")
        for stale in CACHE.glob("docker-ce-*"):
            if stale.is_dir() and stale != built and not stale.name.startswith("docker-ce-build-"):
                shutil.rmtree(stale, ignore_errors=True)
    for deb in built.glob("*.deb"):
        shutil.copyfile(deb, repo / deb.name)
    (repo / "docker-ce.key").write_text(key + "\n")


def _control_stanzas(text: str) -> list[dict[str, str]]:
    """deb822 stanzas of a debian/control (comment lines dropped, continuation lines kept)."""
    stanzas, field = [], None
    for block in re.split(r"\n\s*\n", text.strip()):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and field:
                fields[field] += "\n" + line
            elif ":" in line:
                field, value = line.split(":", 1)
                fields[field] = value.strip()
        stanzas.append(fields)
    return stanzas


def _relations(value: str, subst: dict[str, str]) -> str:
    """A relation field on one line, ${...} substituted and empty entries dropped."""
    for var, repl in subst.items():
        value = value.replace("${" + var + "}", repl)
    parts = []
    for part in value.replace("\n", " ").split(","):
        restriction = re.search(r"\[([^]]*)\]", part)  # "aufs-tools [amd64]": kept on amd64, as dpkg-gencontrol does
        if restriction:
            arches = restriction.group(1).split()
            if "amd64" not in arches:
                continue
            part = part.replace(restriction.group(0), "")
        part = " ".join(part.split())
        if part:
            parts.append(part)
    return ", ".join(parts)


def _shlibs(*debs: Path) -> str:
    """The shared-library dependencies of the Debian builds inside (what dh_shlibdeps finds for them)."""
    seen: dict[str, str] = {}
    for deb in debs:
        for dep in run(["dpkg-deb", "-f", str(deb), "Depends"], capture=True).stdout.split(","):
            dep = dep.strip()
            if dep.startswith("lib"):
                seen.setdefault(dep.split()[0], dep)
    return ", ".join(seen.values())


# The parts debhelper 13 (bookworm) adds to the maintainer scripts for these packages (its templates, filled in as
# dh_installsystemd, dh_installinit and dh_installdeb do, in tests/lab/docker_ce/debhelper/): units enabled and
# started on install, restarted on upgrade (containerd.io sed's try-restart into restart; docker-ce's units are
# restarted by the default restart-after-upgrade), stopped on removal, the init script registered.
def _debhelper(name: str, **values: str) -> str:
    text = (DOCKER_CE_DIR / "debhelper" / name).read_text()
    for key, value in values.items():
        text = text.replace(f"#{key}#", value)
    return text


def _maintainer_scripts(units: list[str], init: str | None = None, postinst: str | None = None,
                        maintscript: str | None = None) -> dict[str, str]:
    quoted = " ".join(f"'{u}'" for u in units)
    helper = "".join(f"dpkg-maintscript-helper {line.strip()} -- \"$@\"\n"
                     for line in (maintscript or "").splitlines() if line.strip())
    added = _debhelper("maintscript", LINES=helper) if helper else ""
    post = added
    if init:
        post += _debhelper("postinst-init", SCRIPT=init)
    enable = "".join(_debhelper("postinst-systemd-enable", UNITFILE=f"'{u}'") for u in units)
    post += _debhelper("postinst-systemd", ENABLE=enable, UNITFILES=quoted)
    scripts = {
        "postinst": (postinst.replace("#DEBHELPER#", post.rstrip("\n")) if postinst
                     else "#!/bin/sh\nset -e\n" + post),
        "prerm": "#!/bin/sh\nset -e\n" + _debhelper("prerm-systemd", UNITFILES=quoted)
                 + (_debhelper("prerm-init", SCRIPT=init) if init else ""),
        "postrm": "#!/bin/sh\nset -e\n" + (_debhelper("postrm-init", SCRIPT=init) if init else "")
                  + _debhelper("postrm-systemd", UNITFILES=quoted) + added,
    }
    if helper:
        scripts["preinst"] = "#!/bin/sh\nset -e\n" + added
    return scripts


def _build_deb(out_dir: Path, root: Path, control: dict[str, str], conffiles: list[str],
               scripts: dict[str, str]) -> None:
    debian = root / "DEBIAN"
    debian.mkdir(parents=True, exist_ok=True)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    control = {**control, "Installed-Size": str(size // 1024 + 1)}
    order = ["Package", "Source", "Version", "Architecture", "Maintainer", "Installed-Size", "Pre-Depends",
             "Depends", "Recommends", "Suggests", "Enhances", "Conflicts", "Breaks", "Replaces", "Provides",
             "Section", "Priority", "Homepage", "Description"]
    lines = [f"{k}: {control[k]}" for k in order if control.get(k)]
    (debian / "control").write_text("\n".join(lines) + "\n")
    if conffiles:
        (debian / "conffiles").write_text("".join(f"{c}\n" for c in conffiles))
    for name, text in scripts.items():
        (debian / name).write_text(text if text.endswith("\n") else text + "\n")
        (debian / name).chmod(0o755)
    sums = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and not p.is_symlink() and rel.parts[0] != "DEBIAN":
            sums.append(f"{hashlib.md5(p.read_bytes()).hexdigest()}  {rel}\n")  # noqa: S324 - dpkg's md5sums
    (debian / "md5sums").write_text("".join(sums))
    # gzip at level 1: the packages live next to the lab hosts; Docker's own use xz, which takes minutes here
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", str(root),
         str(out_dir / _deb_file_name(control["Package"], control["Version"]))], capture=True)


def _put(root: Path, path: str, data: bytes, mode: int = 0o644) -> None:
    dest = root / path.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    dest.chmod(mode)


def _build_docker_ce_set(set_name: str, src: dict[str, Path], out: Path) -> None:
    spec = MANIFEST["docker_ce"]["sets"][set_name]
    pins = docker_ce_pins(set_name)
    engine_dir = DOCKER_CE_DIR / spec["engine_packaging"]
    ctd_dir = DOCKER_CE_DIR / "containerd"
    work = Path(tempfile.mkdtemp(prefix=f"docker-ce-{set_name}-", dir=out))
    x = {}
    for role, deb in src.items():
        x[role] = work / "x" / role
        x[role].mkdir(parents=True)
        run(["dpkg-deb", "-x", str(deb), str(x[role])])

    def binary(role: str, path: str) -> bytes:
        p = x[role] / path.lstrip("/")
        return (p.resolve() if p.is_symlink() else p).read_bytes()

    def fields(control: Path, package: str) -> dict[str, str]:
        stanzas = _control_stanzas(control.read_text())
        return {"source": stanzas[0], "binary": next(s for s in stanzas[1:] if s.get("Package") == package)}

    def control_for(control: Path, package: str, version: str, shlibs: str) -> dict[str, str]:
        c = fields(control, package)
        src_stanza, b = c["source"], c["binary"]
        subst = {"shlibs:Depends": shlibs, "misc:Depends": ""}
        out_fields = {"Package": package, "Version": version, "Architecture": "amd64",
                      "Maintainer": src_stanza["Maintainer"],
                      "Section": b.get("Section", src_stanza.get("Section")),
                      "Priority": b.get("Priority", src_stanza.get("Priority")),
                      "Homepage": b.get("Homepage", src_stanza.get("Homepage")), "Description": b["Description"]}
        if src_stanza["Source"] != package:
            out_fields["Source"] = src_stanza["Source"]
        for rel in ("Pre-Depends", "Depends", "Recommends", "Suggests", "Enhances", "Conflicts", "Breaks",
                    "Replaces", "Provides"):
            if b.get(rel):
                out_fields[rel] = _relations(b[rel], subst)
        return out_fields

    # containerd.io: containerd's binaries and runc, containerd's unit with Docker's path, Docker's stock config
    root = work / "containerd.io"
    ctd_bin = x["containerd"] / "usr/bin"
    for p in sorted(ctd_bin.iterdir()):
        if p.is_file() and not p.is_symlink():
            _put(root, f"/usr/bin/{p.name}", p.read_bytes(), 0o755)
    _put(root, "/usr/bin/runc", binary("runc", "/usr/sbin/runc"), 0o755)
    upstream_ctd = pins["containerd.io"].split("-")[0]
    _put(root, "/lib/systemd/system/containerd.service", (ctd_dir / f"containerd.service-{upstream_ctd}").read_bytes())
    _put(root, "/etc/containerd/config.toml", (ctd_dir / "config.toml").read_bytes())
    _build_deb(out, root, control_for(ctd_dir / f"control-{spec['containerd_packaging']}", "containerd.io",
                                      pins["containerd.io"], _shlibs(src["containerd"], src["runc"])),
               ["/etc/containerd/config.toml"], _maintainer_scripts(["containerd.service"]))

    control = engine_dir / "control"
    libexec_init = spec["engine_packaging"] != "engine-20.10"  # 23.0+ moved docker-init to /usr/libexec/docker
    # docker-ce-cli
    root = work / "docker-ce-cli"
    cli_role = "cli" if (x["cli"] / "usr/bin/docker").exists() else "engine"
    _put(root, "/usr/bin/docker", binary(cli_role, "/usr/bin/docker"), 0o755)
    _build_deb(out, root, control_for(control, "docker-ce-cli", pins["docker-ce-cli"], _shlibs(src["cli"])), [], {})
    # docker-ce: dockerd, docker-proxy, docker-init (tini, static), Docker's units, default and init files
    root = work / "docker-ce"
    _put(root, "/usr/bin/dockerd", binary("engine", "/usr/sbin/dockerd"), 0o755)
    _put(root, "/usr/bin/docker-proxy", binary("engine", "/usr/sbin/docker-proxy"), 0o755)
    _put(root, "/usr/libexec/docker/docker-init" if libexec_init else "/usr/bin/docker-init",
         binary("tini", "/usr/bin/tini-static"), 0o755)
    _put(root, "/lib/systemd/system/docker.service", (engine_dir / "docker.service").read_bytes())
    _put(root, "/lib/systemd/system/docker.socket", (engine_dir / "docker.socket").read_bytes())
    _put(root, "/etc/default/docker", (engine_dir / "docker-ce.docker.default").read_bytes())
    _put(root, "/etc/init.d/docker", (engine_dir / "docker-ce.docker.init").read_bytes(), 0o755)
    (root / "etc/docker").mkdir(parents=True, exist_ok=True)
    maintscript = engine_dir / "docker-ce.maintscript"
    _build_deb(out, root, control_for(control, "docker-ce", pins["docker-ce"], _shlibs(src["engine"])),
               ["/etc/default/docker", "/etc/init.d/docker"],
               _maintainer_scripts(["docker.service", "docker.socket"], init="docker",
                                   postinst=(engine_dir / "docker-ce.postinst").read_text(),
                                   maintscript=maintscript.read_text() if maintscript.exists() else None))
    # docker-ce-rootless-extras: rootlesskit and the rootless scripts of the same engine release
    root = work / "docker-ce-rootless-extras"
    _put(root, "/usr/bin/rootlesskit", binary("rootlesskit", "/usr/bin/rootlesskit"), 0o755)
    if spec["engine_packaging"] != "engine-28.x":  # 28.x no longer ships rootlesskit-docker-proxy
        _put(root, "/usr/bin/rootlesskit-docker-proxy",
             binary("rootlesskit", "/usr/bin/rootlesskit-docker-proxy"), 0o755)
    for script in ("dockerd-rootless.sh", "dockerd-rootless-setuptool.sh"):
        _put(root, f"/usr/bin/{script}", binary("engine", f"/usr/share/docker.io/contrib/{script}"), 0o755)
    _build_deb(out, root, control_for(control, "docker-ce-rootless-extras", pins["docker-ce-rootless-extras"],
                                      _shlibs(src["rootlesskit"])), [], {})
    shutil.rmtree(work)


# --------------------------------------------------------------------------------------------
# A real Docker API client for lab hosts: the "fleetsafe-lab/agent" images
# --------------------------------------------------------------------------------------------
# An agent that calls the Engine API at the version its release was built to speak (like the ECS
# agent or CapRover, which pin it in their code): busybox, the old set's docker CLI and the libc it
# links against. It loops on `docker ps`, logging failures, and its HEALTHCHECK makes its own call,
# so the container turns unhealthy exactly when the engine refuses its API version. An operator can
# still pin another version with DOCKER_API_VERSION in the container's environment.
# The image tarball (`docker save` format, both tags sharing one layer) is written into the offline
# repository as images/fleetsafe-agent.tar, keyed by its own inputs (not the manifest's key).
AGENT_IMAGE = "fleetsafe-lab/agent"
AGENT_TAR = "images/fleetsafe-agent.tar"
AGENT_RELEASES = {  # tag -> the Engine API version the release speaks
    "1.0.0": "1.23",  # too old for Engine 25+ (default minimum 1.24)
    "2.0.0": "1.24",  # accepted by Engines 20.10 to 28.5 (and refused by 29.0-29.2, minimum 1.44)
    "3.0.0": "1.43",  # too new for Engine 20.10 (maximum 1.41)
}
AGENT_SCRIPT = r"""#!/bin/sh
# fleetsafe lab agent: calls the Docker Engine API at the version this release speaks, forever.
export DOCKER_API_VERSION="${DOCKER_API_VERSION:-$(cat /etc/fleetsafe-agent/api-version)}"
trap 'exit 0' TERM INT
echo "fleetsafe-agent $(cat /etc/fleetsafe-agent/release) speaking Engine API $DOCKER_API_VERSION"
last=""
while :; do
  if out=$(docker ps --format '{{.Names}}' 2>&1); then state="ok: the engine answers API $DOCKER_API_VERSION"
  else state="error: $out"; fi
  [ "$state" = "$last" ] || echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $state"
  last="$state"
  sleep "${AGENT_INTERVAL:-5}" & wait $!
done
"""
AGENT_HEALTH = r"""#!/bin/sh
# Healthy only when the engine answers this agent's own API call.
export DOCKER_API_VERSION="${DOCKER_API_VERSION:-$(cat /etc/fleetsafe-agent/api-version)}"
exec docker version --format 'engine {{.Server.Version}} answers API {{.Client.APIVersion}}'
"""
AGENT_HEALTHCHECK = {"Test": ["CMD", "/usr/local/bin/fleetsafe-agent-health"], "Interval": 3_000_000_000,
                     "Timeout": 10_000_000_000, "StartPeriod": 2_000_000_000, "Retries": 2}
AGENT_EPOCH = 1767225600  # 2026-01-01: fixed times make the tarball reproducible


def agent_knowledge() -> dict:
    """Knowledge-base rows (the filters' ``knowledge=`` shape) for the lab agent's releases."""
    tags = sorted(AGENT_RELEASES, key=lambda t: tuple(int(x) for x in t.split(".")))
    rows = []
    for index, tag in enumerate(tags):
        upper = f",<{tags[index + 1]}" if index + 1 < len(tags) else ""
        rows.append({
            "id": f"fleetsafe-lab-agent-{tag.split('.')[0]}.x", "name": "fleetsafe-lab-agent",
            "images": [AGENT_IMAGE], "versions": f">={tag}{upper}", "api_version": AGENT_RELEASES[tag],
            "negotiates": False, "override": "DOCKER_API_VERSION in the container's environment",
            "source": "tests/lab/lab.py AGENT_RELEASES (the lab's own agent; checked on real engines by "
                      "tests/integration/test_api_clients.py)",
        })
    return {"clients": rows}


def agent_tar() -> Path:
    return repo_dir() / AGENT_TAR


def _agent_key() -> str:
    recipe = {"releases": AGENT_RELEASES, "script": AGENT_SCRIPT, "health": AGENT_HEALTH,
              "healthcheck": AGENT_HEALTHCHECK, "cli": MANIFEST["sets"]["old"]["docker.io"], "format": 1}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def ensure_agent_images() -> None:
    """images/fleetsafe-agent.tar in the offline repository (load it in a lab host with `docker load`)."""
    import fcntl
    key_file = agent_tar().with_suffix(".key")
    key = _agent_key()
    if agent_tar().exists() and key_file.exists() and key_file.read_text().strip() == key:
        return
    with open(CACHE / "agent.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # other checkouts may build the lab at the same time
        if agent_tar().exists() and key_file.exists() and key_file.read_text().strip() == key:
            return
        t0 = time.monotonic()
        _build_agent_images(agent_tar())
        tmp = key_file.with_suffix(".key.partial")
        tmp.write_text(key + "\n")
        tmp.rename(key_file)
        log(f"agent images {', '.join(f'{AGENT_IMAGE}:{t}' for t in AGENT_RELEASES)} in "
            f"{time.monotonic() - t0:.1f} s -> {agent_tar()} ({agent_tar().stat().st_size // 1_000_000} MB)")


def _tar_add(tar, name: str, data: bytes | None = None, mode: int = 0o644, link: str | None = None,
             kind: bytes | None = None) -> None:
    import tarfile
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.mode = AGENT_EPOCH, 0, 0, mode
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
    elif kind == tarfile.DIRTYPE:
        info.type = tarfile.DIRTYPE
    if data is not None:
        info.size = len(data)
        import io
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def _deb_files(deb: Path, wanted: list[str]) -> dict[str, bytes]:
    """Regular files (symlinks followed inside the package) from a .deb, by path without './'."""
    import io
    import tarfile
    data = run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture=False, stdout=subprocess.PIPE).stdout
    found = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name.lstrip("./"): m for m in tar.getmembers()}
        for path in wanted:
            member = members[path]
            while member.issym():
                target = member.linkname
                target = target.lstrip("/") if target.startswith("/") else os.path.normpath(
                    os.path.join(os.path.dirname(member.name.lstrip("./")), target))
                member = members[target]
            found[path] = tar.extractfile(member).read()
    return found


def _build_agent_images(dest: Path) -> None:
    import io
    import tarfile
    work = Path(tempfile.mkdtemp(prefix="agent-", dir=CACHE))
    try:
        cli_deb = next(repo_dir().glob(f"docker.io_{MANIFEST['sets']['old']['docker.io'].split(':')[-1]}_*.deb"))
        run(["apt-get", *apt_opts(), "download", "libc6"], cwd=work, capture=True)
        libc_deb = next(work.glob("libc6_*.deb"))
        cli = _deb_files(cli_deb, ["usr/bin/docker"])["usr/bin/docker"]
        libs = _deb_files(libc_deb, ["lib/x86_64-linux-gnu/libc.so.6", "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"])

        base = io.BytesIO()
        with tarfile.open(fileobj=base, mode="w", format=tarfile.GNU_FORMAT) as tar, \
                tarfile.open(repo_dir() / "images/busybox.tar") as busybox:
            for member in busybox.getmembers():  # the busybox rootfs, applets linked
                member.mtime = AGENT_EPOCH
                tar.addfile(member, busybox.extractfile(member) if member.isfile() else None)
            for d in ("lib", "lib/x86_64-linux-gnu", "lib64", "usr", "usr/bin", "usr/local", "usr/local/bin",
                      "var", "var/run", "etc/fleetsafe-agent"):
                _tar_add(tar, d, mode=0o755, kind=tarfile.DIRTYPE)
            for path, data in libs.items():
                _tar_add(tar, path, data, 0o755)
            _tar_add(tar, "lib64/ld-linux-x86-64.so.2", link="/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
            _tar_add(tar, "usr/bin/docker", cli, 0o755)
            _tar_add(tar, "usr/local/bin/fleetsafe-agent", AGENT_SCRIPT.encode(), 0o755)
            _tar_add(tar, "usr/local/bin/fleetsafe-agent-health", AGENT_HEALTH.encode(), 0o755)
        layers = {"base": base.getvalue()}
        for tag, api in AGENT_RELEASES.items():
            release = io.BytesIO()
            with tarfile.open(fileobj=release, mode="w", format=tarfile.GNU_FORMAT) as tar:
                _tar_add(tar, "etc/fleetsafe-agent/api-version", f"{api}\n".encode())
                _tar_add(tar, "etc/fleetsafe-agent/release", f"{tag}\n".encode())
            layers[tag] = release.getvalue()
        digests = {name: hashlib.sha256(data).hexdigest() for name, data in layers.items()}

        out = io.BytesIO()
        manifest = []
        with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for name, data in layers.items():
                _tar_add(tar, digests[name], mode=0o755, kind=tarfile.DIRTYPE)
                _tar_add(tar, f"{digests[name]}/layer.tar", data)
            created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(AGENT_EPOCH))
            for tag, api in AGENT_RELEASES.items():
                config = {
                    "architecture": "amd64", "os": "linux", "created": created,
                    "config": {
                        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp"],
                        "Cmd": ["/usr/local/bin/fleetsafe-agent"],
                        "Healthcheck": AGENT_HEALTHCHECK,
                        "Labels": {"org.opencontainers.image.title": AGENT_IMAGE,
                                   "org.opencontainers.image.version": tag,
                                   "io.fleetsafe.lab.engine-api-version": api},
                    },
                    "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digests['base']}", f"sha256:{digests[tag]}"]},
                    "history": [{"created": created, "created_by": "tests/lab/lab.py agent base"},
                                {"created": created, "created_by": f"tests/lab/lab.py agent {tag} (API {api})"}],
                }
                blob = json.dumps(config, sort_keys=True).encode()
                config_name = hashlib.sha256(blob).hexdigest() + ".json"
                _tar_add(tar, config_name, blob)
                manifest.append({"Config": config_name, "RepoTags": [f"{AGENT_IMAGE}:{tag}"],
                                 "Layers": [f"{digests['base']}/layer.tar", f"{digests[tag]}/layer.tar"]})
            _tar_add(tar, "manifest.json", json.dumps(manifest).encode())
        tmp = dest.with_suffix(".partial")
        tmp.write_bytes(out.getvalue())
        tmp.rename(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def prune_stale() -> None:
    """Drop artefacts of other manifest keys: the cache holds one lab, the current one. Images are removed only
    for the keys this cache held (its image-KEY.tar): a checkout with another manifest and its own
    FLEETSAFE_LAB_CACHE keeps its images while both run on one engine."""
    stale_keys = {p.name[len("image-"):-len(".tar")] for p in CACHE.glob("image-*.tar")} - {KEY}
    for p in [*CACHE.glob("image-*"), *CACHE.glob("repo-*"), *APT_DIR.glob("updated-*"),
              *CACHE.glob("rootfs-*"), *CACHE.glob("busybox-*"), *CACHE.glob("archives-*")]:
        if KEY not in p.name:
            log(f"removing stale {p.name}")
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for repo in (IMAGE.split(":", maxsplit=1)[0], SET_IMAGE_REPO):
        res = run([DOCKER, "images", "--format", "{{.Repository}}:{{.Tag}}", repo], capture=True, check=False)
        for image in res.stdout.split():
            if image_key(image) in stale_keys:
                run([DOCKER, "rmi", image], capture=True, check=False)  # refused while a host uses it


def image_key(image: str) -> str:
    """The manifest key of a lab image: fleetsafe-lab-host:KEY or fleetsafe-lab-set:KEY-SET-DIGEST."""
    return image.split(":", 1)[1].split("-", 1)[0]


def build() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    ensure_engine()
    ensure_image()
    ensure_repo()
    ensure_agent_images()
    prune_stale()
    log(f"lab ready in {time.monotonic() - t0:.1f} s (key {KEY}, cache {CACHE})")


# --------------------------------------------------------------------------------------------
# Lab hosts
# --------------------------------------------------------------------------------------------
def host_names(n: int, prefix: str = PREFIX) -> list[str]:
    return [f"{prefix}-{i}" for i in range(1, n + 1)]


def start_host(name: str, image: str = IMAGE) -> None:
    """Start one lab host (replacing any old one of that name); wait_host waits until systemd is up."""
    if ok([DOCKER, "container", "inspect", name]):
        remove_host(name)
    run([DOCKER, "run", "-d", "--name", name, "--hostname", name, "--label", f"{LABEL}=1",
         *RUN_OPTS, "-v", f"{name}-docker:/var/lib/docker", "--label", f"{LABEL}.volume={name}-docker",
         "-v", f"{repo_dir()}:/srv/repo:ro", image], capture=True)


# --------------------------------------------------------------------------------------------
# Lab host images with a version set installed
# --------------------------------------------------------------------------------------------
# Installing a set in a fresh lab host costs 10-30 s of apt on a loaded machine, and most tests start from a
# set. The same apt install, run once in a container of the lab host image with the offline repository
# mounted, is kept as an image of the machine's engine; hosts of that set start from it and systemd starts
# containerd and dockerd at boot, as after a restart of a host where the set was installed. The image's tag
# is a digest of what it is made of (the base image, the repository's index, the pins, the install script):
# a change to any of them makes another tag, built when first asked for.
SET_IMAGE_REPO = "fleetsafe-lab-set"
NO_DAEMON_STARTS = "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d\n"


FAMILIES = ("debian", "docker-ce")


def set_pins(set_name: str, family: str = "debian") -> dict[str, str]:
    """The packages and versions of a version set in a package family: Debian's (docker.io, containerd, runc, ...)
    or Docker's (docker-ce, docker-ce-cli, docker-ce-rootless-extras, containerd.io)."""
    if family not in FAMILIES:
        raise SystemExit(f"[lab] package family {family!r} does not exist: choose one of {', '.join(FAMILIES)}")
    return docker_ce_pins(set_name) if family == "docker-ce" else MANIFEST["sets"][set_name]


def install_script(set_name: str, family: str = "debian") -> str:
    """Shell lines that install SET_NAME's pinned versions of FAMILY from the offline repository."""
    pins = [f"{p}={v}" for p, v in set_pins(set_name, family).items()]
    return (f"echo '{REPO_LINE}' > /etc/apt/sources.list.d/fleetsafe-lab.list\n"
            "[ -f /var/lib/apt/lists/_srv_repo_._Packages ] || apt-get update -qq\n"
            f"apt-get install -y -qq --allow-downgrades {' '.join(pins)} >/tmp/install.log 2>&1 "
            "|| { cat /tmp/install.log; exit 1; }\n")


def _set_image_script(set_name: str, family: str = "debian") -> str:
    # no systemd runs while the image is made: policy-rc.d keeps the packages from starting daemons with
    # init scripts, and the units are enabled (as any install does) so the host's systemd starts them
    return ("export DEBIAN_FRONTEND=noninteractive\n" + NO_DAEMON_STARTS + install_script(set_name, family)
            + "rm -f /usr/sbin/policy-rc.d\n")


def set_image(set_name: str, family: str = "debian") -> str:
    """The lab host image with SET_NAME (of FAMILY) installed, made once (under a lock: xdist workers and other
    checkouts ask for it at the same time) and kept in the machine's engine."""
    import fcntl
    base = run([DOCKER, "image", "inspect", "-f", "{{.Id}}", IMAGE], capture=True).stdout.strip()
    script = _set_image_script(set_name, family)
    recipe = {"base": base, "index": hashlib.sha256((repo_dir() / "Release").read_bytes()).hexdigest(),
              "pins": set_pins(set_name, family), "script": script, "run": RUN_OPTS}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    label = set_name if family == "debian" else f"ce-{set_name}"
    tag = f"{SET_IMAGE_REPO}:{KEY}-{label}-{digest}"
    if ok([DOCKER, "image", "inspect", tag]):
        return tag
    with open(CACHE / f"set-image-{label}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ok([DOCKER, "image", "inspect", tag]):
            return tag
        t0 = time.monotonic()
        builder = f"{PREFIX}-set-image-{label}-{os.getpid()}"
        run([DOCKER, "rm", "-f", "-v", builder], capture=True, check=False)
        try:
            # /tmp and /run as in a host (tmpfs, so not in the image); /var/lib/docker an anonymous volume
            # (a host mounts its own there), so the image holds no engine state
            res = run([DOCKER, "run", "--name", builder, "--tmpfs", "/tmp", "--tmpfs", "/run",
                       "-v", "/var/lib/docker", "-v", f"{repo_dir()}:/srv/repo:ro", IMAGE,
                       "bash", "-ec", script], capture=True, check=False)
            if res.returncode != 0:
                raise SystemExit(f"[lab] installing the {label} set for its image failed:\n{res.stdout}{res.stderr}")
            run([DOCKER, "commit", "-c", 'CMD ["/sbin/init"]', "-c", "ENV container=docker",
                 builder, tag], capture=True)
        finally:
            run([DOCKER, "rm", "-f", "-v", builder], capture=True, check=False)
        log(f"{tag} made in {time.monotonic() - t0:.1f} s")
        made = run([DOCKER, "images", "--format", "{{.Repository}}:{{.Tag}}", SET_IMAGE_REPO], capture=True).stdout
        for image in made.split():  # the same set made of older parts
            if image != tag and image.split(":", 1)[1].startswith(f"{KEY}-{label}-"):
                run([DOCKER, "rmi", image], capture=True, check=False)
    return tag


def wait_host(name: str, seconds: float = 60) -> None:
    def ready() -> bool:
        res = subprocess.run([DOCKER, "exec", name, "systemctl", "is-system-running"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=False)
        return res.stdout.strip() in ("running", "degraded")
    _wait(ready, seconds, f"systemd in {name}")


def remove_host(name: str) -> None:
    run([DOCKER, "rm", "-f", "-v", name], capture=True, check=False)
    run([DOCKER, "volume", "rm", "-f", f"{name}-docker"], capture=True, check=False)


def lab_hosts() -> list[str]:
    res = run([DOCKER, "ps", "-a", "--filter", f"label={LABEL}=1", "--format", "{{.Names}}"],
              capture=True, check=False)
    return sorted(res.stdout.split())


class LabHost:
    """One lab host, for tests: start, run commands inside, install a version set, remove."""

    def __init__(self, name: str):
        self.name = name

    def start(self, set_name: str | None = None, family: str = "debian") -> LabHost:
        """Start the host; with SET_NAME, from that version set's image (see set_image): the set (of FAMILY)
        installed from the offline repository, its daemons started by systemd at boot."""
        start_host(self.name, set_image(set_name, family) if set_name else IMAGE)
        wait_host(self.name)
        if set_name:  # a daemon that failed at boot leaves systemd "degraded": say so here, not in a test
            self.sh("systemctl is-active -q containerd docker || "
                    "{ systemctl status --no-pager containerd docker; exit 1; }")
        return self

    def remove(self) -> None:
        remove_host(self.name)

    def exec(self, cmd: list[str], check: bool = True, env: dict | None = None,
             user: str | None = None, input: str | None = None) -> subprocess.CompletedProcess:
        opts = ["-i"] if input is not None else []
        for k, v in (env or {}).items():
            opts += ["-e", f"{k}={v}"]
        if user:
            opts += ["-u", user]
        res = subprocess.run([DOCKER, "exec", *opts, self.name, *cmd], input=input,
                             capture_output=True, text=True, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"{self.name}: {cmd} -> {res.returncode}\n{res.stdout}\n{res.stderr}")
        return res

    def sh(self, script: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.exec(["bash", "-ec", script], check=check)

    def install_set(self, set_name: str, restart: bool = True, no_restart_policy: bool = False,
                    family: str = "debian") -> None:
        """apt-get install one version set of FAMILY from the offline repo (hosts start with none).

        no_restart_policy: keep the packages from (re)starting daemons, as in the incidents where a
        package was upgraded under a running daemon.
        """
        script = "export DEBIAN_FRONTEND=noninteractive\n"
        if no_restart_policy:
            script += NO_DAEMON_STARTS
        script += install_script(set_name, family)
        if no_restart_policy:
            script += "rm -f /usr/sbin/policy-rc.d\n"
        if restart:
            script += "systemctl restart containerd docker\n"
        self.sh(script)

    def load_busybox(self) -> None:
        self.sh("docker image inspect busybox:lab >/dev/null 2>&1 || "
                "docker import /srv/repo/images/busybox.tar busybox:lab >/dev/null")

    def load_agent(self) -> None:
        """Load the fleetsafe-lab/agent images (every release in AGENT_RELEASES) into the host's engine."""
        self.sh(f"docker image inspect {AGENT_IMAGE}:{max(AGENT_RELEASES)} >/dev/null 2>&1 || "
                f"docker load -i /srv/repo/{AGENT_TAR} >/dev/null")


def inventory_text(names: list[str], group: str = "lab") -> str:
    """An inventory for lab hosts, reached with docker exec, carrying the manifest's version sets."""
    sets = {name: {
        "docker_engine_version": pins["docker.io"],
        "docker_engine_cli_version": pins.get("docker-cli", ""),
        "docker_engine_containerd_version": pins["containerd"],
        "docker_engine_extra_packages": {p: v for p, v in pins.items()
                                         if p not in ("docker.io", "docker-cli", "containerd")},
    } for name, pins in MANIFEST["sets"].items()}
    ce_sets = {name: {
        "docker_engine_version": pins["docker-ce"], "docker_engine_cli_version": pins["docker-ce-cli"],
        "docker_engine_containerd_version": pins["containerd.io"],
        "docker_engine_extra_packages": {"docker-ce-rootless-extras": pins["docker-ce-rootless-extras"]},
    } for name, pins in ((n, docker_ce_pins(n)) for n in MANIFEST["docker_ce"]["sets"])}
    inv = {"all": {"children": {group: {
        "hosts": {n: {} for n in names},
        "vars": {
            "ansible_connection": "community.docker.docker",
            "ansible_python_interpreter": "/usr/bin/python3",
            "fleetsafe_lab_apt_source": REPO_LINE,
            "fleetsafe_lab_sets": sets,
            "fleetsafe_lab_docker_ce_sets": ce_sets,
            "fleetsafe_lab_knowledge": agent_knowledge(),
        }}}}}
    return "# Generated by tests/lab/lab.py from tests/lab/manifest.json.\n" + json.dumps(inv, indent=2) + "\n"


def up(n: int, prefix: str, inventory: Path | None, set_name: str | None = None) -> list[str]:
    """Start N lab hosts PREFIX-1..N, with no engine or (set_name) booted from that version set's image."""
    build()
    names = host_names(n, prefix)
    image = set_image(set_name) if set_name else IMAGE
    t0 = time.monotonic()
    for name in names:
        start_host(name, image)
    for name in names:  # a loaded machine boots several hosts slowly
        wait_host(name, 60 + 30 * n)
    log(f"{n} lab host(s) up in {time.monotonic() - t0:.1f} s: {', '.join(names)}")
    if inventory:
        inventory.parent.mkdir(parents=True, exist_ok=True)
        inventory.write_text(inventory_text(names))
        log(f"inventory: {inventory}")
    return names


def down(prefix: str | None = PREFIX) -> None:
    """Remove lab hosts named PREFIX-N (every lab host when prefix is None) with their volumes."""
    names = lab_hosts() if engine_up() else []
    if prefix is not None:
        names = [n for n in names if n.rsplit("-", 1)[0] == prefix]
    for name in names:
        remove_host(name)
    log(f"removed {len(names)} lab host(s)" + (f": {', '.join(names)}" if names else ""))


def status() -> None:
    print(json.dumps({
        "key": KEY, "cache": str(CACHE), "engine": engine_up(),
        "image": ok([DOCKER, "image", "inspect", IMAGE]) if engine_up() else False,
        "image_tar": image_tar().exists(), "repo": (repo_dir() / "Release").exists(),
        "set_images": run([DOCKER, "images", "--format", "{{.Repository}}:{{.Tag}}", SET_IMAGE_REPO],
                          capture=True, check=False).stdout.split() if engine_up() else [],
        "hosts": lab_hosts() if engine_up() else [],
    }, indent=2))


_load_resolved_sets()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="engine, lab host image and offline repo (cached)")
    sub.add_parser("engine", help="make sure a Docker engine answers on this machine")
    sub.add_parser("engine-stop", help="stop the dockerd and containerd this script started (never others)")
    p_up = sub.add_parser("up", help="start N lab hosts")
    p_up.add_argument("n", type=int)
    p_up.add_argument("--prefix", default=PREFIX)
    p_up.add_argument("--inventory", type=Path)
    p_up.add_argument("--set", dest="set_name", choices=sorted(MANIFEST["sets"]),
                      help="boot the hosts from that version set's image (engine installed and running)")
    p_down = sub.add_parser("down", help="remove the lab hosts PREFIX-N and their volumes")
    p_down.add_argument("--prefix", default=PREFIX)
    p_down.add_argument("--all", action="store_true", help="every lab host, whatever its name (tests' too)")
    sub.add_parser("status", help="what is built and running")
    sub.add_parser("key", help="print the cache key")
    sub.add_parser("repo-path", help="print the offline repository's path")
    sub.add_parser("image", help="print the lab host image name")
    p_set = sub.add_parser("set-image", help="make (once) and print the image of a host at a version set")
    p_set.add_argument("set_name", choices=sorted(MANIFEST["sets"]))
    p_set.add_argument("--family", choices=FAMILIES, default="debian")
    sub.add_parser("agent-knowledge", help="print the lab agent's knowledge-base rows (JSON, for knowledge=)")
    args = ap.parse_args(argv)
    if args.cmd == "build":
        build()
    elif args.cmd == "engine":
        ensure_engine()
    elif args.cmd == "engine-stop":
        engine_stop()
    elif args.cmd == "up":
        up(args.n, args.prefix, args.inventory, args.set_name)
    elif args.cmd == "down":
        down(None if args.all else args.prefix)
    elif args.cmd == "status":
        status()
    elif args.cmd == "key":
        print(KEY)
    elif args.cmd == "repo-path":
        print(repo_dir())
    elif args.cmd == "image":
        print(IMAGE)
    elif args.cmd == "set-image":
        build()
        print(set_image(args.set_name, args.family))
    elif args.cmd == "agent-knowledge":
        print(json.dumps(agent_knowledge(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
