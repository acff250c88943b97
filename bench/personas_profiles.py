"""The experiment sizes of bench/personas.py: which books, characters, lengths and steps each profile runs."""

from __future__ import annotations

from dataclasses import dataclass, replace

from training.config import ALL_SHOTS, Shots

SOURCES = ("gold", "attributed")
CURVE_METHODS = ("ours-nll", "prompt-tuning", "lora")


@dataclass(frozen=True)
class Profile:
    """One experiment size; the default must finish on 2 CPU cores within an hour."""

    pretrain_books: tuple[str, ...]
    eval_books: tuple[str, ...]
    characters_per_book: int  # the evaluated characters of a book: its most talkative ones
    min_lines: int
    max_test_lines: int
    context_tokens: int
    k: int
    length: int
    pretrain_steps: int
    fit_steps: int
    batch_size: int
    shots: tuple[Shots, ...]
    curve_methods: tuple[str, ...]
    objectives: tuple[str, ...] = ("nll", "kl", "mix")  # "+speaker": with the speaker cross-entropy term
    ablations: tuple[tuple[int, int], ...] = ((4, 20), (64, 20), (16, 5))  # (K, L), on gold shards only
    curve_sources: tuple[str, ...] = ("gold",)  # few-shot curves cost most: only on these shard sources
    pretrain_lr: float = 0.03
    pretrain_mixture_lr: float = 0.0  # of the pretraining characters' mixture weights (0: pretrain_lr)
    fit_lr: float = 0.2
    # prompt-tuning and lora (PEFT, all lines), char-prompts-<objective> (one free prompt per character in our
    # persona module, trained on main_shots lines under the objective, e.g. char-prompts-nll+speaker)
    baselines: tuple[str, ...] = ("prompt-tuning", "lora")
    main_shots: Shots = ALL_SHOTS  # lines per character our method fits on in the main comparison
    speaker_weight: float = 1.0  # weight of the speaker term in the "+speaker" objectives
    speaker_rivals: int = 3  # rivals per line of the speaker term when fitting (a pass each)
    pretrain_objective: str = "nll"  # of the basis pretraining, "+speaker" as in `objectives`
    pretrain_rivals: int = 1  # rivals per line of the speaker term in pretraining
    hard_prompt: bool = True
    test_fraction: float = 0.1  # share of each character's lines in the test split (the held-out lines)
    utterance_tokens: int = 64  # utterance budget: longer lines are cut at the end (training and scoring)
    prompts_lr: float = 0.05  # of the per-character prompts ("char-prompts-<objective>" baselines)


AUSTEN = ("SenseAndSensibility", "MansfieldPark", "NorthangerAbbey", "Persuasion")
PROFILES = {
    "quick": Profile(("Persuasion", "NorthangerAbbey"), ("PrideAndPrejudice",), 3, 40, 6, 64, 8, 10,
                     12, 4, 8, (0, 8, ALL_SHOTS), ("ours-nll",), ("nll", "kl"), ((4, 10),)),
    "default": Profile(AUSTEN + ("AnneOfGreenGables", "ARoomWithAView", "TheSignOfTheFour"),
                       ("PrideAndPrejudice", "NightAndDay"), 4, 40, 16, 64, 16, 20,
                       100, 12, 8, (0, 8, 32, ALL_SHOTS), ("ours-nll", "prompt-tuning")),
    "gpu": Profile(AUSTEN + ("AnneOfGreenGables", "ARoomWithAView", "TheSignOfTheFour", "AHandfulOfDust",
                             "APassageToIndia", "OliverTwist", "TheAwakening", "DaisyMiller", "TheInvisibleMan",
                             "AlicesAdventuresInWonderland"),
                   ("PrideAndPrejudice", "NightAndDay", "TheSunAlsoRises", "WhereAngelsFearToTread"), 6, 40, 48,
                   128, 32, 20, 1500, 100, 16, (0, 8, 32, 128, ALL_SHOTS), CURVE_METHODS,
                   curve_sources=SOURCES, ablations=((4, 20), (16, 20), (64, 20), (32, 5))),
    # Gemma 3 270M on 2 CPU cores (15 s of CPU per training step of 8 examples on one free thread; 35-110 s
    # of wall time on busy cores): the target comparison only — Pride and Prejudice's top 4 speakers, ours at
    # 32 lines with and without the speaker term, against the hard prompt and PEFT prompt tuning on all
    # lines; short contexts and few steps kept it to 66 minutes on busy cores.
    "gemma-cpu": Profile(("Persuasion", "NorthangerAbbey", "SenseAndSensibility"), ("PrideAndPrejudice",), 4, 40,
                         12, 48, 16, 10, 16, 6, 8, (32,), (), ("nll+speaker", "nll"), (), (), baselines=("prompt-tuning",),
                         main_shots=32),
    # The same comparison with a basis pretrained ten times longer, with the speaker term and a mixture learning
    # rate as large as the fit's, on the characters of the four other Austen novels (gemma-cpu's basis, 16 steps
    # of NLL alone at 0.03, left every pretraining character near the uniform mixture); one thread, 78 minutes.
    "gemma-cpu-speaker": Profile(AUSTEN, ("PrideAndPrejudice",), 4, 40, 12, 48, 16, 10, 150, 6, 8, (32,), (),
                                 ("nll+speaker", "nll"), (), (), baselines=("prompt-tuning",), main_shots=32,
                                 pretrain_objective="nll+speaker", pretrain_mixture_lr=0.2),
    # The upper bound that ours is read against, on one thread: per-character prompt tuning (one 10-token prompt
    # per character, 32 own lines, NLL plus the cross-entropy over the book's 4 speakers) beside ours nll+speaker
    # at 32 lines on gemma-cpu-speaker's basis (same pretraining fields; pass its run with --basis to reuse it),
    # the hard prompt and no prompt. Measured on busy cores: a step of 8 with the speaker term against 3 rivals
    # (4 passes) costs 65 s at context 48 + utterance 64 but 27 s at 24 + 32, so the lengths are cut to 24 + 32
    # and each trained method gets 60 steps (15 per character: 480 examples, ~4 epochs of the 4 x 32 lines):
    # measured 25 and 22 min with scoring, 53 min in all with --basis. A test fraction of 0.25 gives every character >= 25 held-out lines (Mr Bennet has 103
    # lines: 26 test, 10 validation, 67 train), capped at 30: 116 lines, standard error <= 0.046 instead of 0.064.
    "gemma-cpu-upper": Profile(AUSTEN, ("PrideAndPrejudice",), 4, 40, 30, 24, 16, 10, 150, 15, 8, (32,), (),
                               ("nll+speaker",), (), (), baselines=("char-prompts-nll+speaker",), main_shots=32,
                               pretrain_objective="nll+speaker", pretrain_mixture_lr=0.2, test_fraction=0.25,
                               utterance_tokens=32, prompts_lr=0.05),
}
UPPER = PROFILES["gemma-cpu-upper"]
# The same per-character prompts with NLL alone (the reference's lower row, 0.36 at 32 lines): one pass a step.
PROFILES["gemma-cpu-upper-nll"] = replace(UPPER, objectives=(), hard_prompt=False, baselines=("char-prompts-nll",))
# The rest of the table in gemma-cpu-upper's setting, each a run of its own on one thread with --basis (the
# gemma-cpu-speaker basis), so that the runs share the 2 cores: ours at 32 lines without the speaker term
# (nll, kl, mix) against PEFT prompt tuning and LoRA on all lines;
PROFILES["gemma-cpu-objectives"] = replace(UPPER, objectives=("nll", "kl", "mix"), baselines=("prompt-tuning", "lora"),
                                           hard_prompt=False)
# the few-shot curve of ours nll+speaker, 0/8/32/128/all lines at the same 15 steps per character (the 32-line
# fit is gemma-cpu-upper's: copy its work folder's fit-pretrain-k16-l10-nll+speaker to reuse it);
PROFILES["gemma-cpu-curve"] = replace(UPPER, shots=(0, 8, 32, 128, ALL_SHOTS), curve_methods=("ours-nll+speaker",),
                                      curve_sources=("gold",), baselines=(), hard_prompt=False)
# ours nll+speaker and PEFT prompt tuning trained on our own attribution (--sources attributed);
PROFILES["gemma-cpu-attributed"] = replace(UPPER, baselines=("prompt-tuning",), hard_prompt=False)
# a larger basis (K=64), pretrained as gemma-cpu-speaker's (150 steps with the speaker term, here at 24 + 32 tokens).
PROFILES["gemma-cpu-ablations"] = replace(UPPER, baselines=(), hard_prompt=False, ablations=((64, 10),))
