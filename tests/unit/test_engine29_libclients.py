"""Clients that are programs or libraries, not images (clients.yml rows without `images`): a client declared with
`program` and `version` is judged by its knowledge-base row, with remedies naming the release to move to.

Real calls with the Python SDK at pinned releases against real engines are in tests/integration/test_truth_clients.py.
"""
from __future__ import annotations

import lab_facts as L
import pytest
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule
from ansible_collections.fleetsafe.container_engine.plugins.filter.upgrade_plan import FilterModule as PlanModule
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import merge_ranges
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import parse_version as V

compat_findings = FilterModule().filters()['compat_findings']


def findings(declared, current, target=None, **kwargs):
    facts = L.host(L.docker(current), declared=[dict(declared, name=declared.get('name', 'job'))])
    return [f for f in compat_findings(facts, {'engine': target} if target else None, **kwargs)
            if f['component'].startswith('client')]


@pytest.mark.parametrize('program,version,current,target,verdict,remedy', [
    # docker-py before 4.3.1 speaks its DEFAULT_DOCKER_API_VERSION: below 29.0's 1.44 and 29.3's 1.40
    ('docker-py', '4.2.2', '28.5.2', '29.0.0', 'client_api_too_old', 'upgrade docker-py first (>=4.3.1)'),
    ('docker-py', '4.3.0', '28.5.2', '29.3.0', 'client_api_too_old', 'upgrade docker-py first (>=4.3.1)'),
    ('docker-py', '2.0.1', '20.10.24', '26.1.5', None, None),
    # from 4.3.1 it speaks the daemon's own version: fine everywhere
    ('docker-py', '4.3.1', '28.5.2', '29.0.0', None, None),
    ('docker-py', '7.1.0', '20.10.24', '29.0.0', None, None),
    # the PyPI name is an alias
    ('docker (PyPI)', '3.7.3', '28.5.2', '29.0.0', 'client_api_too_old', 'upgrade docker-py first (>=4.3.1)'),
    # compose v1 pinned by file format before 1.27, negotiates through docker-py from 1.27
    ('docker-compose', '1.26.2', '28.5.2', '29.3.0', 'client_api_too_old', '(>=1.27.0)'),
    ('docker-compose', '1.29.2', '28.5.2', '29.0.0', None, None),
    # compose v2 negotiates within its go.mod's client: at most 1.43 before 2.24.0
    ('docker compose', '2.23.3', '28.5.2', '29.0.0', 'client_api_too_old', '(>=2.24.0)'),
    ('docker-compose-plugin', '2.15.1', '28.5.2', '29.3.0', None, None),
    ('docker-compose', '2.24.0', '28.5.2', '29.0.0', None, None),
    # testcontainers-java 1.x: the fixed 1.21.4 has no row of its own, the remedy still names it
    ('testcontainers-java', '1.21.3', '28.5.2', '29.0.0', 'client_api_too_old', '(1.21.4, or >=2.0.2,<2.0.3)'),
    ('testcontainers-java', '2.0.1', '28.5.2', '29.3.0', 'client_api_too_old', '>=2.0.2,<2.0.3'),
    # 2.0.2 defaults to 1.44: too new for engines before 25.0
    ('testcontainers-java', '2.0.2', '20.10.24', '20.10.24', 'client_api_too_new', 'upgrade the engine to 25.0'),
    ('testcontainers-java', '2.0.2', '28.5.2', '29.0.0', None, None),
    # the Jenkins docker plugin's attach connector pins 1.32 until 1308.vff6e33248305 (declared by its leading number)
    ('jenkins-docker-plugin', '1274', '28.5.2', '29.0.0', 'client_api_too_old',
     'upgrade jenkins-docker-plugin first (>=1308)'),
    ('jenkins-docker-plugin', '1.2.10', '28.5.2', '29.3.0', 'client_api_too_old', '(>=1308)'),
    ('jenkins-docker-plugin', '1308', '28.5.2', '29.0.0', None, None),
    # GitLab Runner's clear-docker-cache pins 1.41 for its prune from 15.10.0 until 18.7.0
    ('clear-docker-cache', '18.6.6', '28.5.2', '29.0.0', 'client_api_too_old', '(>=18.7.0)'),
    ('clear-docker-cache', '18.6.6', '28.5.2', '29.3.0', None, None),
    ('clear-docker-cache', '18.7.0', '28.5.2', '29.0.0', None, None),
    # a host-installed runner is judged by its program name as well as by its image
    ('gitlab-runner', '16.11.0', '28.5.2', '29.0.0', 'client_api_too_old', '(>=17.5.0)'),
    # drone-runner-docker: no release with the fix is established, and the remedy says so
    ('drone-runner-docker', '1.8.4', '28.5.2', '29.0.0', 'client_api_too_old', 'no fixed release is established'),
    # testcontainers-go negotiates within its go.mod's docker client: at most 1.43 before 0.28.0
    ('testcontainers-go', '0.27.0', '28.5.2', '29.0.0', 'client_api_too_old', '(>=0.28.0)'),
    ('testcontainers-go', '0.21.0', '28.5.2', '29.3.0', None, None),
    ('testcontainers-go', '0.28.0', '28.5.2', '29.0.0', None, None),
    # Telegraf's docker_log input sends 1.24 until 1.37.0: refused by 29.0 and by 29.3
    ('telegraf inputs.docker_log', '1.36.4', '28.5.2', '29.3.0', 'client_api_too_old', '(>=1.37.0)'),
    ('telegraf-docker-log', '1.37.0', '28.5.2', '29.0.0', None, None),
    # testcontainers-python speaks what docker-py speaks (which negotiates from 4.3.1)
    ('testcontainers-python', '4.8.0', '28.5.2', '29.0.0', None, None),
    ('testcontainers (PyPI)', '3.7.1', '20.10.24', '29.0.0', None, None),
    # the Go SDK speaks at most its module's DefaultVersion: 1.41-1.43 before v25.0.0
    ('github.com/docker/docker', 'v24.0.7+incompatible', '28.5.2', '29.0.0', 'client_api_too_old', '(>=25.0.0)'),
    ('docker-go-client', '20.10.24', '28.5.2', '29.0.0', 'client_api_too_old', '(>=25.0.0)'),
    ('github.com/docker/docker/client', '23.0.6', '28.5.2', '29.3.0', None, None),
    ('github.com/docker/docker', 'v25.0.0', '28.5.2', '29.0.0', None, None),
    ('github.com/moby/moby/client', 'v0.2.1', '28.5.2', '29.0.0', None, None),
    # SDKs that send no version unless told: the daemon answers in its own
    ('dockerode', '4.0.7', '28.5.2', '29.0.0', None, None),
    ('docker-modem', '5.0.7', '20.10.24', '29.0.0', None, None),
    ('docker-java', '3.4.0', '28.5.2', '29.0.0', None, None),
    ('Docker.DotNet', '3.125.15', '28.5.2', '29.0.0', None, None),
    ('netdata', '1.44.3', '28.5.2', '29.0.0', 'client_api_too_old', '(>=1.45.0)'),
    # Nomad's docker driver: unversioned go-dockerclient to 1.8, github.com/docker/docker v27+ from 1.9
    ('nomad', '1.8.0', '20.10.24', '29.0.0', None, None),
    ('nomad docker driver', '1.9.1', '28.5.2', '29.0.0', None, None),
    ('prometheus docker_sd_configs', '2.45.6', '28.5.2', '29.0.0', 'client_api_too_old', '(>=2.50.0)'),
    ('otelcol-contrib docker_stats', '0.141.0', '28.5.2', '29.0.0', 'client_api_too_old', '(>=0.142.0)'),
])
def test_programs_judged_by_their_rows(program, version, current, target, verdict, remedy):
    found = findings({'program': program, 'version': version}, current, target)
    blockers = [f for f in found if f['severity'] == 'blocker']
    if verdict is None:
        assert found == [], found
        return
    assert [f['id'] for f in blockers] == [verdict], found
    assert remedy in blockers[0]['remedy'], blockers[0]
    row = _kb.builtin().program_row(program, V(version))
    assert row['source'] in blockers[0]['source']


def test_declared_api_version_beats_the_row():
    # docker-py 7.1.0 negotiates, but a caller that passes version="1.41" speaks 1.41
    [finding] = findings({'program': 'docker-py', 'version': '7.1.0', 'api_version': '1.41'}, '28.5.2', '29.0.0')
    assert finding['id'] == 'client_api_too_old' and 'declared API 1.41' in finding['message']


def test_name_is_the_program_when_program_is_left_out():
    [finding] = findings({'name': 'docker-py', 'version': '4.2.2'}, '28.5.2', '29.0.0')
    assert finding['id'] == 'client_api_too_old' and 'docker-py 4.2.2 (knowledge base row' in finding['message']


def test_unknown_release_says_which():
    [finding] = findings({'program': 'docker-py', 'version': '1.10.6'}, '28.5.2', '29.0.0')
    assert finding['id'] == 'client_api_unknown'
    assert 'no knowledge-base row for docker-py 1.10.6' in finding['message']
    assert 'add a clients row named docker-py' in finding['remedy']


def test_program_without_version_is_refused():
    facts = L.host(L.docker('28.5.2'), declared=[{'name': 'job', 'program': 'docker-py'}])
    with pytest.raises(Exception, match=r'declared\[0\]\.program .docker-py. needs the version it runs'):
        compat_findings(facts, {'engine': '29.0.0'})


def test_fixed_in_null_needs_a_note():
    row = {'id': 'acme', 'name': 'acme', 'versions': '*', 'api_version': '1.30', 'negotiates': False,
           'fixed_in': None, 'source': 'acme#1'}
    with pytest.raises(Exception, match='fixed_in: null needs a note'):
        compat_findings(L.host(L.docker('28.5.2')), {'engine': '29.0.0'}, knowledge={'clients': [row]})


def test_plan_has_no_step_for_a_library_and_its_blocker_stays():
    # no role can move a library: the plan must not claim a step that would count the blocker as fixed
    facts = L.host(L.docker('28.5.2'), declared=[{'name': 'job', 'program': 'docker-py', 'version': '4.2.2'}])
    plan = PlanModule().filters()['upgrade_plan'](facts, {'engine': '29.0.0'})
    assert [s for s in plan if s['component'] == 'client:job'] == [], plan
    [finding] = [f for f in compat_findings(facts, {'engine': '29.0.0'}) if f['component'] == 'client:job']
    assert finding['severity'] == 'blocker' and 'upgrade docker-py first (>=4.3.1)' in finding['remedy']


def test_rows_of_programs_have_no_image_and_a_source():
    rows = [r for r in _kb.sections_copy()['clients'] if not r.get('images')]
    names = {r['name'] for r in rows}
    assert {'docker-py', 'docker-compose', 'testcontainers-java', 'jenkins-docker-plugin', 'clear-docker-cache',
            'testcontainers-go', 'testcontainers-python'} <= names
    for row in rows:
        assert row['source'].strip()
        if 'fixed_in' in row and row['fixed_in'] is None:
            assert row['note'].strip()


def test_docker_cli_remedy_merges_adjacent_lines():
    # one range per CLI line made the remedy as long as the table; adjacent ranges are joined
    found = findings({'image': 'docker:24.0.9-cli'}, '28.5.2', '29.0.0')
    assert 'upgrade docker CLI first (docker >=25.0.0)' in found[0]['remedy'], found[0]
    found = findings({'image': 'docker:29.0.0-cli'}, '20.10.24', '20.10.24')
    assert '(docker >=20.10.0,<29.0.0 or >=29.3.0)' in found[0]['remedy'], found[0]


@pytest.mark.parametrize('texts,merged', [
    (['>=23.0.0,<24.0.0', '>=20.10.0,<23.0.0'], ['>=20.10.0,<24.0.0']),
    (['>=2.33.5,<2.34.0', '>=2.36.0'], ['>=2.33.5,<2.34.0', '>=2.36.0']),
    (['<1.12.0', '>=1.12.0,<=1.14.0', '>=1.14.1'], ['<=1.14.0', '>=1.14.1']),
    (['>=2.0.0,<=2.11.30', '>=2.11.31,<3.0.0'], ['>=2.0.0,<=2.11.30', '>=2.11.31,<3.0.0']),
])
def test_merge_ranges(texts, merged):
    assert merge_ranges(texts) == merged
