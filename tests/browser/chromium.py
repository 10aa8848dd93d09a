"""A real headless Chromium for tests of the HTML report: Debian's `chromium` package, installed when absent.

    python3 tests/browser/chromium.py ensure        # install Debian's chromium if it is not on PATH (root)
    python3 tests/browser/chromium.py render FILE.html OUT.png   # print the rendered DOM, save a screenshot

Stdlib only, so `make` can call it before the virtualenv exists. Every run gets a new, empty profile and no
network: the page must render from the file alone.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         # no network at all: a page that needs one renders without it, and the test sees that
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]


def binary() -> str | None:
    return shutil.which("chromium")


def ensure() -> str:
    """The chromium binary, installed from Debian's archive (apt-get install -y chromium) when absent."""
    found = binary()
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("[browser] chromium is not installed and this is not root: run "
                         "'apt-get install -y chromium' as root (Debian's package), then again")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "install", "-y", "--no-install-recommends", "chromium"],):
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if res.returncode != 0:  # package lists may be missing on a fresh machine
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, text=True, check=False)
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise SystemExit(f"[browser] apt-get install chromium failed:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    found = binary()
    if not found:
        raise SystemExit("[browser] chromium installed but not on PATH")
    return found


def run(args: list[str], timeout: float = 90) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="fleetsafe-chromium-") as profile:
        return subprocess.run([ensure(), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout, check=False)


def dump_dom(page: Path, size: str | None = None) -> str:
    """The DOM Chromium built from the file, after layout (in a window of SIZE, "W,H", when given)."""
    res = run(["--dump-dom", *([f"--window-size={size}"] if size else []), page.resolve().as_uri()])
    if res.returncode != 0 or "<html" not in res.stdout:
        raise AssertionError(f"chromium --dump-dom {page} -> {res.returncode}\n{res.stderr[-3000:]}")
    return res.stdout


def screenshot(page: Path, out: Path, size: str = "1280,2400") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    res = run([f"--screenshot={out.resolve()}", f"--window-size={size}", "--hide-scrollbars", page.resolve().as_uri()])
    if res.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        raise AssertionError(f"chromium --screenshot {page} -> {res.returncode}\n{res.stderr[-3000:]}")
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["ensure"]:
        print(ensure())
        return 0
    if argv[:1] == ["render"] and len(argv) == 3:
        print(dump_dom(Path(argv[1])))
        print(screenshot(Path(argv[1]), Path(argv[2])), file=sys.stderr)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
