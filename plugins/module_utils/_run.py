# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# Running programs on the host for the modules that change it (engine_backup, engine_rollback, daemon_restart,
# shims_clear, apt_resolve): one call that raises OpError with the program's own words, and one wait loop.
# Unit tests replace run() with recorded answers.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import subprocess
import time


class OpError(Exception):
    """A step on the host could not be done; the message says what and why, in the program's own words."""


class Result(object):
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(argv, check=True, env=None, timeout=600):
    """Run ``argv`` (a list, never a shell); a Result. check=True raises OpError on a non-zero exit."""
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              env=env, timeout=timeout, check=False)
    except OSError as exc:
        res = Result(127, '', str(exc))
    except subprocess.TimeoutExpired:
        raise OpError('%s did not end within %ss' % (' '.join(argv), timeout)) from None
    else:
        res = Result(proc.returncode, proc.stdout, proc.stderr)
    if check and res.returncode != 0:
        raise OpError('%s failed (rc %s): %s' % (
            ' '.join(argv), res.returncode, (res.stderr or res.stdout).strip()[-2000:]))
    return res


def now():
    return time.time()


def wait_for(pred, timeout, what, on_tick=None, step=0.1):
    """Call ``pred`` until it is true (returns the time it was), at most ``timeout`` seconds; ``on_tick`` may
    raise to end the wait early (a daemon that failed). Raises OpError naming ``what`` on a timeout."""
    end = now() + timeout
    while now() < end:
        if pred():
            return now()
        if on_tick is not None:
            on_tick()
        time.sleep(step)
    raise OpError('timed out after %ss waiting for %s' % (timeout, what))
