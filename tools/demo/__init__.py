"""The README's animated demo, made from the real product: `make demo` (python -m tools.demo)."""
