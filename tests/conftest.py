"""Shared fixtures (fake AWS credentials, a moto server on 127.0.0.1) and the CI hypothesis profile.

No test reaches AWS: credentials are fake, the AWS config files are empty temp files (so a
developer's ~/.aws is never read) and the instance-metadata credential probe is disabled.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings


@pytest.fixture
def aws_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Fake AWS credentials and empty AWS config files; every other ``AWS_*`` variable unset.

    Subprocesses started by the test inherit the same environment.
    """
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    config_dir = tmp_path_factory.mktemp("aws-config")
    (config_dir / "config").write_text("")
    (config_dir / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_dir / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config_dir / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto server (all AWS services) on 127.0.0.1 with an ephemeral port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


# CI runs hypothesis with a fixed derandomized seed so that a red CI always reproduces; local runs
# keep exploring new examples (and soak runs raise max_examples).
# No per-example deadline: speed is measured in benchmarks/, and on a loaded machine a first
# example (imports, compilation) takes longer than hypothesis's 200 ms.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
