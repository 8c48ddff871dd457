"""Tasks and instruction phrasings for the SO-101 pick-and-place, as plain data.

A task is (cube colour, place): "put the red cube in the bowl", "move the blue cube to the left pad". Every scene
holds all its cubes, the bowl and both pads, so only the instruction says which cube goes where. Left and right
are the robot's: the left pad is on the arm's left (+y, the image's right in the front camera, which faces the
arm).

Three splits, as in vla_lite.worlds.tabletop.instructions:
- "train": the phrasings demonstrations are labelled with (canonical colour and place words);
- "paraphrase": the same request reworded: verbs and sentence structures no training template uses, and the pads
  named as "the pad on the left" / "the left-hand pad"; colours keep their canonical word;
- "heldout": the paraphrase templates with the colour named by a synonym no training instruction contains.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

COLOURS: dict[str, tuple[float, float, float]] = {  # name -> RGB 0..1, distinct from the table and each other
    "red": (0.84, 0.15, 0.15),
    "green": (0.14, 0.63, 0.25),
    "blue": (0.15, 0.33, 0.84),
    "yellow": (0.93, 0.81, 0.12),
}
COLOUR_SYNONYMS: dict[str, tuple[str, ...]] = {  # held-out colour words only
    "red": ("crimson", "scarlet"),
    "green": ("emerald", "jade"),
    "blue": ("azure", "cobalt"),
    "yellow": ("golden", "lemon"),
}


class Place(str, enum.Enum):
    BOWL = "bowl"
    LEFT_PAD = "left pad"
    RIGHT_PAD = "right pad"


@dataclass(frozen=True)
class Task:
    colour: str  # a key of COLOURS: the cube to move
    place: Place  # where it goes

    def __post_init__(self):
        if self.colour not in COLOURS:
            raise ValueError(f"unknown cube colour {self.colour!r}; expected one of {list(COLOURS)}")
        if not isinstance(self.place, Place):
            raise ValueError(f"place must be a Place ({[p.value for p in Place]}), got {self.place!r}")


# {c}: colour word; {to}: the place as a destination ("the bowl"); {at}: with its preposition ("in the bowl").
TRAIN_TEMPLATES = (
    "put the {c} cube {at}",
    "move the {c} cube to {to}",
    "place the {c} block {at}",
    "pick up the {c} cube and put it {at}",
    "take the {c} block to {to}",
    "put the {c} block {at}",
)
HELDOUT_TEMPLATES = (
    "set the {c} cube down {at}",
    "carry the {c} box over to {to}",
    "could you transfer the {c} piece to {to}",
    "grab the {c} one and leave it {at}",
    "i want the {c} brick {at}",
    "relocate the {c} cube to {to}",
)
TRAIN_PLACES: dict[Place, tuple[tuple[str, str], ...]] = {  # place -> ((to, at), ...)
    Place.BOWL: (("the bowl", "in the bowl"),),
    Place.LEFT_PAD: (("the left pad", "on the left pad"),),
    Place.RIGHT_PAD: (("the right pad", "on the right pad"),),
}
HELDOUT_PLACES: dict[Place, tuple[tuple[str, str], ...]] = {
    Place.BOWL: (("the bowl", "in the bowl"), ("the bowl", "inside the bowl")),
    Place.LEFT_PAD: (("the pad on the left", "on the pad on the left"), ("the left-hand pad", "on the left-hand pad")),
    Place.RIGHT_PAD: (("the pad on the right", "on the pad on the right"),
                      ("the right-hand pad", "on the right-hand pad")),
}
SPLITS = ("train", "paraphrase", "heldout")


def all_tasks(colours=tuple(COLOURS)) -> tuple[Task, ...]:
    """Every (colour, place) task over the given cube colours, colour-major."""
    return tuple(Task(c, p) for c in colours for p in Place)


def _choices(split: str):
    if split == "train":
        return TRAIN_TEMPLATES, TRAIN_PLACES
    if split in ("paraphrase", "heldout"):
        return HELDOUT_TEMPLATES, HELDOUT_PLACES
    raise ValueError(f"instruction split must be one of {SPLITS}, got {split!r}")


def phrasings(task: Task, split: str = "train") -> tuple[str, ...]:
    """Every distinct phrasing of task in the split, in template order."""
    templates, places = _choices(split)
    words = COLOUR_SYNONYMS[task.colour] if split == "heldout" else (task.colour,)
    return tuple(dict.fromkeys(t.format(c=w, to=to, at=at)
                               for t in templates for w in words for to, at in places[task.place]))


def make_instruction(task: Task, rng: np.random.Generator, split: str = "train") -> str:
    """One phrasing of task drawn with rng from the split."""
    options = phrasings(task, split)
    return options[int(rng.integers(len(options)))]


def task_of_instruction(text: str, colours=tuple(COLOURS)) -> Task:
    """The task a known phrasing (any split; case and surrounding space ignored) asks for; ValueError otherwise."""
    key = " ".join(str(text).lower().split())
    for task in all_tasks(colours):
        if any(key == p for split in SPLITS for p in phrasings(task, split)):
            return task
    raise ValueError(f"instruction {text!r} is not a known phrasing of any task over cubes {list(colours)}; "
                     "pass task=Task(colour, place) with a free-form instruction instead")
