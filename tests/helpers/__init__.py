"""Test-only helpers shared by several test files (kept out of the library the course ships)."""
