"""The collection in an execution environment (AWX / Automation Platform): `ansible-builder create` (PyPI) makes the
build context for an EE definition that installs the built collection, and the context's own introspection script
(the one the image build runs) reads the collection's meta/execution-environment.yml and finds its dependencies.
No image is built (no registry is reachable for a base image); the context is what ansible-builder hands to
podman or docker."""
from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"


def lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_ansible_builder_makes_a_context_that_installs_the_collection_with_its_dependencies(tmp_path):
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta["version"] == 1
    bindep = lines(ROOT / meta["dependencies"]["system"])
    python = lines(ROOT / meta["dependencies"]["python"])
    assert bindep and python

    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(tmp_path),
                    str(ROOT)], check=True, capture_output=True)
    info = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    tarball = tmp_path / f"{info['namespace']}-{info['name']}-{info['version']}.tar.gz"
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert {"meta/execution-environment.yml", *meta["dependencies"].values()} <= set(names)

    definition = {
        "version": 3,
        "images": {"base_image": {"name": "quay.io/ansible/awx-ee:latest"}},
        "dependencies": {
            "ansible_core": {"package_pip": "ansible-core==2.19.14"},
            "ansible_runner": {"package_pip": "ansible-runner==2.4.3"},
            "galaxy": {"collections": [{"name": f"/build/collections/{tarball.name}", "type": "file"}]},
        },
        "additional_build_files": [{"src": str(tarball), "dest": "collections"}],
    }
    ee = tmp_path / "execution-environment.yml"
    ee.write_text(yaml.safe_dump(definition))
    context = tmp_path / "context"
    res = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", str(ee), "-c", str(context)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"The build context can be found at: {context}" in res.stdout

    # Containerfile for podman, Dockerfile when only docker is found
    [build_file] = [path for path in (context / "Containerfile", context / "Dockerfile") if path.exists()]
    build = build_file.read_text()
    assert 'ARG EE_BASE_IMAGE="quay.io/ansible/awx-ee:latest"' in build
    assert "ansible-galaxy collection install" in build and "introspect" in build
    assert yaml.safe_load((context / "_build" / "requirements.yml").read_text()) == {
        "collections": [{"name": f"/build/collections/{tarball.name}", "type": "file"}]}
    assert (context / "_build" / "collections" / tarball.name).read_bytes() == tarball.read_bytes()

    # what the image build does next: install the collection, then introspect it with the context's own script
    installed = tmp_path / "installed"
    # --force: the checkout's own link in build/collections would count as already installed
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--force", str(tarball),
                    "-p", str(installed)], check=True, capture_output=True)
    assert (installed / "ansible_collections" / "fleetsafe" / "container_engine" / "meta" / "ee-bindep.txt").exists()
    out_bindep, out_pip = tmp_path / "bindep.txt", tmp_path / "requirements.txt"
    res = subprocess.run([str(BIN / "python"), str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                          f"--write-bindep={out_bindep}", f"--write-pip={out_pip}", str(installed)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    found = out_bindep.read_text()
    for line in bindep:
        assert f"{line}  # from collection fleetsafe.container_engine" in found
    # ansible-builder leaves out what every EE has (ansible-core's own PyYAML): what is left is ours, or nothing
    pip_found = [line for line in out_pip.read_text().splitlines() if line.strip()] if out_pip.exists() else []
    assert all(line.split("#")[0].strip() in python for line in pip_found), json.dumps(pip_found)
