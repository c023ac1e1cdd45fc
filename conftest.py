"""Root conftest: loads the project's pytest plugins for every test under this repository.

It sits at the repository root (not in tests/) so that a test file placed anywhere else is
still seen by the test-type plugin, which rejects it.
"""

pytest_plugins = [
    "tests.plugins.session_env",
    "tests.plugins.test_types",
    "tests.plugins.gate",
    "tests.plugins.waiting",
    "tests.plugins.cli_runner",
    "tests.plugins.database",
    "tests.plugins.sandbox",
    "tests.plugins.logging_state",
    "tests.plugins.kalshi_target",
    "tests.plugins.espn_cassettes",
    "tests.plugins.local_zone",
    "pytester",
]
