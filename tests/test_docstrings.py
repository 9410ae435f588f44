"""The public API's docstrings: numpydoc sections that match the code, and examples
that run.

Public API: the names in ``positive_mlp.__all__``, the functions and classes of the
public modules (no leading underscore in the module path, such as
``positive_mlp.demo``), and the public methods these classes define themselves.
Methods a class inherits from scikit-learn (``get_params``, ``set_params``,
``get_metadata_routing``, and the ``set_*_request`` methods scikit-learn generates
from our signatures) carry scikit-learn's docstrings: they are checked only for the
structural codes in ``INHERITED_CODES``, which catch a generated docstring that no
longer lists our parameters.

The doctests run against the installed package, as every test here does.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from extras import needs_extra

import positive_mlp
from positive_mlp import PositiveMLPRegressor

needs_extra("numpydoc", "docs")
from numpydoc.docscrape import NumpyDocString  # noqa: E402
from numpydoc.validate import ERROR_MSGS, validate  # noqa: E402

PACKAGE = "positive_mlp"
COMPILED_CORE = "positive_mlp._core"  # the C++ extension: no Python docstrings to run
DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# numpydoc codes not checked on our own objects, and why.
IGNORED_CODES = {
    # An extended summary is welcome where it says something, but a helper that its
    # one-line summary and its Parameters and Returns describe fully needs none.
    "ES01",
    # The first line of Returns names the value ("self : PositiveMLPRegressor",
    # "y_pred : ndarray of shape ..."), as scikit-learn's docstrings do.
    "RT02",
}
CHECKED_CODES = set(ERROR_MSGS) - IGNORED_CODES
# Inherited from scikit-learn: a docstring, with the parameters of the signature.
INHERITED_CODES = {"GL08", "PR01", "PR02", "PR03"}


# --- what is public ---------------------------------------------------------------


def package_module_names() -> list[str]:
    found = pkgutil.walk_packages(positive_mlp.__path__, prefix=f"{PACKAGE}.")
    names = [PACKAGE, *(info.name for info in found)]
    return [name for name in names if name != COMPILED_CORE]


def import_modules() -> tuple[dict[str, ModuleType], dict[str, str]]:
    """The package's modules by name, and those left out because they need an
    optional dependency not installed here (name -> the dependency)."""
    modules, missing = {}, {}
    for name in package_module_names():
        try:
            modules[name] = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if not error.name or error.name.split(".")[0] == PACKAGE:
                raise
            missing[name] = error.name
    return modules, missing


MODULES, MODULES_MISSING_A_DEPENDENCY = import_modules()


def is_public_module(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def public_names(module: ModuleType) -> list[str]:
    """``__all__``, or the functions and classes the module defines without a leading
    underscore."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    ]


def public_objects() -> dict[str, object]:
    """Import path -> object for every public class and function."""
    objects = {}
    for module_name, module in MODULES.items():
        if not is_public_module(module_name):
            continue
        for name in public_names(module):
            objects[f"{module_name}.{name}"] = getattr(module, name)
    return objects


def module_name(obj: object) -> str:
    module = inspect.getmodule(obj)
    return "" if module is None else module.__name__


def defined_here(obj: object) -> bool:
    return module_name(obj).split(".")[0] == PACKAGE


def public_methods(cls: type) -> Iterator[tuple[str, object]]:
    for name in sorted(dir(cls)):
        if not name.startswith("_"):
            yield name, getattr(cls, name)


def own_api() -> dict[str, object]:
    """Import path -> object: the public classes and functions and the methods our
    classes define themselves."""
    api = {}
    for path, obj in public_objects().items():
        api[path] = obj
        if inspect.isclass(obj):
            for name, method in public_methods(obj):
                if callable(method) and defined_here(method):
                    api[f"{path}.{name}"] = method
    return api


def inherited_methods() -> list[str]:
    """Import paths of the public methods our classes inherit from scikit-learn."""
    return [
        f"{path}.{name}"
        for path, obj in public_objects().items()
        if inspect.isclass(obj) and defined_here(obj)
        for name, method in public_methods(obj)
        if callable(method) and module_name(method).split(".")[0] == "sklearn"
    ]


OWN_API = own_api()


# --- the examples run ---------------------------------------------------------------


def test_discovery_finds_the_installed_modules() -> None:
    """The modules walked are the installed package's (a walk that found nothing
    would run no doctests and fail nothing)."""
    assert {"positive_mlp._estimator", "positive_mlp.demo"} <= set(MODULES)
    source_tree = Path(__file__).resolve().parents[1] / "src"
    assert source_tree not in Path(positive_mlp.__file__).resolve().parents
    if MODULES_MISSING_A_DEPENDENCY:
        pytest.skip(
            f"not checked, optional dependency missing: {MODULES_MISSING_A_DEPENDENCY}"
        )


def collect_doctests() -> dict[str, doctest.DocTest]:
    """Every docstring with examples in the installed package, by name.

    The module finder may miss methods behind a descriptor (``available_if``) or a
    wrapper on some Python versions, so each public object is searched directly too.
    """
    finder = doctest.DocTestFinder()
    tests = {}
    for module in MODULES.values():
        for test in finder.find(module):
            tests[test.name] = test
    for obj in OWN_API.values():
        module = inspect.getmodule(obj)
        name = f"{module.__name__}.{obj.__qualname__}"
        if name not in tests:
            for test in doctest.DocTestFinder(recurse=False).find(
                obj, name, module=module, globs=vars(module)
            ):
                tests[test.name] = test
    return {name: test for name, test in sorted(tests.items()) if test.examples}


DOCTESTS = collect_doctests()


@pytest.mark.parametrize("name", DOCTESTS)
def test_docstring_examples_run(name: str) -> None:
    test = DOCTESTS[name]
    test.globs = dict(test.globs)  # each run starts from the module's namespace
    report: list[str] = []
    # After a first failure the later examples mostly fail for want of its result.
    runner = doctest.DocTestRunner(
        optionflags=DOCTEST_FLAGS | doctest.REPORT_ONLY_FIRST_FAILURE
    )
    result = runner.run(test, out=report.append, clear_globs=False)
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples in {name} failed:\n"
        + "".join(report)
    )


@pytest.mark.parametrize("path", OWN_API)
def test_public_object_has_examples_that_the_suite_runs(path: str) -> None:
    obj = OWN_API[path]
    section = "\n".join(NumpyDocString(inspect.getdoc(obj) or "")["Examples"])
    examples = doctest.DocTestParser().get_examples(section)
    assert examples, f"{path} has no example (a '>>> ' line in its Examples section)."
    run = [test for test in DOCTESTS.values() if test.docstring == obj.__doc__]
    assert run, f"The examples of {path} are not among the doctests collected."


# --- numpydoc validation ----------------------------------------------------------


def format_errors(path: str, errors: list[tuple[str, str]]) -> str:
    return f"{path}:\n" + "\n".join(f"  {code}: {message}" for code, message in errors)


@pytest.mark.parametrize("path", OWN_API)
def test_numpydoc_validation(path: str) -> None:
    errors = [(c, m) for c, m in validate(path)["errors"] if c in CHECKED_CODES]
    assert not errors, format_errors(path, errors)


@pytest.mark.parametrize("path", inherited_methods())
def test_inherited_docstrings_match_our_signatures(path: str) -> None:
    errors = [(c, m) for c, m in validate(path)["errors"] if c in INHERITED_CODES]
    assert not errors, format_errors(path, errors)


# --- the Parameters and Attributes sections match the code ------------------------

DEFAULT = re.compile(r"default=(.+?)\s*$")


def default_problem(name: str, type_line: str, default: object) -> str | None:
    """What is wrong with ``name``'s documented default, or None."""
    match = DEFAULT.search(type_line)
    if match is None:
        return f"{name}: the type line lacks 'default={default!r}'"
    try:
        documented = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return f"{name}: 'default={match.group(1)}' is not a Python literal"
    if not (isinstance(documented, type(default)) and documented == default):
        return f"{name}: documented default={match.group(1)}, signature has {default!r}"
    return None


def signature_parameters(obj: object) -> dict[str, inspect.Parameter]:
    """The parameters of a callable; none for a class without a Python ``__init__``
    (an exception class)."""
    try:
        return dict(inspect.signature(obj).parameters)
    except ValueError:
        return {}


@pytest.mark.parametrize("path", OWN_API)
def test_documented_defaults_match_the_signature(path: str) -> None:
    obj = OWN_API[path]
    documented = {
        parameter.name: parameter.type
        for parameter in NumpyDocString(inspect.getdoc(obj) or "")["Parameters"]
    }
    problems = [
        default_problem(name, documented[name], parameter.default)
        for name, parameter in signature_parameters(obj).items()
        if parameter.default is not inspect.Parameter.empty and name in documented
    ]
    problems = [problem for problem in problems if problem is not None]
    assert not problems, f"{path}:\n  " + "\n  ".join(problems)


def documented_attributes(cls: type) -> set[str]:
    return {attribute.name for attribute in NumpyDocString(cls.__doc__)["Attributes"]}


def public_fitted_attributes(estimator: PositiveMLPRegressor) -> set[str]:
    return {
        name
        for name in vars(estimator)
        if name.endswith("_") and not name.startswith("_")
    }


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_every_fitted_attribute_is_documented_and_every_documented_one_is_set() -> None:
    rng = np.random.RandomState(0)
    X = rng.uniform(0, 1, size=(40, 2))
    y = X.sum(axis=1)
    small = {"hidden_layer_sizes": (3,), "max_iter": 2, "random_state": 0}
    fits = [  # between them, every attribute that only some models have
        (PositiveMLPRegressor(solver="lbfgs", **small), X),
        (PositiveMLPRegressor(loss="quantile", quantile=[0.1, 0.9], **small), X),
        (
            PositiveMLPRegressor(
                output_activation="identity", output_constraint="penalty", **small
            ),
            pd.DataFrame(X, columns=["a", "b"]),
        ),
    ]
    seen = set().union(*(public_fitted_attributes(m.fit(X_, y)) for m, X_ in fits))
    documented = documented_attributes(PositiveMLPRegressor)
    assert seen - documented == set(), "fitted but not in the Attributes section"
    assert documented - seen == set(), "documented but set by none of these fits"


def test_mlpregressor_attributes_are_all_documented() -> None:
    """The drop-in promise: every fitted attribute MLPRegressor documents, we do too."""
    from sklearn.neural_network import MLPRegressor

    missing = documented_attributes(MLPRegressor) - documented_attributes(
        PositiveMLPRegressor
    )
    assert missing == set()
