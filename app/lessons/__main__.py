"""Check lesson files: `python -m app.lessons check my-lesson.json ...` (no argument: the built-in lessons).

Prints every problem with its path in the file, and exits with status 1 when any file has one.
`python -m app.lessons claims my-lesson.json ...` also plays each lesson and measures every claim of its steps.
"""

from __future__ import annotations

import sys

from . import DATA_DIR, LessonError, load_lesson_file


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("check", "claims"):
        print(__doc__.strip())
        return 2
    builtin = not argv[1:]
    paths = argv[1:] or sorted(str(p) for p in DATA_DIR.glob("*.json"))
    bad = 0
    for path in paths:
        try:
            lesson = load_lesson_file(path, id_from_name=builtin)
        except LessonError as e:
            bad += 1
            print(e)
            continue
        exercises = sum(1 for s in lesson["steps"] if "exercise" in s)
        print(f"{path}: ok ({lesson['id']}: {len(lesson['steps'])} steps, {exercises} exercises)")
        if argv[0] == "claims":
            from .runner import check_claims
            for r in check_claims(lesson):
                bad += not r["holds"]
                rng = (f"at least {r['min']}" if r["max"] is None else f"at most {r['max']}" if r["min"] is None
                       else f"{r['min']} to {r['max']}")
                print(f"  step {r['step'] + 1}: {'holds' if r['holds'] else 'FAILS'}: \"{r['says']}\" "
                      f"({r['measure']} = {r['value']:.4g}, expected {rng})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
