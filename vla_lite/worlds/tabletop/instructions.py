"""Instruction phrasings for the touch task, as plain data.

Three splits:
- "train": the phrasings demonstrations are labelled with (canonical colour words, a few verbs and nouns);
- "paraphrase": the same request reworded: every template's verb (press, go, poke, ...) and structure appears in
  no training template, the colour keeps its canonical word; articles, "one", "cube"/"block" may be shared;
- "heldout": the paraphrase templates with the colour named by a synonym ("crimson" for red) that no training
  instruction contains. This tests the text encoder's knowledge of rare colour names as much as the policy:
  all-MiniLM-L6-v2 puts few of these synonyms nearest their colour (benchmarks/language_probe.py).
"""

from __future__ import annotations

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {  # name -> RGB, distinct from the table and from each other
    "red": (215, 38, 38),
    "green": (36, 160, 64),
    "blue": (38, 84, 214),
    "yellow": (236, 206, 30),
    "purple": (128, 52, 168),
    "orange": (244, 128, 24),
}

TRAIN_TEMPLATES = (
    "touch the {c} block",
    "tap the {c} cube",
    "put the tool on the {c} block",
    "touch the {c} cube",
    "tap the {c} block",
    "lower the tool onto the {c} block",
    "move to the {c} block and touch it",
    "touch the {c} one",
)

HELDOUT_TEMPLATES = (
    "press down on the {c} cube",
    "go to the {c} one",
    "poke the {c} brick",
    "make contact with the {c} box",
    "could you bring your tip down upon the {c} piece",
    "find the {c} object and press it",
)

COLOUR_SYNONYMS: dict[str, tuple[str, ...]] = {  # held-out colour words only
    "red": ("crimson", "scarlet"),
    "green": ("emerald", "jade"),
    "blue": ("azure", "cobalt"),
    "yellow": ("golden", "lemon"),
    "purple": ("violet", "lilac"),
    "orange": ("tangerine", "amber"),
}

SPLITS = ("train", "paraphrase", "heldout")


def make_instruction(colour: str, rng: np.random.Generator, split: str = "train") -> str:
    """One phrasing asking to touch the `colour` block, drawn with rng from the split's templates."""
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; expected one of {sorted(COLOURS)}")
    if split == "train":
        template, word = TRAIN_TEMPLATES[rng.integers(len(TRAIN_TEMPLATES))], colour
    elif split == "paraphrase":
        template, word = HELDOUT_TEMPLATES[rng.integers(len(HELDOUT_TEMPLATES))], colour
    elif split == "heldout":
        template = HELDOUT_TEMPLATES[rng.integers(len(HELDOUT_TEMPLATES))]
        synonyms = COLOUR_SYNONYMS[colour]
        word = synonyms[rng.integers(len(synonyms))]
    else:
        raise ValueError(f"instruction split must be one of {SPLITS}, got {split!r}")
    return template.format(c=word)


def all_instructions(split: str = "train") -> dict[str, list[str]]:
    """colour -> every phrasing of the split (for vocabulary checks and embedding caches)."""
    if split not in SPLITS:
        raise ValueError(f"instruction split must be one of {SPLITS}, got {split!r}")
    if split == "train":
        return {c: [t.format(c=c) for t in TRAIN_TEMPLATES] for c in COLOURS}
    if split == "paraphrase":
        return {c: [t.format(c=c) for t in HELDOUT_TEMPLATES] for c in COLOURS}
    return {c: [t.format(c=w) for t in HELDOUT_TEMPLATES for w in COLOUR_SYNONYMS[c]] for c in COLOURS}
