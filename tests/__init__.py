"""The test suite, laid out like the package it tests; shared helpers live in :mod:`tests.support`."""
