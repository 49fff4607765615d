"""Maintainer tools kept beside the code but outside the distribution (e.g. the README's demo)."""
