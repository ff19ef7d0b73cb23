"""Shared fixtures. The environment is set before the app is imported, and moto is
started before any AWS client exists (cached clients are dropped per test)."""

from __future__ import annotations

import os

from environment import TEST_ENV

os.environ.update(TEST_ENV)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

# moto reads a whole table for every Query; DynamoDB, and now moto, the partition asked
# for (localdev/moto_speedups.py; tests/functional/test_moto_speedups.py checks the answers).
from localdev import moto_speedups

moto_speedups.install()
