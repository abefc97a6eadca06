"""Tests of the local stack (devstack/) and the shared stack fixtures."""
