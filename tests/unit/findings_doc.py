"""Generate docs/findings.md from the findings registry (plugins/plugin_utils/_findings).

    .venv/bin/python tests/unit/findings_doc.py           # rewrite docs/findings.md
    .venv/bin/python tests/unit/findings_doc.py --check   # exit 1 when the committed file differs

tests/unit/test_findings_registry.py::test_committed_doc_matches_the_registry runs the check.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, 'docs', 'findings.md')
sys.path.insert(0, os.path.join(ROOT, 'build', 'collections'))

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb  # noqa: E402
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._compat_findings import REGISTRY  # noqa: E402

KB_FILES = {section: section + '.yml' for section in _kb.SCHEMA}

HEAD = '''\
# Findings

<!-- Generated from plugins/plugin_utils/_findings by tests/unit/findings_doc.py: do not edit by hand.
     A unit test fails when this file and the registry disagree. -->

`compat_findings` returns a list of findings, blockers first; each is a dict with `id`, `severity`,
`component`, `message` (quoting the daemon's own error where there is one), `remedy` and `source`.
A `blocker` means the change would break the host as planned; a `warning` needs an action in the
plan or a decision; `info` is worth knowing. `upgrade_plan` orders the steps to the target from the
same judgements (plugins/plugin_utils/_judge.py), so a finding and a plan step never disagree.

## Finding ids and knowledge rows

Every finding is declared once, in a family module under `plugins/plugin_utils/_findings/`, with
`@finding(ID, SEVERITY, COMPONENT, kb=[...], summary=...)` right above its check, the way
ansible-lint declares a rule. Given a finding id, `grep -rn ID` finds its declaration and check,
its entry below, and its tests (`tests/unit/test_findings_registry.py` runs one example per id,
named `test_finding_example[ID]`).

- **Finding ids** are snake_case, `<component>_<what>`: `containerd_shim_protocol_mismatch`.
- **Knowledge rows** are named `<section>:<key>`: the section is the file under
  `data/knowledge_base/` without `.yml`, the key is the row's `id`, `line` or `driver`
  (`upgrade_rules:containerd-restart-after-upgrade`, `containerd:1.7`,
  `known_bad:engine-28.0.0-rootless-slirp4netns-port-driver`).
  `<section>:*` means the finding reads every row of that section; each such row carries its own
  `source`, which the finding repeats.

## Switching findings and knowledge rows off

A finding is switched off, or given another severity, **by its id**, with the filters' `findings`
argument (the only way):

```yaml
# group_vars/all.yml
fleetsafe_findings:
  client_api_unknown: {enabled: false}          # we declare every client; never tell us about unknown ones
  engine_stale: {severity: blocker}             # a stale daemon stops our rollout
```

```jinja
{{ ansible_facts.container_engine | fleetsafe.container_engine.compat_findings(target, findings=fleetsafe_findings) }}
```

An id the registry does not know is an error (a typo never silences anything). For
`known_bad_release`, a severity set here replaces every known-bad row's own severity.

A knowledge row is switched off with `enabled: false`, in the data files or from inventory with the
`knowledge` argument (the only way; see docs/knowledge_base.md):

```yaml
fleetsafe_knowledge:
  known_bad:
    - {id: engine-29.0-rootless-slirp4netns-port-driver, enabled: false}
```

An `upgrade_rules` row that a finding relies on cannot be switched off: the filters fail with an
error naming the findings that rely on it, blockers included, and saying to switch those off by id
instead. So switching off `upgrade_rules:containerd-restart-after-upgrade` never silently drops the
blocker `containerd_shim_protocol_mismatch`. Switching off an `engines` or `containerd` row makes
the filters fail with "line ... is not in the knowledge base" wherever that line is needed.

## What the filters accept

- **facts**: `ansible_facts.container_engine` (its keys are the sections `docker`, `containerd`,
  `rootless`, `clients`), or the whole `ansible_facts` (a dict with a `container_engine` key), which
  is checked exactly like the unwrapped dict. A section that is absent or `null` was not
  gathered and its checks are skipped; any other key is an error, wrapped or not, so a whole
  `hostvars[host]` passed by mistake, or a misspelt section (`dockr`), fails instead of skipping
  every check. Facts that are `null` or an unset variable are an error. At least one section must be present,
  unless the target only lists `images`. Inside a present section every key the filters read must
  be there (docs/facts.md). Facts gathered by older releases may still carry
  `containerd.shim_protocol_accepted` / `shim_protocol_produced`; they are used only when the
  containerd versions are unknown, the knowledge base judges otherwise.
- **target**: the argument may be left out, or be `{}`, to judge the host as it is. `null`, an
  empty string, an unset variable that reaches the filter (`upgrade_target | default(none)`) or any
  other non-dict is an error naming the filter: a target built from an unset variable never turns
  every blocker into a green light. Every key may be left out (that part does not change); a key
  that is present must hold a value: `engine: null` is an error, not "no change". `engine` and `containerd` are releases
  (`26.1.5`) or lines (`26.1`); a Debian package version (`5:28.0.1-1~debian.12~bookworm`) is read
  as its upstream release, but anything else after the release (`26.1.5garbage`, `28.0.1.x`) is an
  error. `clients` maps client names the clients facts show to the version each will run.
  `images` lists `{image, tag, available, allow_fallback}`; a tag must be one a registry accepts
  (letters, digits, `_`, `.`, `-`, at most 128 characters). `upgrade_plan` needs the section a
  target key is about (`docker` for `engine`, `containerd` for `containerd`): without it the plan
  would be empty for want of facts, so it is an error.
- **preflight**: what only the host can tell before the change; without it the findings that need
  it (`apt_source_lacks_*`, `apt_cannot_make_step`, `smoke_image_missing`) are not judged. `apt` is
  the `apt` result of the module `apt_resolve`: `{source, packages: {engine, cli, containerd},
  offered: {PACKAGE: [versions, newest first]}, extra: {PACKAGE: version}, cannot_make}` (what
  `apt-cache madison` lists for the source; `extra` are further packages the engine step installs,
  `''` for the newest; `cannot_make` is null or the first step `apt-get --simulate` refused, with
  `action`, `component`, `from`, `to`, `moves`, `problems`, `in_the_way`); `smoke_image` is
  `{image, present}`. The upgrade role asks the host and passes it; the rule is here. `upgrade_plan`
  takes the same argument and puts the package versions on its steps.
- **plan** (compat_findings only): the steps of `upgrade_plan` that will run. Each step names in
  `resolves` the finding ids it removes on its component (an `edit_daemon_config` step: the
  `daemon_option_refused` finding of its own setting); those findings are left out, so what is
  returned is what the plan leaves. The upgrade role stops on the blockers left.
- **errors**: bad input fails with one error whose message starts with the filter's name, names the
  bad value's path and shows the value as written, shortened (`got string 'abc'`, `got null`,
  `got an undefined value`). The same holds for the `knowledge` and `findings` arguments. Any other
  failure is a bug in the collection and says so ("internal error ... please report it"); it is
  never disguised as bad input.

## All findings

| id | severity | component | knowledge rows | check |
|---|---|---|---|---|
'''


def _module_path(entry):
    return entry.module.replace('ansible_collections.fleetsafe.container_engine.', '').replace('.', '/') + '.py'


def _tests_mentioning(fid):
    here = os.path.join(ROOT, 'tests', 'unit')
    found = []
    for name in sorted(os.listdir(here)):
        if name.startswith('test_') and name.endswith('.py'):
            with open(os.path.join(here, name), encoding='utf-8') as handle:
                if re.search(rf'\b{re.escape(fid)}\b', handle.read()):
                    found.append('tests/unit/' + name)
    return found


def _kb_sources(ref):
    section, key = ref.split(':', 1)
    if key == '*':
        return f'every row of `data/knowledge_base/{KB_FILES[section]}` (each row\'s own `source`)'
    key_field = _kb.SCHEMA[section][0]
    row = next(r for r in _kb.builtin_sections()[section] if r[key_field] == key)
    return '`data/knowledge_base/{}`: {}'.format(KB_FILES[section], ' '.join(row['source'].split()))


def _from_preflight(entry):
    return entry.module.endswith('._preflight')


def _no_rows(entry):
    return '(preflight data)' if _from_preflight(entry) else '(facts only)'


def render():
    lines = [HEAD.rstrip('\n')]
    for entry in REGISTRY.values():
        lines.append('| [`{}`](#{}) | {} | {} | {} | `{}` |'.format(
            entry.id, entry.id, entry.severity, entry.component.replace('|', ' or '),
            ', '.join(f'`{ref}`' for ref in entry.kb) or _no_rows(entry), _module_path(entry)))
    for entry in REGISTRY.values():
        lines += ['', f'### `{entry.id}`', f'<a id="{entry.id}"></a>', '',
                  entry.summary[0].upper() + entry.summary[1:] + '.', '',
                  '- severity: %s' % ('set by each known_bad row' if entry.severity == 'per row' else entry.severity),
                  '- component: {}'.format(entry.component.replace('|', ' or ')),
                  f'- check: `{_module_path(entry)}` (`def {entry.check.__name__}`)']
        if entry.kb:
            lines.append('- knowledge rows:')
            lines += [f'  - `{ref}` — {_kb_sources(ref)}' for ref in entry.kb]
        elif _from_preflight(entry):
            lines.append('- knowledge rows: none (it reports what preflight found on the host: the `preflight` '
                         'argument)')
        else:
            lines.append('- knowledge rows: none (it reports what the facts say)')
        if entry.incident:
            lines.append(f'- incident: [docs/incidents.md#{entry.incident}](incidents.md#{entry.incident})')
        tests = [f'`tests/unit/test_findings_registry.py::test_finding_example[{entry.id}]`']
        tests += [path for path in _tests_mentioning(entry.id) if not path.endswith('test_findings_registry.py')]
        lines.append('- tests (in the source repository): {}'.format(', '.join(tests)))
    lines += ['', '## Knowledge rows and the findings that rely on them', '',
              '| knowledge row | findings |', '|---|---|']
    users = {}
    for entry in REGISTRY.values():
        for ref in entry.kb:
            users.setdefault(ref, []).append(entry.id)
    for ref in sorted(users):
        lines.append('| `{}` | {} |'.format(ref, ', '.join(f'`{fid}`' for fid in users[ref])))
    return '\n'.join(lines) + '\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help='exit 1 when docs/findings.md is not up to date')
    args = parser.parse_args()
    text = render()
    if args.check:
        with open(DOC, encoding='utf-8') as handle:
            if handle.read() != text:
                print(f'docs/findings.md is out of date: run {os.path.relpath(__file__, ROOT)}')
                return 1
        return 0
    with open(DOC, 'w', encoding='utf-8') as handle:
        handle.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
