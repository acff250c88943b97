"""The Hugging Face dataset release: build the folder (filter, dedupe, split), write its card, upload."""
