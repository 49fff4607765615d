"""What the tests share: live servers, proxies, fakes, clocks, editors, waiting helpers."""
