"""Lessons: a starting configuration, a short text per step, actions the widget performs and exercises.

Lessons are data: one JSON file per lesson in `data/` (the built-in ones), in the format of docs/LESSONS.md.
`validate_lesson` checks any lesson document (a teacher's own too) and raises LessonError naming every problem.

    from app.lessons import builtin_lessons, get_lesson
    get_lesson("chain-rule")["steps"][0]["text"]
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from .validate import (EXERCISE_PHASE, LESSON_FORMAT, LessonError, check_lesson, effective_config, network_sizes,
                       validate_lesson)

DATA_DIR = Path(__file__).with_name("data")

__all__ = [
    "DATA_DIR", "EXERCISE_PHASE", "LESSON_FORMAT", "LessonError", "builtin_lessons", "check_lesson",
    "effective_config", "get_lesson", "lesson_summary", "load_lesson_file", "network_sizes", "validate_lesson",
]


def load_lesson_file(path: str | Path, id_from_name: bool = False) -> dict:
    """Read and validate one lesson file (a built-in lesson's id must also match its file's name)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise LessonError([f"line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})"], str(path)) from None
    except OSError as e:
        raise LessonError([f"cannot be read ({e.strerror})"], str(path)) from None
    return validate_lesson(data, source=str(path), expected_id=path.stem if id_from_name else None)


@lru_cache(maxsize=1)
def _builtin() -> dict[str, dict]:
    lessons = {}
    for path in sorted(DATA_DIR.glob("*.json")):
        lesson = load_lesson_file(path, id_from_name=True)
        lessons[lesson["id"]] = lesson
    return lessons


def builtin_lessons() -> dict[str, dict]:
    """Every built-in lesson by id, in the order of `order.json`'s list (the teaching order), then by id."""
    lessons = _builtin()
    return {k: lessons[k] for k in sorted(lessons, key=lambda k: (_ORDER.index(k) if k in _ORDER else len(_ORDER), k))}


def get_lesson(lesson_id: str) -> dict | None:
    return _builtin().get(lesson_id)


def lesson_summary(lesson: dict) -> dict:
    """What a list of lessons shows: id, title, summary, level, minutes, how many steps and exercises."""
    return {
        "id": lesson["id"],
        "title": lesson["title"],
        "summary": lesson["summary"],
        "level": lesson.get("level", "core"),
        "minutes": lesson.get("minutes"),
        "steps": len(lesson["steps"]),
        "exercises": sum(1 for s in lesson["steps"] if "exercise" in s),
    }


# the teaching order of the built-in lessons (a lesson not listed comes after these, by id)
_ORDER = [
    "one-neuron", "xor-hidden-layer", "chain-rule", "learning-rate", "vanishing-gradients", "dead-relu",
    "zero-init-symmetry", "overfitting-l2", "batch-size-noise", "softmax-digits",
]
