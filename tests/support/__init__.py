"""Helpers shared by several test modules: workload builders, reference datapaths, constants.

Test modules import from here (and take fixtures from tests/conftest.py), never from one another;
tests/test_suite_layout.py holds them to that.
"""
