"""The emulator served from a thread of the test process gives moto its settings back."""

from __future__ import annotations

import copy
import socket

import pytest
from moto.core.config import default_user_config

from wslocal.emulator import start_emulator


def test_stopping_restores_the_settings_that_slow_every_later_mock() -> None:
    # With AWS managed policies left on, each `mock_aws()` after it in the same worker spent
    # about 2 s building them: the unit tests that followed ran ten times slower.
    before = copy.deepcopy(default_user_config)
    first = start_emulator(0)
    second = start_emulator(0)
    first.stop()
    # The other one still serves: Lambda must not turn to Docker under it.
    assert default_user_config["lambda"] == {"use_docker": False}
    assert default_user_config["iam"] == {"load_aws_managed_policies": True}
    second.stop()
    assert default_user_config == before


def test_a_start_that_fails_leaves_the_settings_as_they_were() -> None:
    before = copy.deepcopy(default_user_config)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="cannot listen"):
            start_emulator(taken.getsockname()[1])
    assert default_user_config == before
