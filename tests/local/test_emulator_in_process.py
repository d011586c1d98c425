"""The emulator served from a thread of the test process gives moto its settings back."""

from __future__ import annotations

import copy

from moto.core.config import default_user_config

from wslocal.emulator import start_emulator


def test_stopping_restores_the_settings_that_slow_every_later_mock() -> None:
    # With AWS managed policies left on, each `mock_aws()` after it in the same worker spent
    # about 2 s building them: the unit tests that followed ran ten times slower.
    before = copy.deepcopy(default_user_config)
    handle = start_emulator(0)
    assert default_user_config["iam"] == {"load_aws_managed_policies": True}
    handle.stop()
    assert default_user_config == before
