"""Soft-prompt persona training on corpus shards."""
