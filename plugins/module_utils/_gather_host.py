# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# The host part of docker's facts: container or VM, kernel release and modules, iptables and firewalld.
# Part of the facts gathering that module_utils/_gather.py names.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_context import find_processes


# Kernel modules Docker's networking and storage use (moby/moby contrib/check-config.sh; ip_set,
# ip_set_hash_net and xt_set: Engine 28.0.0 only, moby/moby#49524; iptable_raw / ip6table_raw: the raw-table
# rules of 28.0 and later, moby/moby#49557)
KERNEL_MODULES = ('bridge', 'br_netfilter', 'veth', 'overlay', 'ip_tables', 'ip6_tables', 'iptable_filter',
                  'iptable_nat', 'iptable_raw', 'ip6table_raw', 'nf_nat', 'nf_conntrack', 'nf_tables', 'nft_compat',
                  'xt_conntrack', 'xt_MASQUERADE', 'xt_addrtype', 'ip_set', 'ip_set_hash_net', 'xt_set')


def empty_host():
    return {'container': None, 'virtualization': None, 'kernel_release': None,
            'kernel_modules': {name: None for name in KERNEL_MODULES}, 'iptables_version': None,
            'iptables_backend': None, 'firewalld_active': None}


def detect_virt_argv(ctx, option):
    tool = ctx.host.which('systemd-detect-virt')
    return [tool, option] if tool else None


def _detect_virt(ctx, option):
    argv = detect_virt_argv(ctx, option)
    if not argv:
        return None
    rc, out, _err = ctx.host.run(argv)
    answer = out.strip()
    # rc 0 and a name, or rc 1 and "none"; anything else (no answer) is unknown
    return answer if answer and (rc == 0 or answer == 'none') else None


def container_environment(ctx):
    """The container manager this host runs in (lxc, docker, podman, systemd-nspawn, wsl ...), 'none' when
    systemd-detect-virt says so, None when it cannot be told."""
    found = _detect_virt(ctx, '--container')
    if found is not None:
        return found
    text = ctx.read('/run/systemd/container')
    if text and text.strip():
        return text.strip()
    env = ctx.read('/proc/1/environ', binary=True, why='the container environment this host runs in')
    value = P.parse_environ(env).get('container') if env is not None else None
    return value or None


def kernel_modules(ctx, release):
    """{module: loaded | builtin | available | missing | None} for KERNEL_MODULES; None when not loaded and the
    kernel's module lists (/lib/modules/RELEASE) cannot be read (a container without them)."""
    def names(text, parse):
        return {name.lower() for name in parse(text)} if text is not None else None

    loaded = names(ctx.read('/proc/modules'), P.parse_proc_modules)
    builtin = dep = None
    if release:
        builtin = names(ctx.read('/lib/modules/%s/modules.builtin' % release), P.parse_module_list)
        dep = names(ctx.read('/lib/modules/%s/modules.dep' % release), P.parse_module_list)
    states = {}
    for name in KERNEL_MODULES:
        key = name.lower()
        if loaded is not None and key in loaded:
            states[name] = 'loaded'
        elif builtin is not None and key in builtin:
            states[name] = 'builtin'
        elif dep is not None and key in dep:
            states[name] = 'available'
        elif builtin is not None and dep is not None:
            states[name] = 'missing'
        else:
            states[name] = None
    return states


def firewalld_argv(ctx):
    """systemctl is-active firewalld; None when a firewalld process already answers, or no systemctl."""
    if find_processes(ctx, 'firewalld'):
        return None
    systemctl = ctx.host.which('systemctl')
    return [systemctl, 'is-active', 'firewalld'] if systemctl else None


def iptables_argv(ctx):
    iptables = ctx.host.which('iptables')
    return [iptables, '-V'] if iptables else None


def firewalld_active(ctx):
    if find_processes(ctx, 'firewalld'):
        return True
    argv = firewalld_argv(ctx)
    if argv:
        _rc, out, _err = ctx.host.run(argv)
        answer = out.strip()
        if answer:
            return answer == 'active'
    return False if ctx.processes() else None


def gather_host(ctx):
    facts = empty_host()
    facts['container'] = container_environment(ctx)
    facts['virtualization'] = _detect_virt(ctx, '--vm')
    release = (ctx.read('/proc/sys/kernel/osrelease') or '').strip() or None
    facts['kernel_release'] = release
    facts['kernel_modules'] = kernel_modules(ctx, release)
    argv = iptables_argv(ctx)
    if argv:
        _rc, out, err = ctx.host.run(argv)
        facts['iptables_version'], facts['iptables_backend'] = P.parse_iptables_version(out or err)
    facts['firewalld_active'] = firewalld_active(ctx)
    return facts
