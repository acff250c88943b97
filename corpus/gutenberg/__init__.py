"""Books from Project Gutenberg: catalog search, a polite HTTP client, fetch (cache, resume), clean
(decode, strip the header and licence, read the preamble, normalise, find chapters; HTML editions too)
and reading fetched or local books."""
