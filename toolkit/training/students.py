"""A fresh student network as a recipe's [distill] section describes it (every distillation uses it)."""

from __future__ import annotations


def student_from_section(section: dict):
    """The student of ``section`` (student, width, levels, student_options); RecipeError for a setting
    the network does not have."""
    from ..models import create_model
    from ..recipe_tables import RecipeError

    levels = {"levels": section["levels"]} if section.get("levels") else {}
    options = dict(section.get("student_options") or {})
    if {"width", "levels"} & set(options):
        raise RecipeError("distill.student_options: set width and levels as distill.width / distill.levels")
    student = create_model(section["student"], width=section["width"], **levels, **options)
    unknown = sorted(set(options) - set(getattr(student, "config", {})))
    if unknown:  # builders swallow unknown keywords; a typo must not train the wrong network for hours
        raise RecipeError(f"distill.student_options: {', '.join(unknown)} not settings of {section['student']} "
                          f"(its settings: {', '.join(sorted(getattr(student, 'config', {})))})")
    return student
