# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings from what only the host can tell before a change (the filters' ``preflight`` argument): packages the
apt source lacks for a step, a step whose transaction apt cannot make, a smoke image that is not on the host.
Without that argument none of them is judged."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._registry import finding, hit
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._preflight import offered_text


def _apt_source(ctx):
    where = ctx.apt['source'] or "the host's own apt sources"
    return 'apt-cache madison against %s (preflight.apt)' % where


def _lacking_hops(ctx, last):
    if ctx.apt is None:
        return
    for hop in ctx.containerd_hops():
        if hop['lacking'] and hop['last'] is last:
            yield hop


@finding('apt_source_lacks_containerd_line', 'blocker', 'containerd',
         kb=['containerd:*', 'upgrade_rules:containerd-upgrade-path'],
         summary='the apt source offers no release of a containerd line the upgrade path goes through (Debian serves '
                 'no containerd 2.0); the plan goes to the next line directly')
def apt_source_lacks_containerd_line(ctx, entry):
    package = ctx.apt['names']['containerd'] if ctx.apt else None
    for hop in _lacking_hops(ctx, False):
        yield hit('containerd',
                  'the apt source offers no %s %s (it has %s): the plan goes from %s to the next line directly, '
                  'which containerd does not support (upgrades from the previous minor only)' % (
                      package, hop['to'], offered_text(ctx.apt, package), hop['from']),
                  'Add a source that serves containerd %s, or accept the skip: give the finding %s the severity '
                  'warning (the upgrade role\'s upgrade_containerd_allow_line_skip: true does).' % (
                      hop['to'], entry.id),
                  '%s; %s' % (_apt_source(ctx), entry.source_of(ctx.kb)))


@finding('apt_source_lacks_containerd', 'blocker', 'containerd', kb=[],
         summary='the apt source offers no containerd package of the target release')
def apt_source_lacks_containerd(ctx, entry):
    package = ctx.apt['names']['containerd'] if ctx.apt else None
    for hop in _lacking_hops(ctx, True):
        yield hit('containerd', 'the apt source offers no %s %s (it has %s)' % (
            package, hop['to'], offered_text(ctx.apt, package)),
            'Add a source that serves it, or change the target containerd.', _apt_source(ctx))


def _lacking_packages(ctx, kind):
    """What the engine step lacks of one kind: 'engine' (its package), 'moving' (a package that moves with it on
    this host: preflight.apt.moving), 'extra' (a further package asked for)."""
    found = ctx.engine_packages()
    if found is None:
        return
    for package, wanted in found[1]:
        if package == ctx.apt['names']['engine']:
            of = 'engine'
        elif package in ctx.apt['moving']:
            of = 'moving'
        else:
            of = 'extra'
        if of == kind:
            yield package, wanted


@finding('apt_source_lacks_engine', 'blocker', 'engine', kb=[],
         summary='the apt source offers no engine package of the target release')
def apt_source_lacks_engine(ctx, entry):
    for package, wanted in _lacking_packages(ctx, 'engine'):
        yield hit('engine', 'the apt source offers no %s %s (it has %s)' % (
            package, wanted, offered_text(ctx.apt, package)),
            'Add a source that serves it, or change the target engine.', _apt_source(ctx))


@finding('apt_source_lacks_package', 'blocker', 'engine', kb=[],
         summary='the apt source offers no version (or not the one asked for) of a further package the engine step '
                 'installs')
def apt_source_lacks_package(ctx, entry):
    for package, wanted in _lacking_packages(ctx, 'extra'):
        yield hit('engine', 'the apt source offers no %s %s (it has %s)' % (
            package, wanted, offered_text(ctx.apt, package)),
            'Fix the extra packages asked for (the upgrade role\'s upgrade_extra_packages) or the apt source.',
            _apt_source(ctx))


@finding('apt_source_lacks_family_package', 'blocker', 'engine', kb=[],
         summary='the apt source offers the engine package of the target release but not a package that moves with '
                 'it (Docker\'s docker-ce-cli, docker-ce-rootless-extras when installed; Debian\'s docker-cli when '
                 'installed): half a family is never installed')
def apt_source_lacks_family_package(ctx, entry):
    engine = ctx.apt['names']['engine'] if ctx.apt else None
    for package, wanted in _lacking_packages(ctx, 'moving'):
        yield hit('engine', 'the apt source offers %s %s but no %s %s, which moves with it (it has %s)' % (
            engine, wanted, package, wanted, offered_text(ctx.apt, package)),
            'Add a source that serves the whole family (%s) on that release, or change the target engine.' % (
                ', '.join([engine] + ctx.apt['moving'])), _apt_source(ctx))


@finding('apt_source_lacks_family_switch_package', 'blocker', 'engine', kb=[],
         summary='a switch of package families is asked, but the apt source lacks a package of the new family at the '
                 'release the switch keeps: nothing is removed without the whole new family to install')
def apt_source_lacks_family_switch_package(ctx, entry):
    switch = ctx.apt['switch'] if ctx.apt else None
    for package, wanted in switch['lacking'] if switch else []:
        message = 'the switch to the %s family needs %s %s, which the apt source does not offer (it has %s)' % (
            switch['to'], package, wanted, offered_text(ctx.apt, package))
        remedy = ('Add a source that serves the %s family at that release (Docker\'s repository for docker-ce, '
                  'Debian\'s archive for docker.io), or switch at a release it serves.' % switch['to'])
        yield hit('engine', message, remedy, _apt_source(ctx))


@finding('apt_cannot_make_step', 'blocker', 'containerd|engine', kb=[],
         summary='apt cannot make the transaction of a step (asked before any change with apt-get --simulate), for '
                 'example going down from Debian\'s docker.io 28.5.2, which pulls tini-static, to 26.1.5, which needs '
                 'tini; the packages in the way are named')
def apt_cannot_make_step(ctx, entry):
    step = ctx.apt['cannot_make'] if ctx.apt else None
    if step is None:
        return
    why = '; '.join(step['problems']) or step['output'].strip()[-300:] or 'no reason given'
    yield hit(step['component'],
              'apt cannot make the step %s %s %s -> %s (%s): %s' % (
                  step['action'], step['component'], step['from'], step['to'], ', '.join(step['moves']), why),
              'Name the packages in the way (%s) with the versions the step needs in the extra packages (the upgrade '
              'role\'s upgrade_extra_packages), or move them by hand first; apt was only asked, nothing changed.' % (
                  ', '.join(step['in_the_way']) or 'see the message'),
              'apt-get --simulate against %s (preflight.apt.cannot_make)' % (
                  ctx.apt['source'] or "the host's own apt sources"))


@finding('smoke_image_missing', 'blocker', 'image', kb=[],
         summary='the image of the smoke container that proves a container starts after the change is not on the host')
def smoke_image_missing(ctx, entry):
    smoke = ctx.preflight['smoke_image']
    if smoke is not None and not smoke['present']:
        yield hit('image', 'the smoke image %s is not on the host: verify could not prove that a container starts'
                  % smoke['image'],
                  'Load or pull it before the change, or name an image the host has (the upgrade role\'s '
                  'upgrade_smoke_image).', 'docker image inspect on the host (preflight.smoke_image)')
