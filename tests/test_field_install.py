"""The package as a shop gets it: built, checked, installed into a new project.

The ``field`` tests build the sdist and wheel from the committed tree (in an
isolated build, so the declared build requirements are proven), check them with
``twine check --strict``, install the wheel into a fresh virtualenv with nothing
but its declared dependencies, apply the README's "Installing into your shop"
blocks to a ``django-admin startproject`` project, and serve a tracked page from
it with ``runserver``. The README's blocks are found by their
``<!-- install: TARGET -->`` comments, so the docs and this test cannot drift; the
fast tests at the top fail on a README edit that breaks the markers.
"""

from __future__ import annotations

import ast
import fnmatch
import http.cookiejar
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from trove_classifiers import classifiers as KNOWN_CLASSIFIERS

import personalize

ROOT = Path(__file__).resolve().parent.parent
VERSION = personalize.__version__
WHEEL_NAME = f"django_personalize-{VERSION}-py3-none-any.whl"
SDIST_NAME = f"django_personalize-{VERSION}.tar.gz"

# What each README marker means to this test. "shell" is the build and install,
# which the test performs itself (the build with the suite's own interpreter, so
# the shop's virtualenv holds only the package and its dependencies).
APPENDED_TO = {
    "settings.py": "settings.py",
    "settings.py if SQLite": "settings.py",  # startproject's database is SQLite
    "urls.py": "urls.py",
}
TARGETS = {"shell", *APPENDED_TO}

# A desktop Chrome: bots (curl, python-urllib) are served but never tracked.
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@dataclass(frozen=True)
class InstallBlock:
    """One fenced block of the README's install section and where it goes."""

    target: str
    language: str
    code: str


_BLOCK = re.compile(
    r"<!-- install: (?P<target>[^>]*?) -->\n```(?P<language>\w+)\n(?P<code>.*?)\n```", re.S
)


def install_section(readme: str) -> str:
    """The text of the README's "Installing into your shop" section."""
    start = readme.index("## Installing into your shop\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def install_blocks(readme: str) -> list[InstallBlock]:
    """The marked blocks of the install section, in README order."""
    return [
        InstallBlock(m["target"], m["language"], m["code"] + "\n")
        for m in _BLOCK.finditer(install_section(readme))
    ]


def readme_blocks() -> list[InstallBlock]:
    return install_blocks((ROOT / "README.md").read_text())


def wheel_glob(blocks: list[InstallBlock]) -> str:
    """The wheel path pattern the README's shell block installs."""
    (shell,) = [b for b in blocks if b.target == "shell"]
    for line in shell.code.splitlines():
        words = shlex.split(line, comments=True)
        if "install" in words and any(w.endswith(".whl") for w in words):
            return next(w for w in words if w.endswith(".whl"))
    raise AssertionError(f"the README's shell block installs no wheel:\n{shell.code}")


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


# Fast checks of the README and the metadata: they run in every suite, in milliseconds.


def test_readme_install_blocks_are_marked_and_parse() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = install_blocks(readme)

    # Every marker is directly followed by its fenced block, each target once.
    assert install_section(readme).count("<!-- install:") == len(blocks)
    assert sorted(b.target for b in blocks) == sorted(TARGETS)
    for block in blocks:
        if block.target == "shell":
            assert block.language == "sh"
        else:
            assert block.language == "python"
            compile(block.code, f"README install block for {block.target}", "exec")


def test_readme_builds_the_wheel_it_installs() -> None:
    blocks = readme_blocks()
    (shell,) = [b for b in blocks if b.target == "shell"]

    assert "python -m build" in shell.code
    assert fnmatch.fnmatch(WHEEL_NAME, Path(wheel_glob(blocks)).name)
    assert "pip install django-personalize" not in (ROOT / "README.md").read_text()


def test_version_is_one_static_literal_with_a_changelog_entry() -> None:
    # setuptools reads `attr:` versions from the AST when it can; a computed
    # version would make every build import Django first.
    module = ast.parse((ROOT / "personalize" / "__init__.py").read_text())
    literals = [
        node.value.value
        for node in module.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
        and isinstance(node.value, ast.Constant)
    ]
    project = pyproject()["project"]
    assert isinstance(project, dict)

    assert literals == [VERSION]
    assert project["dynamic"] == ["version"]
    assert "version" not in project
    assert f"\n## [{VERSION}] - " in (ROOT / "CHANGELOG.md").read_text()


def test_classifiers_are_known_and_match_the_declared_versions() -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    classifiers: list[str] = project["classifiers"]
    django = SpecifierSet(
        next(d for d in project["dependencies"] if d.startswith("Django")).removeprefix("Django")
    )
    python = SpecifierSet(project["requires-python"])
    django_versions = [
        tuple(map(int, c.rsplit(" :: ", 1)[1].split("."))) for c in classifiers if "Django :: " in c
    ]
    python_minors = [
        int(c.rsplit(".", 1)[1]) for c in classifiers if re.fullmatch(r".*Python :: 3\.\d+", c)
    ]
    # Django's feature releases go x.0, x.1, x.2, then (x+1).0.
    major, minor = min(django_versions)
    before_oldest = f"{major - 1}.2.0" if minor == 0 else f"{major}.{minor - 1}.0"
    major, minor = max(django_versions)
    after_newest = f"{major + 1}.0.0" if minor == 2 else f"{major}.{minor + 1}.0"

    assert [c for c in classifiers if c not in KNOWN_CLASSIFIERS] == []
    assert django_versions and python_minors
    assert all(f"{a}.{b}.0" in django for a, b in django_versions)
    # The range holds no Django the classifiers (and so the test matrix) leave out.
    assert before_oldest not in django
    assert after_newest not in django
    assert all(f"3.{m}.0" in python for m in python_minors)
    assert f"3.{min(python_minors) - 1}.0" not in python


# The field install: the slow part (about a minute), done once per module.


def _clean_env() -> dict[str, str]:
    """The environment a shop's shell has: none of this suite's settings or coverage hooks."""
    dropped = ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {
        key: value
        for key, value in os.environ.items()
        if key not in dropped and not key.startswith(("COV_CORE_", "COVERAGE_", "PERSONALIZE_"))
    }


def run(args: list[str | Path], cwd: Path, timeout: float = 300) -> str:
    """Run a command; on failure the assertion shows its whole output."""
    command = [str(a) for a in args]
    result = subprocess.run(
        command,
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"`{shlex.join(command)}` exited {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result.stdout


@dataclass(frozen=True)
class Build:
    source: Path
    wheel: Path
    sdist: Path

    def app_files(self) -> set[str]:
        """Every file of the app in the source tree, as archive paths."""
        return {
            path.relative_to(self.source).as_posix()
            for path in (self.source / "personalize").rglob("*")
            if path.is_file()
        }


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """sdist and wheel of the tree git would commit, built in isolation."""
    source = tmp_path_factory.mktemp("source")
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT)
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # not a tracked file deleted in the work tree
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", dist, source], source)
    assert {p.name for p in dist.iterdir()} == {SDIST_NAME, WHEEL_NAME}
    return Build(source, dist / WHEEL_NAME, dist / SDIST_NAME)


@pytest.mark.field
def test_distributions_pass_twine_check(build: Build) -> None:
    output = run(
        [sys.executable, "-m", "twine", "check", "--strict", build.sdist, build.wheel], ROOT
    )

    assert output.count("PASSED") == 2


@pytest.mark.field
def test_wheel_holds_the_app_and_nothing_else(build: Build) -> None:
    with zipfile.ZipFile(build.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"django_personalize-{VERSION}.dist-info/METADATA").decode()
    app = {n for n in names if n.startswith("personalize/")}
    others = names - app

    assert app == build.app_files()
    assert {
        "personalize/py.typed",
        "personalize/static/personalize/runtime.js",
        "personalize/static/personalize/runtime.css",
        "personalize/templates/personalize/head.html",
        "personalize/templates/personalize/recommendations/widget.html",
        "personalize/migrations/__init__.py",
        "personalize/migrations/0001_initial.py",
    } <= app
    assert [n for n in names if "__pycache__" in n or n.endswith(".pyc")] == []
    assert {n.split("/")[0] for n in others} == {f"django_personalize-{VERSION}.dist-info"}
    assert f"django_personalize-{VERSION}.dist-info/licenses/LICENSE" in others
    assert "License-Expression: MIT" in metadata
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert not [r for r in requirements if "stubs" in r or "htmx" in r]
    assert 'Requires-Dist: django-oscar<4.3,>=4.2; extra == "oscar"' in requirements


@pytest.mark.field
def test_sdist_holds_the_app_licence_readme_and_changelog(build: Build) -> None:
    prefix = f"django_personalize-{VERSION}/"
    with tarfile.open(build.sdist) as sdist:
        names = {m.name.removeprefix(prefix) for m in sdist.getmembers() if m.isfile()}
    app = {n for n in names if n.startswith("personalize/")}

    assert app == build.app_files()
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "PKG-INFO"} <= names
    assert not [
        n
        for n in names
        if n.startswith(("tests/", "shop_demo/", "benchmarks/", "docs/", "templates/"))
    ]


@dataclass(frozen=True)
class Shop:
    project: Path
    python: Path  # the fresh virtualenv's interpreter


@pytest.fixture(scope="module")
def shop(build: Build, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A new project in a fresh virtualenv, set up by the README's install blocks."""
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", venv], venv)
    python = venv / "bin" / "python"
    blocks = readme_blocks()
    pattern = Path(wheel_glob(blocks)).name
    (wheel,) = [w for w in build.wheel.parent.iterdir() if fnmatch.fnmatch(w.name, pattern)]
    run([python, "-m", "pip", "install", "--no-input", wheel], venv)

    project = tmp_path_factory.mktemp("shop")
    run([venv / "bin" / "django-admin", "startproject", "shop", project], project)
    for block in blocks:
        if block.target == "shell":
            continue  # done above: the build and the wheel's install
        with (project / "shop" / APPENDED_TO[block.target]).open("a") as file:
            file.write(f"\n# From the README: {block.target}\n{block.code}")
    # A page of the shop's own using the runtime's tags, so a visit has a page to view.
    (project / "shop" / "pages.py").write_text(
        "from django.http import HttpResponse\n"
        "from django.template import engines\n\n"
        "HOME = engines['django'].from_string(\n"
        "    '{% load personalize %}<!doctype html><html><head><title>Shop</title>'\n"
        "    '{% personalize_head %}</head><body><h1>Shop</h1>{% personalize_overlays %}'\n"
        "    '</body></html>'\n"
        ")\n\n\n"
        "def home(request):\n"
        "    return HttpResponse(HOME.render({}, request))\n"
    )
    with (project / "shop" / "urls.py").open("a") as file:
        file.write("\nfrom shop.pages import home\n\nurlpatterns += [path('', home)]\n")
    yield Shop(project, python)
    shutil.rmtree(venv)  # 300 MB of NumPy and SciPy; pytest keeps three runs' temp dirs


@pytest.mark.field
def test_the_shop_runs_the_wheel_with_only_its_dependencies(shop: Shop) -> None:
    found = run(
        [
            shop.python,
            "-c",
            "import importlib.util, personalize; "
            "print(personalize.__file__); print(importlib.util.find_spec('django_stubs_ext'))",
        ],
        shop.project,
    ).split()

    assert "/site-packages/personalize/" in found[0]
    assert found[1] == "None"  # the app runs without the type checker's helpers
    run([shop.python, "-m", "pip", "check"], shop.project)


@pytest.fixture(scope="module")
def migrated_shop(shop: Shop) -> Shop:
    run([shop.python, "manage.py", "migrate", "--no-input"], shop.project)
    return shop


@pytest.mark.field
def test_the_shop_migrates_and_passes_its_checks(migrated_shop: Shop) -> None:
    shop = migrated_shop
    manage = [shop.python, "manage.py"]
    # No model change lacks a migration under a shop's settings either.
    run([*manage, "makemigrations", "--check", "--dry-run", "personalize"], shop.project)
    checks = run([*manage, "check", "--fail-level", "WARNING"], shop.project)

    assert "System check identified no issues (0 silenced)." in checks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(migrated_shop: Shop) -> Iterator[str]:
    """``manage.py runserver`` on a free port; its log is shown if it dies."""
    shop = migrated_shop
    port = _free_port()
    log_path = shop.project / "runserver.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(shop.python), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=shop.project,
            env=_clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"runserver exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"runserver is silent:\n{log_path.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.field
def test_the_shop_tracks_a_page_view(server: str, shop: Shop) -> None:
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    browser.addheaders = [("User-Agent", BROWSER_UA)]
    navigation = {"Accept": "text/html", "Sec-Fetch-Dest": "document"}

    def get(path: str, headers: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(server + path, headers=headers)
        try:
            with browser.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            log = (shop.project / "runserver.log").read_text()
            raise AssertionError(f"GET {path}: {error}\n--- runserver\n{log}") from error

    status, page = get("/", navigation)
    static_url = re.search(r'src="([^"]*runtime\.js)"', page)
    assert status == 200
    assert static_url is not None, page
    # runserver serves the wheel's static files (startproject sets DEBUG = True).
    status, runtime = get(static_url[1], {"Sec-Fetch-Dest": "script"})
    assert status == 200
    assert runtime == (ROOT / "personalize" / "static" / "personalize" / "runtime.js").read_text()

    status, body = get("/personalize/api/visitor/", {"Accept": "application/json"})
    visitor = json.loads(body)

    assert status == 200
    assert visitor["tracked"] is True
    assert visitor["is_new"] is True
    assert visitor["visit_count"] == 1
    assert visitor["attributes"]["pageviews_total"] == 1  # the page, not the script or the API
    assert visitor["attributes"]["landing_path"] == "/"
