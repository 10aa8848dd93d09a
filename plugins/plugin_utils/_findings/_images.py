# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings about image tags the change needs (target.images), shared with the nearest_tag filter."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._registry import (
    REGISTRY,
    finding,
    hit,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._tags import choose_tag
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import InputError, describe


def _tag_hit(choice, image, source):
    """(finding id, hit) for a wanted tag the registry lacks, or None when it exists."""
    if choice['exact']:
        return None
    wanted, best = choice['wanted'], choice['best']
    ref = '%s:%s' % (image, wanted) if image else 'tag %s' % wanted
    if choice['fallback']:
        return 'image_tag_missing_fallback', hit(
            'image', '%s does not exist in the registry; the nearest published tag below it is %s' % (ref, best),
            'use %s (pin it explicitly), or publish %s before the change' % (best, wanted), source)
    why = 'no fallback is allowed' if best else 'no older tag of the same form exists'
    return 'image_tag_missing', hit(
        'image', '%s does not exist in the registry and %s: pulling it would fail' % (ref, why),
        'pin an existing tag%s, or publish %s before the change' % (' such as %s' % best if best else '', wanted),
        source)


def _hits(ctx, fid, entry):
    for image in ctx.target['images']:
        try:
            choice = choose_tag(image['tag'], image['available'], image['allow_fallback'])
        except InputError as exc:
            raise InputError('target.images %s: %s' % (image['image'], exc)) from exc
        found = _tag_hit(choice, image['image'], entry.source_of(ctx.kb))
        if found is not None and found[0] == fid:
            yield found[1]


@finding('image_tag_missing', 'blocker', 'image', kb=['upgrade_rules:image-tag-must-exist'],
         summary='an image tag the change needs is not in its registry and nothing older of the same form can stand '
                 'in (or no fallback is allowed)',
         incident='unpublished-image-tag')
def image_tag_missing(ctx, entry):
    return _hits(ctx, 'image_tag_missing', entry)


@finding('image_tag_missing_fallback', 'warning', 'image', kb=['upgrade_rules:image-tag-must-exist'],
         summary='an image tag the change needs is not in its registry; the nearest older tag of the same form can '
                 'stand in', incident='unpublished-image-tag')
def image_tag_missing_fallback(ctx, entry):
    return _hits(ctx, 'image_tag_missing_fallback', entry)


def nearest_tag(wanted, available, allow_fallback=True, image=None):
    """The nearest_tag filter: the choice, with the finding compat_findings would report for it."""
    choice = choose_tag(wanted, available, allow_fallback)
    if image is not None and (not isinstance(image, str) or not image.strip()):
        raise InputError('image must name the image, got %s' % describe(image))
    found = _tag_hit(choice, image, REGISTRY['image_tag_missing'].source_of(_kb.builtin()))
    result = {key: choice[key] for key in ('wanted', 'tag', 'exact', 'fallback')}
    result['finding'] = None
    if found is not None:
        fid, data = found
        result['finding'] = {'id': fid, 'severity': REGISTRY[fid].severity, 'component': data['component'],
                             'message': data['message'], 'remedy': data['remedy'], 'source': data['source']}
    return result
