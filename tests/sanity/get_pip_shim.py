"""Stand-in for the get-pip.py that ansible-test downloads to bootstrap pip in its sanity venvs.

ansible-test fetches get-pip from ci-files.testing.ansible.com, which this project's machines cannot
reach (only PyPI and Debian's mirror are). It looks for a cached copy first
(~/.ansible/test/cache/get_pip_<version>.py, see ansible_test/_util/target/setup/requirements.py), so
`make sanity` puts this file there: it bootstraps pip with the interpreter's own ensurepip, then lets
pip install the exact version ansible-test asked for from PyPI.
"""
import subprocess
import sys

GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")

# In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null in its own process, and pip's
# configuration (the machine's certificate bundle, its mirrors) must still apply to the install below.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--quiet", *args]))
