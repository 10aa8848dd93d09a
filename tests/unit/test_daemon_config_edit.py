"""daemon_config_edit: the edits themselves (rename keeping value and position, removal, log-opts and storage-opts,
conflicts), and the module run by ansible on a real file: check mode with --diff writes nothing, a run keeps
the file's mode, a second run changes nothing, bad input leaves the file as it was."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.fleetsafe.container_engine.plugins.modules.daemon_config_edit import (
    EditError,
    apply_edits,
    render,
)

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = str(Path(sys.executable).with_name('ansible'))


def test_rename_keeps_value_and_position_and_other_keys():
    config = {'log-level': 'warn', 'graph': '/srv/docker', 'live-restore': True}
    edited, results = apply_edits(config, [{'where': 'daemon_json', 'setting': 'graph', 'replacement': 'data-root'}])
    assert list(edited.items()) == [('log-level', 'warn'), ('data-root', '/srv/docker'), ('live-restore', True)]
    assert results == [{'where': 'daemon_json', 'setting': 'graph', 'replacement': 'data-root', 'result': 'renamed'}]
    assert config == {'log-level': 'warn', 'graph': '/srv/docker', 'live-restore': True}   # input not mutated


def test_remove_and_nested_places():
    config = {'storage-driver': 'overlay2', 'storage-opts': ['overlay2.override_kernel_check=true', 'overlay2.size=8G'],
              'log-driver': 'fluentd', 'log-opts': {'fluentd-address': 'x:1', 'fluentd-async-connect': 'true'}}
    edited, results = apply_edits(config, [
        {'where': 'storage_opt', 'setting': 'overlay2.override_kernel_check', 'replacement': None},
        {'where': 'log_opt', 'setting': 'fluentd-async-connect', 'replacement': 'fluentd-async'},
        {'where': 'daemon_json', 'setting': 'api-cors-header', 'replacement': None}])
    assert edited['storage-opts'] == ['overlay2.size=8G']
    assert edited['log-opts'] == {'fluentd-address': 'x:1', 'fluentd-async': 'true'}
    assert [r['result'] for r in results] == ['removed', 'renamed', 'absent']


def test_replacement_already_there():
    same, _results = apply_edits({'graph': '/a', 'data-root': '/a'}, [{'setting': 'graph', 'replacement': 'data-root'}])
    assert same == {'data-root': '/a'}
    with pytest.raises(EditError) as info:
        apply_edits({'graph': '/a', 'data-root': '/b'}, [{'setting': 'graph', 'replacement': 'data-root'}])
    assert '"graph" ("/a")' in str(info.value) and '"data-root" ("/b")' in str(info.value)


def test_render_keeps_the_files_layout():
    assert render({'a': 1}, '{"b": 1}') == '{"a": 1}'
    assert render({'a': 1}, '{"b": 1}\n') == '{"a": 1}\n'
    assert render({'a': [1]}, '{\n    "b": 1\n}\n') == '{\n    "a": [\n        1\n    ]\n}\n'
    assert render({'a': 1}, '{\n\t"b": 1\n}') == '{\n\t"a": 1\n}\n'


def module(path: Path, edits: list, *flags: str) -> tuple[int, str]:
    args = json.dumps({'path': str(path), 'edits': edits})
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / 'build' / 'collections'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0')
    proc = subprocess.run([ANSIBLE, 'localhost', '-c', 'local', '-m', 'fleetsafe.container_engine.daemon_config_edit',
                           '-a', args, *flags], capture_output=True, text=True, env=env, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_module_check_diff_run_idempotent_and_bad_input(tmp_path):
    path = tmp_path / 'daemon.json'
    original = '{\n  "graph": "/var/lib/docker",\n  "log-level": "warn"\n}\n'
    path.write_text(original)
    path.chmod(0o640)
    rename = [{'setting': 'graph', 'replacement': 'data-root'}]

    rc, out = module(path, rename, '--check', '--diff')
    assert rc == 0 and 'CHANGED' in out and '+  "data-root": "/var/lib/docker"' in out and '-  "graph"' in out, out
    assert path.read_text() == original

    rc, out = module(path, rename)
    assert rc == 0 and 'CHANGED' in out, out
    assert path.read_text() == '{\n  "data-root": "/var/lib/docker",\n  "log-level": "warn"\n}\n'
    assert path.stat().st_mode & 0o7777 == 0o640
    rc, out = module(path, rename)
    assert rc == 0 and 'CHANGED' not in out and '"changed": false' in out, out

    path.write_text('{"graph": "/a", "data-root": "/b"}')
    rc, out = module(path, rename)
    assert rc != 0 and 'keep one of them by hand' in out and 'nothing was changed' in out, out
    assert path.read_text() == '{"graph": "/a", "data-root": "/b"}'
    path.write_text('{"graph": ')
    rc, out = module(path, rename)
    assert rc != 0 and 'is not valid JSON' in out, out

    managed, link = tmp_path / 'managed.json', tmp_path / 'link.json'
    managed.write_text('{"graph": "/srv"}')
    link.symlink_to(managed)
    rc, out = module(link, rename)
    assert rc == 0 and link.is_symlink() and managed.read_text() == '{"data-root": "/srv"}', out


def test_plan_says_how_each_refused_setting_is_edited():
    import lab_facts as L
    from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import FilterModule
    daemon_json = {'graph': '/srv/docker', 'oom-score-adjust': 100, 'log-driver': 'logentries',
                   'log-opts': {'logentries-token': 't'}, 'storage-opts': ['overlay2.override_kernel_check=1']}
    facts = L.host(L.docker('20.10.24', daemon_json=daemon_json), L.containerd('1.6.20'))
    plan = FilterModule().filters()['upgrade_plan'](facts, {'engine': '26.1.5'})
    edits = {s['setting']: (s['where'], s['edit'], s['to']) for s in plan if s['action'] == 'edit_daemon_config'}
    assert edits == {'graph': ('daemon_json', 'rename', 'data-root'),
                     'overlay2.override_kernel_check': ('storage_opt', 'remove', None),
                     'oom-score-adjust': ('daemon_json', None, None),
                     'logentries': ('log_driver', None, None)}


def load_step_script():
    """The backup and rollback's configuration rules (module_utils/_backup.py, used by engine_backup and
    engine_rollback)."""
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _backup
    return _backup


def test_rollback_puts_the_configuration_back_exactly(tmp_path, monkeypatch):
    step = load_step_script()
    etc = tmp_path / 'etc'
    daemon_json, config_toml = etc / 'docker/daemon.json', etc / 'containerd/config.toml'
    dropins = etc / 'docker.service.d'
    monkeypatch.setattr(step, 'CONFIG_FILES', (str(daemon_json), str(config_toml)))
    monkeypatch.setattr(step, 'DROPIN_DIRS', (str(dropins), str(etc / 'containerd.service.d')))
    daemon_json.parent.mkdir(parents=True)
    dropins.mkdir()
    daemon_json.write_bytes(b'{"graph": "/var/lib/docker"}')    # no newline: bytes, not a re-rendering
    daemon_json.chmod(0o600)
    (dropins / 'keep.conf').write_text('[Service]\nLimitNOFILE=4096\n')
    backup = tmp_path / 'backup'
    backup.mkdir()
    kept = step.keep_config(str(backup))
    assert kept[str(config_toml)] == {'exists': False}

    daemon_json.write_text('{\n  "data-root": "/var/lib/docker"\n}\n')
    daemon_json.chmod(0o644)
    (dropins / 'keep.conf').unlink()
    (dropins / 'new.conf').write_text('[Service]\n')
    config_toml.parent.mkdir()
    config_toml.write_text('version = 3\n')

    done = step.restore_config(json.loads(json.dumps(kept)))
    assert daemon_json.read_bytes() == b'{"graph": "/var/lib/docker"}' and daemon_json.stat().st_mode & 0o777 == 0o600
    assert (dropins / 'keep.conf').read_text() == '[Service]\nLimitNOFILE=4096\n'
    assert not (dropins / 'new.conf').exists() and not config_toml.exists()
    assert done == {'restored': sorted([str(daemon_json), str(dropins / 'keep.conf')]),
                    'removed': sorted([str(config_toml), str(dropins / 'new.conf')])}
    assert step.restore_config(kept) == {'restored': [], 'removed': []}


def test_rollback_gives_a_linked_configuration_its_link_back(tmp_path, monkeypatch):
    step = load_step_script()
    managed, daemon_json = tmp_path / 'managed.json', tmp_path / 'daemon.json'
    monkeypatch.setattr(step, 'CONFIG_FILES', (str(daemon_json),))
    monkeypatch.setattr(step, 'DROPIN_DIRS', ())
    managed.write_text('{"graph": "/var/lib/docker"}\n')
    daemon_json.symlink_to(managed)
    kept = step.keep_config(str(tmp_path / 'backup'))
    managed.write_text('{"data-root": "/var/lib/docker"}\n')     # the module edits the file the link points at
    assert step.restore_config(kept) == {'restored': [str(daemon_json)], 'removed': []}
    assert daemon_json.is_symlink() and managed.read_text() == '{"graph": "/var/lib/docker"}\n'
    daemon_json.unlink()
    daemon_json.write_text('{"data-root": "/var/lib/docker"}\n')
    assert step.restore_config(kept) == {'restored': [str(daemon_json)], 'removed': []}
    assert daemon_json.is_symlink() and daemon_json.resolve() == managed.resolve()
    assert step.restore_config(kept) == {'restored': [], 'removed': []}


def test_each_edit_step_names_the_refused_findings_it_removes_exactly():
    import lab_facts as L
    from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule as Findings
    from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import FilterModule
    daemon_json = {'graph': '/srv/docker', 'oom-score-adjust': 100, 'log-driver': 'logentries',
                   'log-opts': {'logentries-token': 't'}, 'storage-opts': ['overlay2.override_kernel_check=1']}
    facts = L.host(L.docker('20.10.24', daemon_json=daemon_json), L.containerd('1.6.20'))
    plan = FilterModule().filters()['upgrade_plan'](facts, {'engine': '26.1.5'})
    compat = Findings().filters()['compat_findings']
    refused = [f['message'] for f in compat(facts, {'engine': '26.1.5'}) if f['id'] == 'daemon_option_refused']
    resolves = {s['setting']: s['resolves'] for s in plan if s['action'] == 'edit_daemon_config'}
    # the edited ones name their finding; the ones only an operator can decide name none and stay blockers
    assert resolves['graph'] == resolves['overlay2.override_kernel_check'] == ['daemon_option_refused']
    assert resolves['oom-score-adjust'] == [] and resolves['logentries'] == []
    # the plan leaves exactly the findings of the settings it does not edit
    left = [f['message'] for f in compat(facts, {'engine': '26.1.5'}, plan=plan) if f['id'] == 'daemon_option_refused']
    assert len(left) == len(refused) - 2 and not any('"graph" in daemon.json' in m for m in left)
    # and they are what the real edits leave
    after = dict(daemon_json, **{'data-root': '/srv/docker'})
    del after['graph']
    after['storage-opts'] = []
    facts_after = L.host(L.docker('20.10.24', daemon_json=after), L.containerd('1.6.20'))
    still = [f['message'] for f in compat(facts_after, {'engine': '26.1.5'}) if f['id'] == 'daemon_option_refused']
    assert sorted(still) == sorted(left)
