"""What the tests share: the app and its accounts, live servers, proxies, fakes, clocks, editors,
the CLI run in-process or installed, a clean environment, waiting helpers (fixtures live in the
conftest.py of the narrowest folder that uses them)."""
