"""The spec language: parsing, canonical form, typed validation."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reluc import registry
from reluc.errors import SpecError
from reluc.spec import format_number, parse_number, parse_option_args, parse_text, read_spec_argument


def resolve(text):
    return registry.resolve(parse_text(text))


def test_defaults_are_filled_in_and_canonical_form_lists_every_parameter():
    assert resolve("sort").canonical() == "sort n=8 method=best"
    assert resolve("sort domain=-inf,inf").canonical() == "sort n=8 method=best"  # implicit
    assert resolve("sort domain=0,1").canonical() == "sort n=8 method=best domain=0,1"
    assert resolve("pwl points=0:0,1:1,2:0").canonical() == "pwl points=0:0,1:1,2:0 domain=0,2"


def test_equal_values_written_differently_give_one_canonical_spec():
    a = resolve("pwl points=0:0,0.50:1/2,1:0 domain=-1,1")
    b = resolve("pwl   points=0:0,1/2:0.5,1:0   domain=-1.0,1   # same")
    assert a == b
    assert a.canonical() == "pwl points=0:0,0.5:0.5,1:0 domain=-1,1"


def test_spec_text_may_span_lines_with_comments():
    raw = parse_text("# a comment\nsort   # the constructor\n  n=16\n")
    assert raw.name == "sort" and raw.items == (("n", "16"),)


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("sorter n=4", ["unknown constructor 'sorter'", "did you mean 'sort'", "choose from"]),
        ("sort m=4", ["unknown parameter 'm'", "valid parameters: n"]),
        ("sort n=abc", ["n must be an integer", "'abc'"]),
        ("sort n=0", ["n must be >= 1", "got 0"]),
        ("sort n=2.5", ["n must be an integer"]),
        ("sort n=4 n=5", ["'n' is given twice"]),
        ("sort n", ["expected key=value", "'n'"]),
        ("pwl", ["missing parameter 'points'"]),
        ("pwl points=0:0,0:1", ["strictly increasing"]),
        ("pwl points=0:0", ["at least 2 points"]),
        ("pwl points=0:0,1:x", ["bad item '1:x'"]),
        ("pwl points=0:0,1:1 domain=1,0", ["lo < hi"]),
        ("pwl points=0:0,1:1 domain=1", ["interval lo,hi"]),
        ("sawtooth k=-1", ["k must be >= 1"]),
        ("", ["empty spec"]),
        ("n=3", ["starts with a constructor name"]),
    ],
)
def test_bad_specs_name_the_problem(text, fragments):
    with pytest.raises(SpecError) as e:
        resolve(text)
    for f in fragments:
        assert f in str(e.value)
    assert "\n" not in str(e.value)


def test_option_words_in_all_three_forms():
    assert parse_option_args(["--n", "64", "--k=3", "m=2"]) == [("n", "64"), ("k", "3"), ("m", "2")]
    with pytest.raises(SpecError, match="needs a value"):
        parse_option_args(["--n"])
    with pytest.raises(SpecError, match="unexpected argument"):
        parse_option_args(["64"])


def test_spec_file_and_text_and_options_resolve_identically(tmp_path):
    f = tmp_path / "s.spec"
    f.write_text("# sixty-four\nsort n=64\n")
    forms = [read_spec_argument(str(f)), read_spec_argument("sort n=64"),
             read_spec_argument("sort", ["--n", "64"])]
    assert len({registry.resolve(r) for r in forms}) == 1


def test_missing_spec_file_is_an_error():
    with pytest.raises(SpecError, match="cannot read spec file"):
        read_spec_argument("nope/missing.spec")


@given(st.fractions(max_denominator=10**6))
def test_numbers_round_trip_through_their_canonical_text(v):
    assert parse_number(format_number(v)) == v


@given(st.integers(min_value=1, max_value=10**6))
def test_integer_parameters_round_trip(n):
    spec = resolve(f"sort n={n}")
    assert spec.values["n"] == n
    assert resolve(spec.canonical()) == spec


@given(st.lists(st.tuples(st.fractions(max_denominator=64), st.fractions(max_denominator=64)),
                min_size=2, max_size=8, unique_by=lambda p: p[0]))
def test_point_lists_round_trip(points):
    points = sorted(points)
    text = ",".join(f"{format_number(x)}:{format_number(y)}" for x, y in points)
    spec = resolve(f"pwl points={text}")
    assert spec.values["points"] == tuple(points)
    assert resolve(spec.canonical()) == spec


def test_number_formats():
    assert format_number(Fraction(1, 2)) == "0.5"
    assert format_number(Fraction(-3, 4)) == "-0.75"
    assert format_number(Fraction(1, 3)) == "1/3"
    assert format_number(Fraction(7)) == "7"
    assert parse_number("1e-3") == Fraction(1, 1000)
    for bad in ["nan", "inf", "1/0", "0x10", "", "1/2/3"]:
        with pytest.raises(ValueError):
            parse_number(bad)


def test_hypothesis_runs_derandomized_unless_asked_to_explore():
    """CI runs must be reproducible: the profile conftest loads draws fixed examples."""
    import os

    from hypothesis import settings

    if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci":
        assert settings().derandomize and settings().database is None
