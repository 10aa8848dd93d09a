"""The Engine 29 client rows (clients.yml): what the findings say for each client on the engines around 29.

Real calls with pinned clients against real engines are in tests/integration/test_truth_clients.py.
"""
from __future__ import annotations

import lab_facts as L
import pytest
from ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings import FilterModule

compat_findings = FilterModule().filters()['compat_findings']


def client_findings(image, current, target):
    facts = L.host(L.docker(current), declared=[{'name': 'agent', 'image': image}])
    return [f for f in compat_findings(facts, {'engine': target}) if f['component'].startswith('client')]


@pytest.mark.parametrize('image,current,target,blocked,source', [
    # watchtower pins 1.25: fine up to 28.x, refused by 29.0-29.2 (minimum 1.44) and still by 29.3 (1.40)
    ('containrrr/watchtower:1.7.1', '28.5.2', '29.0.0', True, 'containrrr/watchtower@v1.7.1'),
    ('containrrr/watchtower:1.7.1', '26.1.5', '28.5.2', False, None),
    ('containrrr/watchtower:1.7.1', '28.5.2', '29.3.0', True, 'containrrr/watchtower@v1.7.1'),
    # dive 0.12 negotiates but tops out at 1.43: refused by 29.0 (1.44), accepted by 29.3 (1.40)
    ('wagoodman/dive:v0.12.0', '28.5.2', '29.0.0', True, 'wagoodman/dive@v0.12.0'),
    ('wagoodman/dive:v0.12.0', '28.5.2', '29.3.0', False, None),
    ('wagoodman/dive:v0.13.1', '28.5.2', '29.0.0', False, None),
    # the docker CLI 29.0-29.2 refuses engines older than 25.0 itself; 29.3 talks to 19.03 and later
    ('docker:29.0.0-cli', '20.10.24', '20.10.24', True, 'docker/cli@v29.0.0'),
    ('docker:29.2.1-cli', '20.10.24', '24.0.9', True, 'docker/cli@v29.2.0'),
    ('docker:29.1.5-cli', '26.1.5', '26.1.5', False, None),
    ('docker:29.3.0-cli', '20.10.24', '20.10.24', False, None),
    # older CLIs negotiate down to any engine but cannot reach 29.0's minimum from below
    ('docker:24.0.9-cli', '28.5.2', '29.0.0', True, 'moby/moby@v24.0.0'),
    ('docker:20.10.24', '28.5.2', '29.3.0', False, None),
    ('docker:28.5.2-cli', '20.10.24', '29.0.0', False, None),
    # GitLab Runner's executors negotiate within their vendored client: 1.43 until 17.4, refused by 29.0, not by 29.3
    ('gitlab/gitlab-runner:v17.4.0', '28.5.2', '29.0.0', True, 'gitlab-org/gitlab-runner@v16.3.0'),
    ('gitlab/gitlab-runner:v16.2.0', '28.5.2', '29.3.0', False, None),
    ('gitlab/gitlab-runner:v17.5.0', '28.5.2', '29.0.0', False, None),
    # drone-runner-docker 1.8.4 pins 1.40 (FromEnv, no negotiation): refused by 29.0, accepted again by 29.3
    ('drone/drone-runner-docker:1.8.4', '28.5.2', '29.0.0', True, 'drone-runners/drone-runner-docker#78'),
    ('drone/drone-runner-docker:1.8.4', '28.5.2', '29.3.0', False, None),
    # the Woodpecker agent 2.x negotiates up to 1.43; 3.x reaches 1.47 and more
    ('woodpeckerci/woodpecker-agent:v2.8.3', '28.5.2', '29.0.0', True, 'woodpecker-ci/woodpecker@v2.0.0'),
    ('woodpeckerci/woodpecker-agent:v3.0.0', '28.5.2', '29.0.0', False, None),
    # the nicholas-fedor fork of watchtower: 1.25 until 1.8.0, then 1.44 (too new before 25.0), negotiates from 1.11.0
    ('nickfedor/watchtower:v1.7.13', '28.5.2', '29.0.0', True, 'nicholas-fedor/watchtower@v1.7.2'),
    ('ghcr.io/nicholas-fedor/watchtower:v1.7.13', '28.5.2', '29.3.0', True, 'nicholas-fedor/watchtower@v1.7.2'),
    ('nickfedor/watchtower:v1.10.0', '28.5.2', '29.0.0', False, None),
    ('nickfedor/watchtower:v1.10.0', '20.10.24', '20.10.24', True, 'beatkind/watchtower#88'),
    ('nickfedor/watchtower:v1.11.0', '20.10.24', '29.0.0', False, None),
    # cAdvisor negotiates within docker/docker v20.10 until 0.49.x (at most 1.41), v26.1.4 from 0.50.0
    ('gcr.io/cadvisor/cadvisor:v0.49.1', '28.5.2', '29.0.0', True, 'google/cadvisor#3749'),
    ('gcr.io/cadvisor/cadvisor:v0.49.1', '28.5.2', '29.3.0', False, None),
    ('gcr.io/cadvisor/cadvisor:v0.50.0', '28.5.2', '29.0.0', False, None),
    # diun negotiates within its vendored client: at most 1.41 before 4.22, 1.42 to 4.24, 1.43 in 4.25, 1.44 from 4.26
    ('crazymax/diun:4.21.0', '28.5.2', '29.0.0', True, 'crazy-max/diun@v4.15.0'),
    ('crazymax/diun:4.24.0', '28.5.2', '29.0.0', True, 'crazy-max/diun@v4.22.0'),
    ('ghcr.io/crazy-max/diun:4.25.0', '28.5.2', '29.0.0', True, 'crazy-max/diun@v4.25.0'),
    ('crazymax/diun:4.25.0', '28.5.2', '29.3.0', False, None),
    ('crazymax/diun:4.26.0', '28.5.2', '29.0.0', False, None),
    # clients that send no API version at all are answered in the daemon's own version: never refused
    ('nginxproxy/docker-gen:0.14.0', '28.5.2', '29.0.0', False, None),
    ('jwilder/docker-gen:0.7.3', '20.10.24', '29.0.0', False, None),
    ('mcuadros/ofelia:v0.3.21', '28.5.2', '29.0.0', False, None),
    ('willfarrell/autoheal:1.2.0', '28.5.2', '29.0.0', False, None),
    ('ghcr.io/gethomepage/homepage:v1.12.3', '28.5.2', '29.0.0', False, None),
    ('louislam/uptime-kuma:1.23.16', '28.5.2', '29.0.0', False, None),
    ('nicolargo/glances:4.3.0.8-full', '28.5.2', '29.0.0', False, None),
    # Netdata's go.d docker collector: pinned 1.41 until 1.39, negotiates up to 1.42 (1.39) and 1.43 (1.40-1.44)
    ('netdata/netdata:v1.38.1', '28.5.2', '29.0.0', True, 'netdata/go.d.plugin@v0.45.0'),
    ('netdata/netdata:v1.38.1', '28.5.2', '29.3.0', False, None),
    ('netdata/netdata:v1.39.1', '28.5.2', '29.0.0', True, 'netdata/go.d.plugin@v0.52.2'),
    ('netdata/netdata:v1.44.3', '28.5.2', '29.0.0', True, 'netdata/go.d.plugin@v0.53.2'),
    ('netdata/netdata:v1.44.3', '28.5.2', '29.3.0', False, None),
    ('netdata/netdata:v1.45.0', '28.5.2', '29.0.0', False, None),
    # Prometheus' Docker service discovery negotiates within its go.mod's client: at most 1.43 before 2.50.0
    ('prom/prometheus:v2.20.0', '28.5.2', '29.3.0', False, None),
    ('prom/prometheus:v2.42.0', '28.5.2', '29.0.0', True, 'prometheus/prometheus@v2.24.0'),
    ('quay.io/prometheus/prometheus:v2.44.0', '28.5.2', '29.0.0', True, 'prometheus/prometheus@v2.43.0'),
    ('prom/prometheus:v2.45.6', '28.5.2', '29.0.0', True, 'prometheus/prometheus@v2.45.0'),
    ('prom/prometheus:v2.49.1', '28.5.2', '29.3.0', False, None),
    ('prom/prometheus:v2.50.0', '28.5.2', '29.0.0', False, None),
    # the contrib collector's docker_stats receiver sent 1.25 in 0.141.0 (refused by 29.0 and 29.3), 1.44 from 0.142.0
    ('otel/opentelemetry-collector-contrib:0.141.0', '28.5.2', '29.3.0', True, 'opentelemetry-collector-contrib#44906'),
    ('otel/opentelemetry-collector-contrib:0.142.0', '28.5.2', '29.0.0', False, None),
    ('otel/opentelemetry-collector-contrib:0.142.0', '20.10.24', '20.10.24', True, 'CHANGELOG v0.142.0'),
])
def test_engine29_clients(image, current, target, blocked, source):
    findings = client_findings(image, current, target)
    blockers = [f for f in findings if f['severity'] == 'blocker']
    assert bool(blockers) == blocked, findings
    if blocked:
        assert source in blockers[0]['source'], blockers[0]
        assert blockers[0]['remedy']


def blockers_of(image, current, target):
    return [f for f in client_findings(image, current, target) if f['severity'] == 'blocker']


@pytest.mark.parametrize('image', [
    'nginxproxy/docker-gen:0.14.0', 'mcuadros/ofelia:v0.3.21', 'willfarrell/autoheal:1.2.0', 'crazymax/diun:4.26.0',
    'ghcr.io/gethomepage/homepage:v1.12.3', 'louislam/uptime-kuma:1.23.16', 'nicolargo/glances:4.3.0.8-full',
    'netdata/netdata:v1.45.0', 'prom/prometheus:v3.0.0',
])
def test_unversioned_and_modern_clients_are_known(image):
    # a row decides: no "API version nothing tells" finding either
    assert client_findings(image, '28.5.2', '29.0.0') == []


def test_diun_remedy_names_the_release_and_its_override():
    [blocker] = blockers_of('crazymax/diun:4.24.0', '28.5.2', '29.0.0')
    assert 'crazymax/diun >=4.26.0' in blocker['remedy'], blocker
    assert 'API 1.42' in blocker['message'], blocker


def test_netdata_remedy_names_the_release():
    [blocker] = blockers_of('netdata/netdata:v1.44.3', '28.5.2', '29.0.0')
    assert 'netdata/netdata >=1.45.0' in blocker['remedy'], blocker
    assert 'target Engine 29.3 or later' in blocker['remedy'], blocker
