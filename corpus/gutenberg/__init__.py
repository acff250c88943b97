"""Books from Project Gutenberg: catalog search, a polite HTTP client, fetch (cache, resume), clean
(strip the header and licence, normalise, find chapters) and reading fetched or local books."""
