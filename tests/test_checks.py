"""The checks of option values: one message shape, and the one reader of `a:b:c` values."""

import pytest

from latens import checks


def test_a_colon_separated_value_is_split_and_converted():
    assert checks.colon_separated("a rule", "fast:0.01:5", "name:loss:patience", (str, float, int)) == ("fast", 0.01, 5)
    assert checks.colon_separated("a setting", "he:0.1", "init:rate[:bound]", (str, float, float), optional=1) == (
        "he", 0.1)


@pytest.mark.parametrize("value", ["fast:0.01", "fast:0.01:5:6", "fast:slow:5", "fast:0.01:5.5"])
def test_a_malformed_colon_separated_value_names_its_form(value):
    with pytest.raises(ValueError, match=rf"^a rule must be name:loss:patience, got '{value}'$"):
        checks.colon_separated("a rule", value, "name:loss:patience", (str, float, int))


@pytest.mark.parametrize("check, value, message", [
    (checks.positive, 0, "x must be positive, got 0"),
    (lambda name, value: checks.at_least(name, value, 2), 1, "x must be at least 2, got 1"),
    (checks.integer, "10", "x must be an integer, got '10'"),
    (checks.integer, True, "x must be an integer, got True"),
])
def test_every_check_says_name_must_be_condition_got_value(check, value, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        check("x", value)
