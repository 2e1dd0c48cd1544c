"""Targeting conditions: GrowthBook's Mongo-style condition language, in pure Python.

* :func:`evaluate_condition` evaluates a condition document against attributes;
* :func:`compile_condition` turns it into a fast reusable function;
* :func:`validate_condition` explains what is wrong with one, for the admin and the API.
"""

from __future__ import annotations

from personalize.conditions.compile import CompiledCondition, compile_condition
from personalize.conditions.evaluate import evaluate_condition
from personalize.conditions.validate import validate_condition

__all__ = ["CompiledCondition", "compile_condition", "evaluate_condition", "validate_condition"]
