"""Instruction-like sentences: one set calibrates the text encoder's quantisation (GPTQ Hessians), a disjoint one
measures its fidelity. Deterministic: templated instructions from a seeded generator plus free-form sentences.
"""

from __future__ import annotations

import random

_VERBS = ["touch", "tap", "push", "pick up", "grab", "lift", "move", "slide", "poke", "point at", "knock over",
          "rotate", "nudge", "press", "hold", "drop", "bring me", "find", "put away", "stack", "shake", "place",
          "pull", "squeeze", "carry", "hand over", "turn", "wipe", "reach for", "let go of"]
_COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "black", "white", "pink", "grey", "brown",
            "dark", "light blue", "small", "big", "tall", "round", "wooden", "metal", "plastic", "", "", ""]
_OBJECTS = ["block", "cube", "ball", "cup", "mug", "bowl", "bottle", "box", "sponge", "can", "apple", "banana",
            "marker", "peg", "plate", "toy car", "lid", "brick", "cylinder", "spoon", "fork", "knife", "towel",
            "book", "pen", "phone", "remote", "shoe", "sock", "tray", "jar", "basket", "carrot", "lemon", "pot"]
_PLACES = ["", "", "", "", " on the left", " on the right", " into the bin", " onto the plate", " next to the bowl",
           " in the drawer", " to the corner", " near the edge of the table", " behind the box", " in front of you",
           " back to where it was", " on the shelf", " under the table", " into the sink", " a little higher"]
_MANNER = ["", "", "", "", "", "please ", "now ", "slowly ", "carefully ", "quickly ", "gently "]
# Free-form sentences only in the evaluation set (never used for calibration).
EVAL_FREE = [
    "open the drawer", "close the drawer", "open the door", "close the microwave", "turn on the light switch",
    "press the green button", "go back to the home position", "stop", "wave hello", "move the arm up a bit",
    "put the red block on top of the blue block", "sort the blocks by colour", "clean up the table",
    "Please, pick up the 2 red blocks!", "Move 5 cm to the left.", "Don't touch the glass — it's fragile.",
    "Place the mug (the white one) on the coaster.", "Put the café cup by the naïve robot's base",
    "rotate the handle 90 degrees clockwise", "pour the water into the cup", "hang the towel on the hook",
    "Insert the peg into hole #3", "slide the window open", "flip the pancake", "unplug the charger",
    "stack three cubes into a tower", "pick the apple, not the banana", "what is on the table?",
    "hand me the screwdriver", "fold the cloth in half", "throw the paper in the recycling bin",
    "put all the toys in the basket"]
CALIBRATION_FREE = [
    "halt", "freeze", "wait here", "go home", "reset", "release it", "open the gripper", "close the gripper",
    "The weather is nice today.", "She bought three apples at the market.", "How do I reset my password?",
    "The committee approved the budget for next year.", "A dog is running across the field.",
    "Turn left at the second light.", "This recipe needs two cups of flour.", "Can you help me carry this?",
    "He plays the guitar every evening.", "Robots are used in many factories.", "Put the kettle on, please.",
    "The meeting starts at 9 o'clock.", "Water boils at 100 degrees Celsius.", "Where did I leave my keys?",
    "Move the camera so the whole table is visible.", "Be careful with the eggs!", "Don't drop it.",
    "Water the plant on the windowsill.", "Unlock the door (it's the left key).", "Tidy up the workbench.",
    "Raise the lid, then lower it again.", "Why is the light blinking?", "Plug in the lamp.", "Sweep the floor."]


def instruction_sentences(n: int, seed: int = 0, exclude: set[str] = frozenset()) -> list[str]:
    """n distinct templated instructions ("carefully grab the blue mug into the bin"), deterministic per seed."""
    rng, out = random.Random(seed), {}
    while len(out) < n:
        obj = " ".join(filter(None, [rng.choice(_COLOURS), rng.choice(_OBJECTS)]))
        s = f"{rng.choice(_MANNER)}{rng.choice(_VERBS)} the {obj}{rng.choice(_PLACES)}"
        if s not in exclude:
            out.setdefault(s, None)
    return list(out)


def evaluation_set(n: int = 200) -> list[str]:
    return EVAL_FREE + instruction_sentences(n - len(EVAL_FREE), seed=0)


def calibration_set(n: int) -> list[str]:
    return CALIBRATION_FREE + instruction_sentences(max(0, n - len(CALIBRATION_FREE)), seed=1,
                                                    exclude=set(evaluation_set()))
